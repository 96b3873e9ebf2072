"""Pydantic's validation errors as people read them: ``field: what is wrong``.

Pydantic prefixes the message of a validator's ``ValueError`` with "Value error, " (and an
assertion's with "Assertion failed, "): words about our code, not about the input. The
command line, the reader's pages and its API all word them through :func:`describe`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

_PREFIXES = ("Value error, ", "Assertion failed, ")


def describe(
    errors: Iterable[Mapping[str, Any]], *, whole: str = "rule", skip: Collection[str] = ()
) -> list[str]:
    """One ``field: message`` line per error (``whole`` names an error of the whole object;
    ``skip``: location parts left out, such as FastAPI's ``body``)."""
    lines = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in skip) or whole
        message = str(error.get("msg") or "invalid")
        for prefix in _PREFIXES:
            message = message.removeprefix(prefix)
        lines.append(f"{where}: {message}")
    return lines
