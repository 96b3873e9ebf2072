"""What every chat provider offers, and what can go wrong with one.

Errors::

    ProviderError             a call failed; ``str(error)`` is a human-readable reason
     └─ ProviderConfigError   the settings cannot make a provider (raised at start-up)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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


@runtime_checkable
class ChatProvider(Protocol):
    """Anything that answers a list of chat messages with one text."""

    #: Short label stored on results for the audit trail (``openai``, ``gemini``, ``localhost:11434``).
    name: str
    #: Model the provider is asked to use.
    model: str

    async def complete(self, messages: list[dict[str, str]], *, json_mode: bool = False) -> str:
        """The assistant's answer to ``messages``.

        Args:
            messages: chat messages, each ``{"role": ..., "content": ...}``.
            json_mode: ask for a single JSON object (``response_format: json_object``).

        Raises:
            ProviderError: the call failed or the answer was empty; the message says why.
        """
        ...

    async def chat(
        self, messages: list[dict[str, str]], *, json_mode: bool = False
    ) -> Completion:
        """The answer to ``messages`` with the tokens it used and its latency.

        Raises:
            ProviderError: as :meth:`complete`.
        """
        ...
