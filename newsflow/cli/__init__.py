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
