"""The ``newsflow`` command line and the embedded system it runs (``newsflow up``)."""

from __future__ import annotations

import os
import sys

from rich.console import Console

#: Width of output that goes to a file or a pipe: rich would cut tables at 80 columns there.
PIPED_WIDTH = 400


def consoles() -> tuple[Console, Console]:
    """The command's stdout and stderr consoles: a terminal's width on a terminal (or
    ``COLUMNS``), :data:`PIPED_WIDTH` for a file or a pipe, so that ``newsflow list > file``
    keeps whole ids, statuses and reasons."""

    def width(stream: object) -> int | None:
        isatty = getattr(stream, "isatty", None)
        piped = not (isatty and isatty())
        return PIPED_WIDTH if piped and not os.environ.get("COLUMNS") else None

    return (
        Console(soft_wrap=True, width=width(sys.stdout)),
        Console(stderr=True, soft_wrap=True, width=width(sys.stderr)),
    )


def unreachable() -> tuple[type[BaseException], ...]:
    """The errors that mean Redis or MongoDB did not answer (a one-line error, exit 3, not a
    traceback). A function: redis and pymongo are imported only by commands that connect."""
    from pymongo.errors import ConnectionFailure
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (OSError, RedisConnectionError, RedisTimeoutError, ConnectionFailure)


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An error's first line, cut (pymongo's selection timeout describes the whole topology)."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]


def file_error(exc: OSError | UnicodeDecodeError) -> str:
    """Why a file could not be read or written, in a few words (not rich markup)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    return exc.strerror or type(exc).__name__
