"""What every chat provider offers, and what can go wrong with one.

Errors::

    ProviderError             a call failed; ``str(error)`` is a human-readable reason
     └─ ProviderConfigError   the settings cannot make a provider (raised at start-up)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from newsflow.domain.usage import CallUsage


class ProviderError(Exception):
    """A chat-completions call failed. The message is meant for people and never holds a key.

    Args:
        reason: what went wrong, in plain words.
        retryable: whether the same call may succeed later (rate limit, server error,
            timeout) as opposed to a permanent refusal (bad key, bad request, bad answer).
    """

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        #: Tokens the provider reported for an answer that was then refused (cut off, empty,
        #: unreadable): spent all the same, so the caller counts them against its budget.
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def spent(self) -> CallUsage | None:
        """The call behind an answer refused after it was paid for, None when the provider
        reported no tokens for it (or never answered)."""
        if not (self.prompt_tokens or self.completion_tokens):
            return None
        return CallUsage(prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens)


class ProviderConfigError(ProviderError, ValueError):
    """The settings name a provider but leave out something it needs."""


@dataclass(frozen=True)
class Completion:
    """An answer and what it used, as the provider reported it."""

    text: str
    #: Tokens the provider counted (``usage`` of the response); 0 when it reported none.
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Seconds from the first attempt to the answer, retries included.
    latency: float = 0.0


#: JSON Schema keywords kept in a strict response schema. OpenAI's strict structured outputs
#: refuse some validation keywords on some models; the answer is validated by pydantic anyway.
_STRICT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "const",
        "items",
        "anyOf",
        "description",
        "$defs",
        "$ref",
    }
)


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` in the shape strict structured outputs accept: every object closed
    (``additionalProperties: false``) with every property required, and only the keywords of
    :data:`_STRICT_KEYWORDS` (defaults, titles and bounds are dropped)."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key not in _STRICT_KEYWORDS:
                continue
            if key in ("properties", "$defs"):
                out[key] = {name: walk(sub) for name, sub in value.items()}
            else:
                out[key] = walk(value)
        if out.get("type") == "object" or "properties" in out:
            out["additionalProperties"] = False
            out["required"] = list(out.get("properties", {}))
        return out

    result: dict[str, Any] = walk(schema)
    return result


@dataclass(frozen=True)
class ResponseSchema:
    """The JSON schema an answer must follow (OpenAI's ``response_format: json_schema``).

    ``ResponseSchema.of(Impact)`` derives it from a pydantic model (see :func:`strict_schema`).
    """

    name: str
    schema: dict[str, Any] = field(hash=False)
    strict: bool = True

    @classmethod
    def of(cls, model: type[BaseModel], name: str | None = None) -> ResponseSchema:
        return cls(name or model.__name__.lower(), strict_schema(model.model_json_schema()))

    def response_format(self) -> dict[str, Any]:
        """The ``response_format`` field of a chat-completions request."""
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "schema": self.schema, "strict": self.strict},
        }


@runtime_checkable
class ChatProvider(Protocol):
    """Anything that answers a list of chat messages with one text."""

    #: Short label stored on results for the audit trail (``openai``, ``gemini``, ``localhost:11434``).
    name: str
    #: Model the provider is asked to use.
    model: str

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        json_mode: bool = False,
        schema: ResponseSchema | None = None,
    ) -> str:
        """The assistant's answer to ``messages``.

        Args:
            messages: chat messages, each ``{"role": ..., "content": ...}``.
            json_mode: ask for a single JSON object (``response_format: json_object``).
            schema: ask for a JSON object following this schema (``json_schema``) where the
                endpoint supports it, else for JSON mode.

        Raises:
            ProviderError: the call failed or the answer was empty; the message says why.
        """
        ...

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        json_mode: bool = False,
        schema: ResponseSchema | None = None,
    ) -> Completion:
        """The answer to ``messages`` (asked as for :meth:`complete`) with the tokens it used
        and its latency.

        Raises:
            ProviderError: as :meth:`complete`.
        """
        ...
