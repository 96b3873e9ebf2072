"""Keeping credentials out of text meant for people: stored reasons, pages, log lines.

Two rules (see ``docs/security.md``):

- what is *stored* on an article and shown to anonymous readers says what kind of failure it
  was and names a host at most: never an exception's text, a provider's error body, a URL's
  ``user:password@``, a key or a query string;
- what is *logged* may carry details, through :func:`mask_secrets`: user-info in URLs,
  ``Bearer``/``Basic`` credentials, key-like query parameters, the token in a Telegram,
  Discord or Slack webhook URL's path, API keys of the usual shapes and the configured secret
  values become ``***``. :func:`install_log_masking` applies it
  to every line a process logs, tracebacks included.

Every pattern here is linear on any text (``tests/unit/test_regex_audit.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

#: ``scheme://user:password@`` (never started inside a scheme: linear on long words).
_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*+://)[^/?#\s@'\"<>]++@")
#: ``Bearer xxx`` / ``Basic xxx`` credentials (in headers, reprs, messages).
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic)(\s++)[A-Za-z0-9._~+/=-]{8,}+", re.IGNORECASE)
#: Query or form parameters that carry credentials.
_SECRET_PARAMETER = re.compile(
    r"([?&;](?:api[_-]?key|key|token|access[_-]?token|auth|password|passwd|pwd|secret|"
    r"client[_-]?secret|signature|sig)=)[^&#\s'\"<>]++",
    re.IGNORECASE,
)
#: Chat webhook URLs whose path is the credential: Telegram ``/bot<id>:<token>``, Discord's and
#: Slack's webhook paths (the id stays, the token goes).
_WEBHOOK_PATH = re.compile(
    r"(/bot\d++:)[A-Za-z0-9_-]++"
    r"|(/api/webhooks/\d++/)[A-Za-z0-9._-]++"
    r"|(hooks\.slack\.com/services/)[A-Za-z0-9/_-]++"
)
#: API keys of the usual shapes: OpenAI/DeepSeek ``sk-``, xAI ``xai-``, Groq ``gsk_``,
#: Google ``AIza``.
_API_KEY = re.compile(r"\b(?:sk-|xai-|gsk_|AIza)[A-Za-z0-9_-]{16,}+")


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials replaced by ``***`` (see the module docstring).

    ``secrets`` are values to mask wherever they appear (configured keys and tokens); values
    shorter than 4 characters are ignored (masking them would garble ordinary words).
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    text = _AUTH_SCHEME.sub(rf"\1\2{MASK}", text)
    text = _SECRET_PARAMETER.sub(rf"\1{MASK}", text)
    text = _WEBHOOK_PATH.sub(_keep_prefix, text)
    return _API_KEY.sub(MASK, text)


def _keep_prefix(match: re.Match[str]) -> str:
    return next(g for g in match.groups() if g is not None) + MASK


def strip_userinfo(url: str | None) -> str | None:
    """``url`` without its ``user:password@`` part (unchanged if it has none or is no URL)."""
    if not url or "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_secrets(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def public_error(exc: BaseException) -> str:
    """What may be stored and shown of an exception: its kind, not its text.

    Exceptions whose class sets ``public_message = True`` (their text is written by us, such
    as a handler timeout) are shown with their message.
    """
    if getattr(exc, "public_message", False):
        return f"{type(exc).__name__}: {mask_secrets(str(exc))}"
    return type(exc).__name__


class MaskingFormatter(logging.Formatter):
    """Formats with the formatter it wraps, then masks credentials in the whole line."""

    def __init__(self, inner: logging.Formatter | None, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(self.inner.format(record), self.secrets)


def install_log_masking(
    secrets: Iterable[str] = (),
    loggers: Iterable[str] = ("", "uvicorn", "uvicorn.error", "uvicorn.access"),
    handlers: Iterable[logging.Handler] | None = None,
) -> None:
    """Mask credentials in everything the handlers of ``loggers`` write (idempotent).

    Call it once logging is configured (``logging.basicConfig``, uvicorn's config): it wraps
    the formatter of each handler those loggers have then (or of ``handlers`` if given).
    """
    values = list(secrets)
    if handlers is None:
        handlers = [h for name in loggers for h in logging.getLogger(name).handlers]
    for handler in handlers:
        current = handler.formatter
        if isinstance(current, MaskingFormatter):
            current.secrets = sorted({*current.secrets, *(v for v in values if v)})
            continue
        handler.setFormatter(MaskingFormatter(current, values))
