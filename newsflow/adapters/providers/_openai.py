"""A client for any OpenAI-compatible ``/chat/completions`` endpoint, on plain httpx.

Retries with exponential backoff on 429 (honouring ``Retry-After``), 5xx, timeouts and broken
connections; any other 4xx fails at once. Errors are :class:`ProviderError` with a reason a
person can act on; the API key never appears in a message or a log line.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from newsflow.adapters.providers._base import Completion, ProviderError

log = logging.getLogger(__name__)

#: Known hosts and the label stored on results (anything else is labelled by host:port).
_KNOWN_HOSTS = {
    "api.openai.com": "openai",
    "generativelanguage.googleapis.com": "gemini",
    "api.x.ai": "xai",
    "api.deepseek.com": "deepseek",
    "openrouter.ai": "openrouter",
    "api.mistral.ai": "mistral",
    "api.groq.com": "groq",
}

#: Reasoning some local models (DeepSeek-R1, Qwen3 on Ollama/vLLM) put before the answer.
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)

_BODY_SNIPPET = 300


def normalize_base_url(base_url: str) -> str:
    """``base_url`` without trailing slashes or a pasted ``/chat/completions`` suffix.

    Raises:
        ProviderError: the URL is not an absolute http(s) URL.
    """
    url = base_url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        url = url[: -len("/chat/completions")].rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(
            f"base URL {base_url!r} is not an http(s) URL such as https://api.openai.com/v1"
        )
    return url


def label_for(base_url: str) -> str:
    """The provider label stored on results: ``gemini`` for Google's endpoint, else host:port."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host in _KNOWN_HOSTS:
        return _KNOWN_HOSTS[host]
    return f"{host}:{parts.port}" if parts.port else host


def strip_reasoning(text: str) -> str:
    """The answer without ``<think>...</think>`` blocks.

    Raises:
        ProviderError: the answer is nothing but reasoning that never closed (cut off).
    """
    cleaned = _THINK_BLOCK.sub("", text)
    opened = cleaned.lower().find("<think>")
    if opened != -1:
        # An unclosed block runs to the end: the model was cut off while still reasoning.
        cleaned = cleaned[:opened]
        if not cleaned.strip():
            raise ProviderError("the answer holds only unfinished reasoning (<think> never closed)")
    return cleaned.strip()


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class OpenAICompatible:
    """Chat completions from OpenAI, Gemini, xAI, DeepSeek, Ollama, vLLM and the like.

    Args:
        base_url: endpoint root, e.g. ``https://api.openai.com/v1`` (see the package docstring).
        model: model name sent with every request.
        api_key: sent as ``Authorization: Bearer``; empty sends no header (local servers).
        name: label stored on results; defaults to one derived from the host.
        timeout: seconds for one HTTP attempt (connect at most 10 s of it).
        retries: extra attempts after a retryable failure.
        backoff: first backoff delay in seconds, doubled each attempt (with jitter).
        max_retry_after: a 429 asking to wait longer than this fails at once.
        temperature: sent only when set (some reasoning models refuse any value but 1).
        extra_headers: added to every request (e.g. OpenRouter's ``HTTP-Referer``).
        transport: httpx transport, for tests.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | SecretStr = "",
        *,
        name: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 1.0,
        max_retry_after: float = 30.0,
        temperature: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not model.strip():
            raise ProviderError("no model name given")
        self.base_url = normalize_base_url(base_url)
        self.model = model.strip()
        self.name = name or label_for(self.base_url)
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.temperature = temperature
        self._extra_headers = dict(extra_headers or {})
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        #: Running totals, for benchmarks and logs.
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def __repr__(self) -> str:
        return f"OpenAICompatible(name={self.name!r}, base_url={self.base_url!r}, model={self.model!r})"

    # --- lifecycle -------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        # Created on first use so the client belongs to the loop that runs the calls.
        if self._client is None:
            headers = {"User-Agent": "Newsflow/0.1", **self._extra_headers}
            key = self._key.get_secret_value()
            if key:
                headers["Authorization"] = f"Bearer {key}"
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                headers=headers,
                transport=self._transport,
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the pooled connections (call on worker shutdown)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- calls -----------------------------------------------------------------------------

    async def complete(self, messages: list[dict[str, str]], *, json_mode: bool = False) -> str:
        """The assistant's answer to ``messages`` (reasoning blocks removed).

        Raises:
            ProviderError: after the retries, or at once for a permanent failure.
        """
        return (await self.chat(messages, json_mode=json_mode)).text

    async def chat(
        self, messages: list[dict[str, str]], *, json_mode: bool = False
    ) -> Completion:
        """The answer to ``messages`` with the ``usage`` the provider reported and the latency.

        Raises:
            ProviderError: after the retries, or at once for a permanent failure.
        """
        started = time.monotonic()
        payload: dict[str, Any] = {"model": self.model, "messages": messages}
        if json_mode:
            payload["response_format"] = {"type": "json_object"}
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        url = f"{self.base_url}/chat/completions"
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            delay = self.backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
            try:
                response = await self._http().post(url, json=payload)
            except httpx.TimeoutException as exc:
                error = ProviderError(
                    f"no answer from {self.name} within {self.timeout:g} s ({type(exc).__name__})",
                    retryable=True,
                )
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                error = ProviderError(
                    f"cannot reach {self.base_url}: {type(exc).__name__}: "
                    f"{self._redact(str(exc)) or 'connection failed'}",
                    retryable=True,
                )
            except httpx.HTTPError as exc:
                raise ProviderError(
                    f"request to {self.base_url} failed: {type(exc).__name__}: "
                    f"{self._redact(str(exc))}"
                ) from None
            else:
                self.calls += 1
                if response.status_code == 200:
                    text, prompt_tokens, completion_tokens = self._answer(response)
                    return Completion(
                        text, prompt_tokens, completion_tokens, time.monotonic() - started
                    )
                error = self._status_error(response)
                if response.status_code == 429:
                    asked = retry_after_seconds(response.headers.get("Retry-After"))
                    if asked is not None and asked > self.max_retry_after:
                        raise ProviderError(
                            f"{error.reason}; the provider asks to wait {asked:.0f} s, "
                            f"longer than the {self.max_retry_after:g} s limit"
                        )
                    if asked is not None:
                        delay = max(asked, 0.05)
            if not error.retryable or attempt == attempts:
                if error.retryable and attempts > 1:
                    raise ProviderError(
                        f"{error.reason} (gave up after {attempts} attempts)", retryable=True
                    )
                raise error
            log.warning(
                "%s: attempt %d/%d failed (%s); retrying in %.2f s",
                self.name,
                attempt,
                attempts,
                error.reason,
                delay,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- answers ---------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        key = self._key.get_secret_value()
        if key and len(key) >= 4:
            text = text.replace(key, "***")
        return text

    def _body_message(self, response: httpx.Response) -> str:
        """The provider's own error message (OpenAI, Gemini and Ollama shapes), shortened."""
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if isinstance(body, list) and body:  # Gemini wraps errors in a list
            body = body[0]
        message: Any = None
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):
                message = err.get("message") or err.get("code")
            elif isinstance(err, str):
                message = err
            message = message or body.get("message") or body.get("detail")
        if message is None:
            message = response.text
        text = " ".join(str(message).split())
        if len(text) > _BODY_SNIPPET:
            text = text[:_BODY_SNIPPET] + "..."
        return self._redact(text)

    def _status_error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        detail = self._body_message(response)
        suffix = f": {detail}" if detail else ""
        phrase = f"HTTP {status} {response.reason_phrase}".strip()
        if status == 401:
            hint = (
                "the API key is missing"
                if not self._key.get_secret_value()
                else ("the API key was refused")
            )
            return ProviderError(f"{self.name}: {hint} ({phrase}){suffix}")
        if status == 403:
            return ProviderError(f"{self.name}: access denied ({phrase}){suffix}")
        if status == 404:
            return ProviderError(
                f"{self.name}: not found ({phrase}); check the base URL {self.base_url} "
                f"and the model {self.model!r}{suffix}"
            )
        if status == 429:
            return ProviderError(f"{self.name}: rate limited ({phrase}){suffix}", retryable=True)
        if status >= 500:
            return ProviderError(f"{self.name}: server error ({phrase}){suffix}", retryable=True)
        return ProviderError(f"{self.name}: request rejected ({phrase}){suffix}")

    def _answer(self, response: httpx.Response) -> tuple[str, int, int]:
        """The answer's text and its prompt and completion tokens (0 when not reported)."""
        try:
            body: Any = response.json()
        except ValueError:
            raise ProviderError(
                f"{self.name}: the answer is not JSON: {response.text[:_BODY_SNIPPET]!r}"
            ) from None
        if not isinstance(body, dict):
            raise ProviderError(f"{self.name}: the answer is not a JSON object")
        usage = body.get("usage")
        prompt_tokens = completion_tokens = 0
        if isinstance(usage, dict):
            prompt_tokens = _count(usage.get("prompt_tokens"))
            completion_tokens = _count(usage.get("completion_tokens"))
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            # Some gateways answer 200 with an error object instead of choices.
            detail = self._body_message(response) if "error" in body else ""
            raise ProviderError(
                f"{self.name}: the answer has no choices" + (f": {detail}" if detail else "")
            )
        choice = choices[0]
        finish = choice.get("finish_reason")
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        content = message.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(
                str(part.get("text", "")) for part in content if isinstance(part, dict)
            )
        if not isinstance(content, str) or not content.strip():
            refusal = message.get("refusal")
            if refusal:
                raise ProviderError(f"{self.name}: the model refused: {str(refusal)[:200]}")
            raise ProviderError(
                f"{self.name}: the answer has no content (finish_reason={finish or 'none'})"
            )
        if finish == "length":
            raise ProviderError(
                f"{self.name}: the answer was cut off at the model's token limit "
                "(finish_reason=length)"
            )
        answer = strip_reasoning(content)
        if not answer:
            raise ProviderError(f"{self.name}: the answer is empty once reasoning is removed")
        return answer, prompt_tokens, completion_tokens


def _count(value: object) -> int:
    """A token count from a provider's ``usage`` (a missing or odd value counts 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(0, int(value))
