"""How every Newsflow process logs: one format, context bound, credentials masked in every line.

``NEWSFLOW_LOG_FORMAT=text`` (the default) writes one readable line per record,
``json`` one JSON object per line::

    {"timestamp": "2026-11-30T10:00:00.123+00:00", "level": "WARNING", "logger": "...",
     "message": "...", "service": "fetcher", "stage": "fetcher", "article_id": "1a2b3c...",
     "entry_id": "1764496800123-0"}

``service`` is the process (set once at start), ``stage``, ``article_id`` and ``entry_id``
are bound by the worker runtime around each message (:func:`bind`, context variables: every
message handled at once keeps its own). ``NEWSFLOW_LOG_LEVEL`` sets the level. Whatever the
format, credentials (user-info in URLs, bearer tokens, key-like parameters, API keys, the
configured keys and token) are masked in the whole formatted line, tracebacks included.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator

from newsflow.domain.redact import install_log_masking
from newsflow.domain.urls import short_id
from newsflow.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The fields bound by :func:`bind`, in the order the text format shows them.
FIELDS = ("service", "stage", "article_id", "entry_id")
_context: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"newsflow_log_{name}", default=None) for name in FIELDS
}


@contextlib.contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    """Attach ``fields`` (see :data:`FIELDS`) to every record logged inside the block."""
    tokens = [(_context[k], _context[k].set(v)) for k, v in fields.items() if k in _context]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def set_service(name: str) -> None:
    """Name the process in every record from now on (workers and the reader call it once)."""
    _context["service"].set(name)


def bound() -> dict[str, str]:
    """The fields bound here and now."""
    return {k: v for k, var in _context.items() if (v := var.get()) is not None}


class ContextFilter(logging.Filter):
    """Copies the bound fields onto each record (as attributes the formatters read)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in bound().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class TextFormatter(logging.Formatter):
    """:data:`FORMAT`, then the bound fields: ``... [fetcher article=1a2b3c4d5e entry=...]``."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        parts = []
        if service := getattr(record, "service", None):
            parts.append(str(service))
        stage = getattr(record, "stage", None)
        if stage and stage != service:
            parts.append(f"stage={stage}")
        if aid := getattr(record, "article_id", None):
            parts.append(f"article={short_id(str(aid))}")
        if entry := getattr(record, "entry_id", None):
            parts.append(f"entry={entry}")
        if not parts:
            return line
        head, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{head} [{' '.join(parts)}]{newline}{rest}"


def json_formatter() -> logging.Formatter:
    """One JSON object per record (python-json-logger), with the level and logger named."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
        json_ensure_ascii=False,
    )


def secret_values(settings: Settings) -> list[str]:
    """The configured secrets, masked by value in logs whatever their shape."""
    values = [
        settings.translate_api_key.get_secret_value(),
        settings.impact_api_key.get_secret_value(),
        settings.api_token.get_secret_value(),
    ]
    return [v for v in values if v]


def configure_logging(
    settings: Settings,
    level: int | None = None,
    loggers: Iterable[str] | None = None,
    *,
    service: str | None = None,
) -> None:
    """Log to stderr in ``settings.log_format`` at ``settings.log_level`` (or ``level``),
    with the bound fields and credentials masked in every line, tracebacks included.

    ``loggers`` are extra loggers with handlers of their own (uvicorn's): they get the same
    format and masking. ``service`` names the process in every record.
    """
    if service:
        set_service(service)
    formatter = json_formatter() if settings.log_format == "json" else TextFormatter()
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(level if level is not None else settings.log_level)
    names = ["", *(loggers or ())]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
            if not any(isinstance(f, ContextFilter) for f in handler.filters):
                handler.addFilter(ContextFilter())
    # httpx logs every request's URL at INFO, and a chat webhook's URL is its credential
    # (masked above too, but a URL is better not written at all).
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    install_log_masking(secret_values(settings), loggers=names)
