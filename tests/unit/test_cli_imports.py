"""The command line starts fast: ``newsflow --help`` imports none of the heavy modules."""

from __future__ import annotations

import subprocess
import sys

from newsflow.cli.alerts import FORMAT_HELP
from newsflow.stages.alerts import FORMATS

#: Modules a command imports only when it runs (each costs tens to hundreds of milliseconds).
HEAVY = (
    "pydantic",
    "motor",
    "pymongo",
    "redis",
    "faststream",
    "httpx",
    "trafilatura",
    "newsflow.settings",
    "newsflow.stages.alerts",
    "newsflow.adapters.store",
)


def test_the_command_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, newsflow.cli.main\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


def test_the_alert_format_help_names_every_format() -> None:
    assert f"payload: {', '.join(FORMATS)}" == FORMAT_HELP
