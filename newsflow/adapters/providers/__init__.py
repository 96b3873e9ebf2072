"""Chat-completion providers for translation and impact analysis.

One client speaks the OpenAI chat-completions protocol, which most vendors and local servers
offer. Set ``NEWSFLOW_TRANSLATE_PROVIDER=openai`` (or ``NEWSFLOW_IMPACT_PROVIDER``) and the
matching ``*_BASE_URL``, ``*_MODEL`` and ``*_API_KEY``:

===================  ===========================================================  =========
Service              Base URL                                                     API key
===================  ===========================================================  =========
OpenAI               ``https://api.openai.com/v1`` (the default when empty)       required
Google Gemini        ``https://generativelanguage.googleapis.com/v1beta/openai``  required
xAI Grok             ``https://api.x.ai/v1``                                      required
DeepSeek             ``https://api.deepseek.com/v1``                              required
OpenRouter           ``https://openrouter.ai/api/v1``                             required
Ollama (local)       ``http://localhost:11434/v1``                                none
vLLM / llama.cpp     ``http://localhost:8000/v1`` (wherever the server listens)   optional
===================  ===========================================================  =========

The client POSTs ``{base_url}/chat/completions`` (trailing slashes and a pasted
``/chat/completions`` are tolerated), removes ``<think>`` reasoning blocks that local reasoning
models emit, and turns every failure into :class:`ProviderError` with a readable reason.
"""

from __future__ import annotations

from typing import Literal

from newsflow.adapters.providers._base import (
    ChatProvider,
    Completion,
    ProviderConfigError,
    ProviderError,
    ResponseSchema,
)
from newsflow.adapters.providers._openai import OpenAICompatible
from newsflow.settings import Settings

__all__ = [
    "DEFAULT_BASE_URL",
    "ChatProvider",
    "Completion",
    "OpenAICompatible",
    "ProviderConfigError",
    "ProviderError",
    "ResponseSchema",
    "impact_provider",
    "translation_provider",
]

#: Used when a provider is chosen but its base URL is left empty.
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _build(settings: Settings, purpose: Literal["translate", "impact"]) -> ChatProvider | None:
    kind = getattr(settings, f"{purpose}_provider")
    if kind == "none":
        return None
    env = f"NEWSFLOW_{purpose.upper()}"
    model: str = getattr(settings, f"{purpose}_model")
    if not model.strip():
        raise ProviderConfigError(
            f"{env}_PROVIDER is {kind!r} but {env}_MODEL is empty: name the model to use "
            "(e.g. gpt-4o-mini, gemini-2.0-flash, grok-3-mini, qwen2.5:7b)"
        )
    base_url: str = getattr(settings, f"{purpose}_base_url") or DEFAULT_BASE_URL
    try:
        return OpenAICompatible(
            base_url,
            model,
            getattr(settings, f"{purpose}_api_key"),
            timeout=settings.llm_timeout,
            retries=settings.llm_retries,
            backoff=settings.llm_backoff,
            max_retry_after=settings.llm_max_retry_after,
            purpose=purpose,
        )
    except ProviderError as exc:
        raise ProviderConfigError(f"{env}_BASE_URL: {exc.reason}") from None


def translation_provider(settings: Settings) -> ChatProvider | None:
    """The provider for translation, or None when ``translate_provider`` is ``none``.

    Raises:
        ProviderConfigError: a provider is chosen but the model or base URL is unusable.
    """
    return _build(settings, "translate")


def impact_provider(settings: Settings) -> ChatProvider | None:
    """The provider for impact analysis, or None when ``impact_provider`` is ``none``.

    Raises:
        ProviderConfigError: a provider is chosen but the model or base URL is unusable.
    """
    return _build(settings, "impact")
