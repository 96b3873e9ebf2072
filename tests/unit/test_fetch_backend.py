"""Connect-time vetting: names that resolve inside, DNS rebinding, and refusals that never retry.

The resolver is a stub and the socket layer (``httpcore.AnyIOBackend.connect_tcp``, which the
guarded backend calls to open a socket) is replaced by a recorder that never opens one: no
packet leaves for the addresses these tests name.
"""

from __future__ import annotations

import itertools
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsflow.settings import Settings
from newsflow.stages.fetching import AddressPolicy, FetchFailed, PageFetcher
from newsflow.stages.fetching._backend import GuardedBackend, system_resolver
from newsflow.stages.fetching._errors import Refused, Unresolvable

#: Loading the CA bundle takes ~0.15 s: once, not per fetcher.
SHARED_TLS = ssl.create_default_context()


class ConnectRecorder:
    """Stands in for the socket layer: records each connection asked for, opens none."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> Any:
        self.calls.append((host, port))
        raise httpcore.ConnectError(f"recorder: no real connection to {host}")


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> ConnectRecorder:
    recorder = ConnectRecorder()

    async def connect_tcp(backend: Any, host: str, port: int, **kwargs: Any) -> Any:
        return await recorder.connect_tcp(host, port, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_tcp)
    return recorder


def stub_resolver(table: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise Unresolvable(f"cannot resolve host {host!r}")
        return table[host]

    return resolve


def fetch_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "fetch_deadline": 3.0,
        "fetch_connect_timeout": 1.0,
        "fetch_read_timeout": 1.0,
        "fetch_backoff": 0.01,
        "fetch_retries": 2,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def make_fetcher() -> AsyncIterator[Any]:
    made: list[PageFetcher] = []

    def make(table: dict[str, list[str]], **overrides: Any) -> PageFetcher:
        fetcher = PageFetcher(
            fetch_settings(**overrides), resolver=stub_resolver(table), ssl_context=SHARED_TLS
        )
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()


@pytest.mark.parametrize(
    ("addresses", "why"),
    [
        (["10.0.0.5"], "10.0.0.5 is a private address"),
        (["169.254.169.254"], "169.254.169.254 is a link-local (cloud metadata) address"),
        (["127.0.0.1"], "127.0.0.1 is a loopback address"),
        (["100.64.1.1"], "100.64.1.1 is a reserved address"),
        (["::1"], "::1 is a loopback address"),
        (["::ffff:10.0.0.5"], "carries 10.0.0.5, a private address"),
        (["64:ff9b::a9fe:a9fe"], "carries 169.254.169.254"),
        (["fd00:ec2::254"], "fd00:ec2::254 is a private address"),
        (["10.0.0.5", "192.168.0.1"], "10.0.0.5 is a private address"),
    ],
)
async def test_names_resolving_inside_are_refused_before_connecting(
    make_fetcher: Any, connects: ConnectRecorder, addresses: list[str], why: str
) -> None:
    fetcher = make_fetcher({"inside.example": addresses})
    with pytest.raises(FetchFailed) as info:
        await fetcher.fetch("http://inside.example/article")
    failure = info.value
    assert failure.refused
    assert why in failure.reason
    assert "inside.example resolves to it" in failure.reason
    assert failure.attempts == 1  # refusals are never retried
    assert connects.calls == []


async def test_connects_to_the_vetted_address_not_the_name(connects: ConnectRecorder) -> None:
    """DNS rebinding: the name is resolved once, vetted, and the socket opened to that IP."""
    answers = itertools.cycle([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    backend = GuardedBackend(AddressPolicy(), rebinding)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("rebind.example", 443, timeout=1.0)
    assert connects.calls == [("93.184.216.34", 443)]
    # The next connection (e.g. the next hop or retry) resolves again: now inside, refused.
    with pytest.raises(Refused, match=r"127\.0\.0\.1 is a loopback address"):
        await backend.connect_tcp("rebind.example", 443, timeout=1.0)
    assert connects.calls == [("93.184.216.34", 443)]


async def test_mixed_answers_connect_only_to_allowed_addresses(connects: ConnectRecorder) -> None:
    backend = GuardedBackend(
        AddressPolicy(), stub_resolver({"mixed.example": ["10.0.0.5", "93.184.216.34", "::1"]})
    )
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("mixed.example", 80, timeout=1.0)
    assert connects.calls == [("93.184.216.34", 80)]


async def test_legacy_literal_spellings_never_reach_the_resolver(
    connects: ConnectRecorder,
) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise AssertionError(f"resolver called for {host}")

    backend = GuardedBackend(AddressPolicy(), resolver)
    for host in ("2130706433", "0x7f.1", "0177.0.0.1", "127.1", "127.0.0.1.", "::1"):
        with pytest.raises(Refused, match="loopback"):
            await backend.connect_tcp(host, 80, timeout=1.0)
    assert connects.calls == []


async def test_unix_sockets_are_refused() -> None:
    backend = GuardedBackend(AddressPolicy())
    with pytest.raises(Refused, match="unix sockets"):
        await backend.connect_unix_socket("/var/run/docker.sock")


async def test_allowed_networks_reach_the_socket_layer(
    make_fetcher: Any, connects: ConnectRecorder
) -> None:
    fetcher = make_fetcher(
        {"lab.example": ["10.9.8.7"]}, fetch_allowed_networks=["10.9.0.0/16"], fetch_retries=0
    )
    with pytest.raises(FetchFailed) as info:
        await fetcher.fetch("http://lab.example/")
    assert not info.value.refused
    assert info.value.reason.startswith("connection failed: recorder: no real connection")
    assert connects.calls == [("10.9.8.7", 80)]


async def test_unresolvable_names_fail_without_retry(
    make_fetcher: Any, connects: ConnectRecorder
) -> None:
    fetcher = make_fetcher({})
    with pytest.raises(FetchFailed) as info:
        await fetcher.fetch("https://no-such-host.example/")
    assert info.value.reason == "cannot resolve host 'no-such-host.example'"
    assert (info.value.refused, info.value.attempts) == (False, 1)
    assert connects.calls == []


async def test_connection_errors_are_retried_then_reported(
    make_fetcher: Any, connects: ConnectRecorder
) -> None:
    fetcher = make_fetcher({"flaky.example": ["93.184.216.34"]}, fetch_retries=2)
    with pytest.raises(FetchFailed) as info:
        await fetcher.fetch("http://flaky.example/")
    assert info.value.attempts == 3
    assert info.value.reason.endswith("(3 attempts)")
    assert info.value.final_url == "http://flaky.example/"
    assert len(connects.calls) == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/",
        "http://[::ffff:127.0.0.1]/",
        "file:///etc/passwd",
        "http://user:pw@example.com/",
        "http://example.com:6379/",
    ],
)
async def test_url_refusals_are_final(
    make_fetcher: Any, connects: ConnectRecorder, url: str
) -> None:
    fetcher = make_fetcher({"example.com": ["93.184.216.34"]})
    with pytest.raises(FetchFailed) as info:
        await fetcher.fetch(url)
    assert info.value.refused
    assert info.value.attempts == 1
    assert info.value.reason.startswith("refused: ")
    assert connects.calls == []


async def test_system_resolver_resolves_from_the_hosts_file() -> None:
    # "localhost" comes from /etc/hosts: no DNS query leaves the machine.
    addresses = await system_resolver("localhost", 80)
    assert set(addresses) & {"127.0.0.1", "::1"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    url=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda scheme, host, rest: f"{scheme}://{host}{rest}",
            st.sampled_from(["http", "https", "HTTP", "ftp", "", "http:/"]),
            st.text(max_size=25),
            st.text(max_size=25),
        ),
    )
)
async def test_any_string_gives_a_fetch_failure_never_a_crash(url: str) -> None:
    """Whatever a user submits, the fetcher answers with a reason (no real socket here)."""
    recorder = ConnectRecorder()

    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    with pytest.MonkeyPatch.context() as patch:

        async def connect_tcp(backend: Any, host: str, port: int, **kwargs: Any) -> Any:
            return await recorder.connect_tcp(host, port, **kwargs)

        patch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_tcp)
        fetcher = PageFetcher(
            fetch_settings(fetch_retries=0), resolver=resolve, ssl_context=SHARED_TLS
        )
        try:
            with pytest.raises(FetchFailed) as info:
                await fetcher.fetch(url)
        finally:
            await fetcher.aclose()
    assert info.value.reason
    assert all(host == "93.184.216.34" for host, _ in recorder.calls)
