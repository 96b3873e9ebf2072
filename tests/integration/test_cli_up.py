"""``newsflow up`` with servers named in the environment: it says it uses them, and stops at
once with the reason when nothing answers there (instead of workers restarting in a loop)."""

from __future__ import annotations

import pytest

from newsflow.cli.embedded import _single_server, free_port
from newsflow.settings import Settings
from tests.support.workers import run_newsflow

pytestmark = pytest.mark.integration


def test_up_stops_when_the_redis_named_in_the_environment_does_not_answer(
    settings: Settings,
) -> None:
    closed = free_port()
    gone = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{closed}/0"})
    result = run_newsflow(gone, "up", timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"NEWSFLOW_REDIS_URL is set in the environment, so no redis is started here, and "
        f"nothing answers at 127.0.0.1:{closed}"
    ) in result.stderr
    assert "pid" not in result.stdout  # no worker was started


@pytest.mark.parametrize(
    ("url", "probed"),
    [
        ("redis://127.0.0.1:6390/0", ("127.0.0.1", 6390)),
        ("rediss://user:pw@cache.example:6380", ("cache.example", 6380)),
        ("mongodb://127.0.0.1", ("127.0.0.1", 27017)),
        # only the driver can resolve these: no probe
        ("mongodb+srv://cluster0.abcd.mongodb.net/?retryWrites=true", ("", 0)),
        ("mongodb://h1:27017,h2:27017/?replicaSet=rs", ("", 0)),
        ("mongodb://h1,h2/?replicaSet=rs", ("", 0)),
        ("unix:///run/redis.sock", ("", 0)),
        ("redis+cluster://n1:7000,n2:7001", ("", 0)),
    ],
)
def test_only_a_url_naming_one_server_is_probed(url: str, probed: tuple[str, int]) -> None:
    default = 27017 if url.startswith("mongodb") else 6379
    assert _single_server(url, default) == probed
