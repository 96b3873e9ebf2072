"""A client for any OpenAI-compatible ``/chat/completions`` endpoint, on plain httpx.

Retries with exponential backoff on 429 (honouring ``Retry-After``), 5xx, timeouts and broken
connections; any other 4xx fails at once. Errors are :class:`ProviderError` with a reason a
person can act on, which is stored on the article and shown to anonymous readers: it names
the provider by kind and host (``openai provider at api.x.ai: rate limited (HTTP 429 Too Many
Requests)``), never the URL's ``user:password@``, a key, or what the provider's body said.
Those details go to the log, with credentials masked (:mod:`newsflow.domain.redact`).
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import json
import logging
import math
import random
import re
import time
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import httpx
from pydantic import SecretStr

from newsflow import metrics
from newsflow.adapters.providers._base import Completion, ProviderError, ResponseSchema
from newsflow.domain.redact import mask_secrets, strip_userinfo

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

#: Tags of the reasoning some local models (DeepSeek-R1, Qwen3 on Ollama/vLLM) put before the
#: answer. Paired by a scan, not by ``<think>.*?</think>``: that pattern retried every unclosed
#: tag to the end of the answer (56 KB of ``<think>`` took 4 s).
_THINK_TAG = re.compile(r"<(/?)think>", re.IGNORECASE)

_BODY_SNIPPET = 300
#: The protocol this client speaks: what ``NEWSFLOW_*_PROVIDER`` calls it.
KIND = "openai"
#: ``finish_reason`` values repeated in a reason (anything else a provider says is logged).
_FINISH_REASONS = frozenset({"stop", "length", "content_filter", "tool_calls", "function_call"})
#: Largest HTTP body read from a provider. An answer is parsed (JSON, reasoning tags, the
#: caller's checks) on the worker's event loop: its size is what bounds that work. A chunk of
#: ``translate_chunk_chars`` translates to a few tens of kilobytes.
MAX_ANSWER_BYTES = 4 * 1024 * 1024


def normalize_base_url(base_url: str) -> str:
    """``base_url`` without trailing slashes or a pasted ``/chat/completions`` suffix.

    Raises:
        ProviderError: the URL is not an absolute http(s) URL.
    """
    url = base_url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        url = url[: -len("/chat/completions")].rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        shown = mask_secrets(strip_userinfo(base_url.strip()) or "")
        raise ProviderError(
            f"base URL {shown!r} is not an http(s) URL such as https://api.openai.com/v1"
        )
    return url


def host_of(base_url: str) -> str:
    """``host`` or ``host:port`` of a base URL (what reasons name a provider by)."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def label_for(base_url: str) -> str:
    """The provider label stored on results: ``gemini`` for Google's endpoint, else host:port."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host in _KNOWN_HOSTS:
        return _KNOWN_HOSTS[host]
    return f"{host}:{parts.port}" if parts.port else host


def _status_class(status: int) -> str:
    """The ``status`` label of an HTTP error answer (see :data:`metrics.LLM_STATUSES`)."""
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "client_error"


def strip_reasoning(text: str) -> str:
    """The answer without ``<think>...</think>`` blocks.

    Raises:
        ProviderError: the answer is nothing but reasoning that never closed (cut off).
    """
    kept: list[str] = []
    position = 0
    opened: int | None = None  # start of the block being read
    for tag in _THINK_TAG.finditer(text):
        if not tag.group(1):
            if opened is None:
                opened = tag.start()
        elif opened is not None:
            kept.append(text[position:opened])
            position, opened = tag.end(), None
    if opened is None:
        kept.append(text[position:])
        return "".join(kept).strip()
    # An unclosed block runs to the end: the model was cut off while still reasoning.
    kept.append(text[position:opened])
    cleaned = "".join(kept)
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
        purpose: what the calls are for (``translate``, ``impact``), a label of the metrics.

    Structured output: a call with a ``schema`` asks for ``response_format: json_schema``
    (strict). An endpoint that refuses it (HTTP 400 naming ``response_format`` or
    ``json_schema``: older vLLM, Ollama before 0.5, some gateways) is asked again at once in
    JSON mode (``json_object``), and this instance remembers to use JSON mode from then on.
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
        purpose: str = "chat",
    ) -> None:
        if not model.strip():
            raise ProviderError("no model name given")
        url = normalize_base_url(base_url)
        parts = urlsplit(url)
        # Credentials in the URL are sent as Basic auth, as httpx does with them, but kept out
        # of the URL: httpx logs every request's URL, and reasons never show them.
        self._auth: httpx.BasicAuth | None = None
        self._passwords: list[str] = []
        if parts.username is not None:
            password = unquote(parts.password or "")
            self._auth = httpx.BasicAuth(unquote(parts.username), password)
            self._passwords = [password, parts.password or ""]
        self.base_url = strip_userinfo(url) or url
        self.model = model.strip()
        self.name = name or label_for(self.base_url)
        #: How stored reasons name this provider: kind and host, nothing else.
        self.where = f"{KIND} provider at {host_of(self.base_url)}"
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.temperature = temperature
        self._extra_headers = dict(extra_headers or {})
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.purpose = purpose
        metrics.init_llm(purpose, self.name, self.model)
        #: Whether the endpoint takes ``response_format: json_schema`` (None: not tried yet;
        #: False after it refused it once: JSON mode from then on).
        self.json_schema_supported: bool | None = None
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
                auth=self._auth,
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

    def _count(
        self, status: str, seconds: float | None = None, tokens_in: int = 0, tokens_out: int = 0
    ) -> None:
        metrics.llm_request(
            self.purpose, self.name, self.model, status, tokens_in, tokens_out, seconds
        )

    def _response_format(
        self, json_mode: bool, schema: ResponseSchema | None
    ) -> dict[str, Any] | None:
        if schema is not None and self.json_schema_supported is not False:
            return schema.response_format()
        if json_mode or schema is not None:
            return {"type": "json_object"}
        return None

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        json_mode: bool = False,
        schema: ResponseSchema | None = None,
    ) -> str:
        """The assistant's answer to ``messages`` (reasoning blocks removed).

        ``schema`` asks for structured output, falling back to JSON mode where the endpoint
        refuses it (see the class docstring).

        Raises:
            ProviderError: after the retries, or at once for a permanent failure.
        """
        return (await self.chat(messages, json_mode=json_mode, schema=schema)).text

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        json_mode: bool = False,
        schema: ResponseSchema | None = None,
    ) -> Completion:
        """The answer to ``messages`` with the ``usage`` the provider reported and the latency
        (from the first attempt, retries included). ``schema``: as for :meth:`complete`.

        Raises:
            ProviderError: after the retries, or at once for a permanent failure.
        """
        first = time.monotonic()
        payload: dict[str, Any] = {"model": self.model, "messages": messages}
        response_format = self._response_format(json_mode, schema)
        if response_format is not None:
            payload["response_format"] = response_format
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        url = f"{self.base_url}/chat/completions"
        attempts = self.retries + 1
        attempt = 0
        while attempt < attempts:
            attempt += 1
            delay = self.backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
            started = time.monotonic()
            try:
                response, body = await self._post(url, payload)
            except httpx.TimeoutException as exc:
                self._count("timeout", time.monotonic() - started)
                error = ProviderError(
                    f"{self.where}: no answer within {self.timeout:g} s ({type(exc).__name__})",
                    retryable=True,
                )
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                self._count("network")
                self._log_detail("cannot connect", exc)
                reason = (
                    "cannot connect" if isinstance(exc, httpx.ConnectError) else "connection broken"
                )
                error = ProviderError(
                    f"{self.where}: {reason} ({type(exc).__name__})", retryable=True
                )
            except httpx.HTTPError as exc:
                self._count("network")
                self._log_detail("request failed", exc)
                raise ProviderError(
                    f"{self.where}: the request failed ({type(exc).__name__})"
                ) from None
            else:
                seconds = time.monotonic() - started
                self.calls += 1
                if body is None:
                    self._count("bad_answer", seconds)
                    raise ProviderError(
                        f"{self.where}: the answer is larger than {MAX_ANSWER_BYTES} bytes"
                    )
                if response.status_code == 200:
                    if payload.get("response_format", {}).get("type") == "json_schema":
                        self.json_schema_supported = True
                    return self._counted_answer(response, body, seconds, time.monotonic() - first)
                if self._refuses_schema(response.status_code, body, payload):
                    # Not a failed attempt: the endpoint cannot do structured output. Ask again
                    # in JSON mode, now and for every later call of this instance.
                    self._count("client_error", seconds)
                    self.json_schema_supported = False
                    payload["response_format"] = {"type": "json_object"}
                    log.info("%s: no structured output (json_schema); using JSON mode", self.where)
                    attempt -= 1
                    continue
                error = self._status_error(response, body)
                self._count(_status_class(response.status_code), seconds)
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
                self.where,
                attempt,
                attempts,
                error.reason,
                delay,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _refuses_schema(self, status: int, raw: bytes, payload: dict[str, Any]) -> bool:
        """Whether a 400 says the endpoint does not take the json_schema we sent."""
        sent = payload.get("response_format")
        if status != 400 or not isinstance(sent, dict) or sent.get("type") != "json_schema":
            return False
        text = raw[:4096].decode("utf-8", "replace").lower()
        return "response_format" in text or "json_schema" in text

    def _counted_answer(
        self, response: httpx.Response, raw: bytes, seconds: float, latency: float
    ) -> Completion:
        """:meth:`_answer` as a :class:`Completion`, counted in the metrics with the tokens it
        reported (``seconds``: this attempt; ``latency``: since the first attempt)."""
        before = (self.prompt_tokens, self.completion_tokens)
        try:
            text, prompt_tokens, completion_tokens = self._answer(response, raw)
        except ProviderError as exc:
            exc.prompt_tokens = self.prompt_tokens - before[0]
            exc.completion_tokens = self.completion_tokens - before[1]
            self._count("bad_answer", seconds, exc.prompt_tokens, exc.completion_tokens)
            raise
        self._count("ok", seconds, prompt_tokens, completion_tokens)
        return Completion(text, prompt_tokens, completion_tokens, latency)

    async def _post(self, url: str, payload: dict[str, Any]) -> tuple[httpx.Response, bytes | None]:
        """POST and read the body up to :data:`MAX_ANSWER_BYTES` (None: it is larger)."""
        client = self._http()
        response = await client.send(client.build_request("POST", url, json=payload), stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                return response, None
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    return response, None
                chunks.append(chunk)
            return response, b"".join(chunks)
        finally:
            await response.aclose()

    # --- answers ---------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        """``text`` with this provider's key and any credential masked (for the log)."""
        return mask_secrets(text, [self._key.get_secret_value(), *self._passwords])

    def _log_detail(self, what: str, detail: object) -> None:
        """What a provider or the network said, for the operator's log (masked)."""
        log.warning("%s: %s: %s", self.where, what, self._redact(str(detail))[:1000])

    def _body_message(self, raw: bytes) -> str:
        """The provider's own error message (OpenAI, Gemini and Ollama shapes), shortened."""
        try:
            body: Any = json.loads(raw)
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
            message = raw.decode("utf-8", "replace")
        text = " ".join(str(message).split())
        if len(text) > _BODY_SNIPPET:
            text = text[:_BODY_SNIPPET] + "..."
        return self._redact(text)

    def _status_error(self, response: httpx.Response, raw: bytes) -> ProviderError:
        status = response.status_code
        if detail := self._body_message(raw):
            self._log_detail(f"HTTP {status} from {self.base_url}/chat/completions", detail)
        try:
            phrase = f"HTTP {status} {http.HTTPStatus(status).phrase}"
        except ValueError:  # the provider's own reason phrase is its text: not repeated
            phrase = f"HTTP {status}"
        if status == 401:
            hint = (
                "the API key is missing"
                if not self._key.get_secret_value() and self._auth is None
                else "the API key was refused"
            )
            return ProviderError(f"{self.where}: {hint} ({phrase})")
        if status == 403:
            return ProviderError(f"{self.where}: access denied ({phrase})")
        if status == 404:
            return ProviderError(
                f"{self.where}: not found ({phrase}); check the base URL and the model "
                f"{self.model!r}"
            )
        if status == 429:
            return ProviderError(f"{self.where}: rate limited ({phrase})", retryable=True)
        if status >= 500:
            return ProviderError(f"{self.where}: server error ({phrase})", retryable=True)
        return ProviderError(f"{self.where}: request rejected ({phrase})")

    def _answer(self, response: httpx.Response, raw: bytes) -> tuple[str, int, int]:  # noqa: ARG002 - kept for callers
        """The answer's text and its prompt and completion tokens (0 when not reported)."""
        try:
            body: Any = json.loads(raw)
        except ValueError:
            self._log_detail(
                "the answer is not JSON", raw[:_BODY_SNIPPET].decode("utf-8", "replace")
            )
            raise ProviderError(f"{self.where}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise ProviderError(f"{self.where}: the answer is not a JSON object")
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
            if "error" in body:
                self._log_detail("an answer without choices", self._body_message(raw))
            raise ProviderError(f"{self.where}: the answer has no choices")
        choice = choices[0]
        finish = choice.get("finish_reason")
        message: dict[str, Any] = m if isinstance(m := choice.get("message"), dict) else {}
        content = message.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(
                str(part.get("text", "")) for part in content if isinstance(part, dict)
            )
        if not isinstance(content, str) or not content.strip():
            refusal = message.get("refusal")
            if refusal:
                self._log_detail("the model refused", str(refusal)[:200])
                raise ProviderError(f"{self.where}: the model refused to answer")
            shown = finish if finish in _FINISH_REASONS else ("none" if not finish else "other")
            raise ProviderError(f"{self.where}: the answer has no content (finish_reason={shown})")
        if finish == "length":
            raise ProviderError(
                f"{self.where}: the answer was cut off at the model's token limit "
                "(finish_reason=length)"
            )
        try:
            answer = strip_reasoning(content)
        except ProviderError as exc:
            raise ProviderError(f"{self.where}: {exc.reason}") from None
        if not answer:
            raise ProviderError(f"{self.where}: the answer is empty once reasoning is removed")
        return answer, prompt_tokens, completion_tokens


#: The most tokens one call is believed to have used: a larger reported count (1e19) is a
#: broken gateway's, and would not even fit MongoDB's 64-bit counters.
MAX_CALL_TOKENS = 10_000_000


def _count(value: object) -> int:
    """A token count from a provider's ``usage`` (a missing or odd value counts 0; an absurd
    one :data:`MAX_CALL_TOKENS`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return min(MAX_CALL_TOKENS, max(0, int(value)))
