"""`newsflow healthcheck`: fresh, stale and missing heartbeats, with the file it read named."""

from __future__ import annotations

import os
import time
from pathlib import Path

from typer.testing import CliRunner

from newsflow.cli.main import app


def flat(text: str) -> str:
    """The output without whitespace: rich wraps long lines at the console's width."""
    return "".join(text.split())


def test_healthcheck_reads_the_given_file_and_names_it(tmp_path: Path) -> None:
    beat = tmp_path / "fetcher.heartbeat"
    runner = CliRunner()
    missing = runner.invoke(app, ["healthcheck", "--file", str(beat)])
    assert missing.exit_code == 1 and flat(f"no heartbeat at {beat}") in flat(missing.output)
    beat.touch()
    fresh = runner.invoke(app, ["healthcheck", "--file", str(beat)])
    assert fresh.exit_code == 0 and flat(fresh.output).startswith("healthy:lastheartbeat")
    assert str(beat) in flat(fresh.output)
    old = time.time() - 120
    os.utime(beat, (old, old))
    stale = runner.invoke(app, ["healthcheck", "--file", str(beat), "--max-age", "30"])
    assert stale.exit_code == 1
    assert flat(f"unhealthy: last heartbeat 120 s ago ({beat})") in flat(stale.output)
