"""How the reader words what it shows: source names, providers, failures, lengths, times.

Plain logic (no FastAPI, no MongoDB), unit-tested in ``tests/unit/test_reader_display.py``.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from urllib.parse import urlsplit

from newsflow.domain.article import Article

#: What a failing stage was doing, by the field it writes.
_DOING: dict[str, str] = {
    "fetch": "while fetching the page",
    "extraction": "while extracting the text",
    "translation": "while translating",
    "analysis": "while analyzing",
}

#: Provider names by the label a result stores (a known API host) or by the model's prefix.
_PROVIDER_BY_LABEL: dict[str, str] = {
    "gemini": "Gemini",
    "openai": "OpenAI",
    "grok": "Grok",
    "xai": "Grok",
    "deepseek": "DeepSeek",
    "anthropic": "Claude",
    "openrouter": "OpenRouter",
    "groq": "Groq",
    "mistral": "Mistral",
    "qwen": "Qwen",
    "dashscope": "Qwen",
    "api.openai.com": "OpenAI",
    "api.x.ai": "Grok",
    "api.deepseek.com": "DeepSeek",
    "generativelanguage.googleapis.com": "Gemini",
    "api.anthropic.com": "Claude",
    "openrouter.ai": "OpenRouter",
    "api.groq.com": "Groq",
    "api.mistral.ai": "Mistral",
    "dashscope.aliyuncs.com": "Qwen",
    "api.moonshot.cn": "Kimi",
}
_PROVIDER_BY_MODEL: tuple[tuple[str, str], ...] = (
    ("gemini", "Gemini"),
    ("gemma", "Gemma"),
    ("grok", "Grok"),
    ("gpt", "OpenAI"),
    ("o1", "OpenAI"),
    ("o3", "OpenAI"),
    ("o4", "OpenAI"),
    ("claude", "Claude"),
    ("deepseek", "DeepSeek"),
    ("qwen", "Qwen"),
    ("llama", "Llama"),
    ("mistral", "Mistral"),
    ("mixtral", "Mistral"),
    ("kimi", "Kimi"),
    ("moonshot", "Kimi"),
    ("glm", "GLM"),
)


def provider_name(provider: str | None, model: str | None) -> str:
    """A provider as people know it (Gemini, Grok, OpenAI...), never a host and port.

    The stored label names a known API host; else the model's family names it; else it is
    "a local model" (a loopback or private address) or "an OpenAI-compatible service".
    """
    label = (provider or "").strip().lower()
    if label in _PROVIDER_BY_LABEL:
        return _PROVIDER_BY_LABEL[label]
    family = (model or "").strip().lower().rsplit("/", 1)[-1]
    for prefix, name in _PROVIDER_BY_MODEL:
        if family.startswith(prefix):
            return name
    if label and "." not in label and ":" not in label and label != "localhost":
        return (provider or "").strip()  # a name already (a provider's own label)
    host = urlsplit(f"//{label}").hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "a local model" if host == "localhost" else "an OpenAI-compatible service"
    return (
        "a local model"
        if address.is_loopback or address.is_private
        else ("an OpenAI-compatible service")
    )


def failure_words(article: Article) -> str | None:
    """The failure in words for people: ``failed: HTTP 404 Not Found (while fetching the
    page)``; None when the article did not fail."""
    failure = article.failed
    if failure is None:
        return None
    doing = _DOING.get(failure.stage_name or "", "")
    reason = (failure.reason or "no reason given").strip()
    return f"failed: {reason}" + (f" ({doing})" if doing else "")


def _cjk(language: str | None) -> bool:
    return (language or "").lower().split("-")[0] in ("zh", "ja")


def length_words(count: int, language: str | None) -> str:
    """``1,234 words``, or ``1,234 characters`` for Chinese and Japanese (counted so)."""
    unit = "characters" if _cjk(language) else "words"
    if count == 1:
        unit = unit[:-1]
    return f"{count:,} {unit}"


def time_shown(article: Article) -> tuple[str, datetime | None]:
    """Which time a list row shows and what it is: ``("published", t)`` when the article's
    publication time is known, else ``("received", created_at)``."""
    if article.published is not None:
        return "published", article.event_time
    return "received", article.created_at


__all__ = ["failure_words", "length_words", "provider_name", "time_shown"]
