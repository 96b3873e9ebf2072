"""The embedded SecantusDB starts with two glibc arenas (its RSS otherwise grows with the
fragments each connection thread leaves), unless the user chose a number."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from newsflow.cli.embedded import Server, free_port, start_mongo

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def environment(server: Server) -> dict[str, str]:
    raw = Path(f"/proc/{server.proc.pid}/environ").read_bytes()
    pairs = (item.decode().partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def test_secantusdb_runs_with_two_malloc_arenas(mongo_server: Server) -> None:
    assert environment(mongo_server)["MALLOC_ARENA_MAX"] == "2"


def test_a_malloc_arena_count_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    server = start_mongo(None, free_port(), env={"NEWSFLOW_PROBE": "1"})
    try:
        env = environment(server)
        assert env["MALLOC_ARENA_MAX"] == "4" and env["NEWSFLOW_PROBE"] == "1"
    finally:
        server.stop()
