"""Webhook URLs get the fetcher's SSRF policy: refusals decided before any socket opens.

As in test_fetch_backend: the resolver is a stub and the socket layer is replaced by a
recorder that opens nothing, so no packet leaves for the addresses named here.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import pytest

from newsflow.adapters.webhooks import WebhookSender
from newsflow.settings import Settings
from newsflow.stages.fetching import Unresolvable

SHARED_TLS = ssl.create_default_context()


class ConnectRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> ConnectRecorder:
    recorder = ConnectRecorder()

    async def connect_tcp(backend: Any, host: str, port: int, **kwargs: Any) -> Any:
        recorder.calls.append((host, port))
        raise httpcore.ConnectError("recorder: no real connection")

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_tcp)
    return recorder


@pytest.fixture
async def make_sender() -> AsyncIterator[Any]:
    made: list[WebhookSender] = []

    def make(table: dict[str, list[str]], **overrides: Any) -> WebhookSender:
        async def resolve(host: str, port: int) -> list[str]:
            if host not in table:
                raise Unresolvable(f"cannot resolve host {host!r}")
            return table[host]

        values: dict[str, Any] = {
            "alert_timeout": 1.0,
            "alert_retries": 2,
            "alert_backoff": 0.0,
            "_env_file": None,
            **overrides,
        }
        sender = WebhookSender(Settings(**values), resolver=resolve, ssl_context=SHARED_TLS)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        await sender.aclose()


@pytest.mark.parametrize(
    ("addresses", "why"),
    [
        (["10.0.0.5"], "10.0.0.5 is a private address"),
        (["169.254.169.254"], "169.254.169.254 is a link-local (cloud metadata) address"),
        (["127.0.0.1"], "127.0.0.1 is a loopback address"),
        (["::ffff:192.168.1.1"], "::ffff:c0a8:101 carries 192.168.1.1, a private address"),
        (["fd00::1"], "fd00::1 is a private address"),
    ],
)
async def test_hook_names_resolving_inside_are_refused_and_not_retried(
    make_sender: Any, connects: ConnectRecorder, addresses: list[str], why: str
) -> None:
    sender = make_sender({"hooks.example.com": addresses})
    result = await sender.deliver("https://hooks.example.com/services/T0/B0/SECRET", b"{}", dict)
    assert not result.ok and not result.retryable
    assert result.attempts == 1
    assert result.reason == f"refused: {why} (hooks.example.com resolves to it)"
    assert connects.calls == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local (cloud metadata)"),
        ("http://0x7f.1:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://user:pw@hooks.example.com/", "user name or password"),
        ("http://hooks.example.com:6379/", "port 6379 is not allowed"),
    ],
)
async def test_hook_urls_refused_before_resolving(
    make_sender: Any, connects: ConnectRecorder, url: str, why: str
) -> None:
    sender = make_sender({"hooks.example.com": ["93.184.216.34"]})
    assert why in (sender.check(url) or "")
    result = await sender.deliver(url, b"{}", dict)
    assert not result.ok and result.attempts == 1 and why in (result.reason or "")
    assert connects.calls == []


async def test_a_public_hook_reaches_the_socket_layer_at_the_vetted_address(
    make_sender: Any, connects: ConnectRecorder
) -> None:
    sender = make_sender({"hooks.example.com": ["93.184.216.34"]})
    result = await sender.deliver("https://hooks.example.com/x/SECRET", b"{}", dict)
    # Connection failures are retried (1 + alert_retries attempts), then reported by host.
    assert result.attempts == 3 and result.retryable
    assert result.reason == "hooks.example.com: connection failed (3 attempts)"
    assert "SECRET" not in result.reason
    assert connects.calls == [("93.184.216.34", 443)] * 3


async def test_allowed_networks_are_the_fetchers(
    make_sender: Any, connects: ConnectRecorder
) -> None:
    sender = make_sender(
        {"lab.example": ["10.9.8.7"]}, fetch_allowed_networks=["10.9.0.0/16"], alert_retries=0
    )
    result = await sender.deliver("http://lab.example/hook", b"{}", dict)
    assert result.reason == "lab.example: connection failed"
    assert connects.calls == [("10.9.8.7", 80)]


async def test_unresolvable_hosts_are_named(make_sender: Any, connects: ConnectRecorder) -> None:
    sender = make_sender({})
    result = await sender.deliver("https://gone.example/x", b"{}", dict)
    assert (result.ok, result.retryable, result.reason) == (
        False,
        False,
        "cannot resolve host gone.example",
    )
