"""The session's guard (tests/support/loopback.py) refuses any connection off loopback, before
the socket sends anything; loopback connections work as before."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import httpx
import pytest

from tests.support.feeds import FeedServer, Route
from tests.support.loopback import NonLoopbackConnection
from tests.support.workers import TEST_PYTHONPATH

# TEST-NET-1, a private and a metadata address: the guard refuses before connecting.
REFUSED = ["192.0.2.1", "10.0.0.1", "169.254.169.254", "::ffff:192.0.2.1"]


@pytest.mark.parametrize("host", REFUSED)
def test_a_socket_to_another_address_is_refused(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s, pytest.raises(NonLoopbackConnection):
        s.connect((host, 80))
    with socket.socket(family, socket.SOCK_STREAM) as s, pytest.raises(NonLoopbackConnection):
        s.connect_ex((host, 80))


def test_a_datagram_to_another_address_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(NonLoopbackConnection):
            s.sendto(b"x", ("192.0.2.1", 53))
        with pytest.raises(NonLoopbackConnection):
            s.sendmsg([b"x"], [], 0, ("192.0.2.1", 53))


def test_a_name_is_refused_without_a_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []

    def lookup(host: str, *_args: object, **_kwargs: object) -> None:
        looked_up.append(host)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with socket.socket() as s, pytest.raises(NonLoopbackConnection):
        s.connect(("news.example.com", 80))
    assert looked_up == []


async def test_asyncio_and_httpx_are_refused_too() -> None:
    with pytest.raises(NonLoopbackConnection):
        await asyncio.open_connection("192.0.2.1", 80)
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError) as failed:
            await client.get("http://192.0.2.1:80/")
    causes = []
    error: BaseException | None = failed.value
    while error is not None:
        causes.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, NonLoopbackConnection) for e in causes)


def test_loopback_connections_work() -> None:
    with FeedServer() as server:
        server.routes["/ok"] = Route(b"fine", "text/plain")
        assert httpx.get(server.url("/ok")).text == "fine"
        assert httpx.get(server.url("/ok").replace("127.0.0.1", "localhost")).text == "fine"


def test_the_processes_the_tests_start_are_guarded_too() -> None:
    """A worker or command started by tests/support runs with TEST_PYTHONPATH: its
    sitecustomize installs the same guard."""
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=0.1)\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": TEST_PYTHONPATH}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.stdout.startswith("NonLoopbackConnection test guard: refused"), run.stderr
