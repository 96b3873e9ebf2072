"""How every Newsflow process logs: one format, and credentials masked in every line."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from newsflow.domain.redact import install_log_masking
from newsflow.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def secret_values(settings: Settings) -> list[str]:
    """The configured secrets, masked by value in logs whatever their shape."""
    values = [
        settings.translate_api_key.get_secret_value(),
        settings.impact_api_key.get_secret_value(),
        settings.api_token.get_secret_value(),
    ]
    return [v for v in values if v]


def configure_logging(
    settings: Settings, level: int = logging.INFO, loggers: Iterable[str] | None = None
) -> None:
    """Log to stderr at ``level``, masking credentials (user-info in URLs, bearer tokens,
    key-like parameters, API keys and the configured secrets) in every line, tracebacks
    included. ``loggers`` are extra loggers with handlers of their own (uvicorn's)."""
    logging.basicConfig(level=level, format=FORMAT)
    names = ["", *(loggers or ())]
    install_log_masking(secret_values(settings), loggers=names)
