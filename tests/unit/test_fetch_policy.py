"""The SSRF policy: which URLs and addresses the fetcher refuses, in every spelling.

Pure decisions: nothing here opens a socket.
"""

from __future__ import annotations

import ipaddress

import pytest

from newsflow.stages.fetching import AddressPolicy, vet_url
from newsflow.stages.fetching._errors import Refused
from newsflow.stages.fetching._policy import embedded_ipv4, literal_ip

PORTS = [80, 443, 8080, 8443]
POLICY = AddressPolicy()


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # AWS/GCP/Azure metadata
        ("100.64.0.1", "reserved"),  # CGNAT, not caught by `not is_private`
        ("100.100.100.200", "reserved"),  # Alibaba Cloud metadata (CGNAT range)
        ("0.0.0.0", "reserved"),
        ("224.0.0.1", "multicast"),  # Python calls this is_global
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.0.8", "reserved"),
        ("198.18.0.1", "reserved"),
        ("192.0.2.1", "private"),  # TEST-NET-1
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "private"),  # AWS IPv6 metadata
        ("fec0::1", "reserved"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "private"),
        ("64:ff9b:1::1", "reserved"),  # local-use NAT64
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    reason = POLICY.why_refused(address)
    assert reason is not None
    assert reason.startswith("refused: ")
    assert why in reason


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
        ("::ffff:a9fe:a9fe", "169.254.169.254"),
        ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible; Python calls ::7f00:1 global
        ("::ffff:0:a00:5", "10.0.0.5"),  # IPv4-translated
        ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64; Python calls it global
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("2002:7f00:1::", "127.0.0.1"),  # 6to4; Python calls it global
        ("2002:a00:5::1", "10.0.0.5"),
    ],
)
def test_ipv4_embedded_in_ipv6_is_unwrapped(address: str, inner: str) -> None:
    ip = ipaddress.IPv6Address(address)
    assert embedded_ipv4(ip) == ipaddress.IPv4Address(inner)
    reason = POLICY.why_refused(ip)
    assert reason is not None
    assert inner in reason


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "8.8.8.8", "2606:2800:220:1::1", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert POLICY.why_refused(address) is None


def test_allowed_networks_reopen_exactly_the_ranges_named() -> None:
    policy = AddressPolicy(["127.0.0.0/8", "10.1.0.0/16"])
    assert policy.why_refused("127.0.0.1") is None
    assert policy.why_refused("127.9.9.9") is None
    assert policy.why_refused("::ffff:127.0.0.1") is None  # the same destination
    assert policy.why_refused("10.1.2.3") is None
    assert policy.why_refused("10.2.0.1") is not None
    assert policy.why_refused("::1") is not None
    assert policy.why_refused("169.254.169.254") is not None


def test_garbage_address_is_refused_not_crashed() -> None:
    assert POLICY.why_refused("not-an-ip") == "refused: 'not-an-ip' is not an IP address"


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),  # decimal
        ("0x7f000001", "127.0.0.1"),  # hex
        ("0x7f.1", "127.0.0.1"),  # hex, short
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0177.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # short
        ("127.0.0.1.", "127.0.0.1"),  # trailing dot
        ("127。0。0。1", "127.0.0.1"),  # full-width ideographic dots
        ("127．0．0．1", "127.0.0.1"),
        ("%31%32%37.0.0.1", "127.0.0.1"),  # percent-encoded
        ("0xa9fea9fe", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
        ("::1", "::1"),
        ("0", "0.0.0.0"),
    ],
)
def test_literal_ip_reads_every_legacy_spelling(host: str, address: str) -> None:
    assert literal_ip(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "1.example.com", "0x7f.example", "deadbeef", ""])
def test_names_are_not_literals(host: str) -> None:
    assert literal_ip(host) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost.:80/",  # a name: refused at connect time, see test_fetch_backend
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://127.0.0.1./",
        "http://127。0。0。1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://0.0.0.0/",
        "http://10.0.0.5:8080/",
    ],
)
def test_vet_url_refuses_internal_literals(url: str) -> None:
    if "localhost" in url:
        # Names pass vet_url (it cannot resolve); the backend decides at connect time.
        assert vet_url(url, POLICY, PORTS).host == "localhost."
        return
    with pytest.raises(Refused) as info:
        vet_url(url, POLICY, PORTS)
    assert info.value.reason.startswith("refused: ")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https URLs are fetched, not file"),
        ("ftp://example.com/x", "only http and https URLs are fetched, not ftp"),
        ("gopher://example.com/", "only http and https URLs are fetched, not gopher"),
        ("javascript:alert(1)", "only http and https URLs are fetched, not javascript"),
        ("//example.com/x", "not a URL (no http:// or https:// at its start)"),
        ("not-a-url", "not a URL (no http:// or https:// at its start)"),
        ("http://user:pw@example.com/", "URLs with a user name or password are not fetched"),
        ("http://user@example.com/", "URLs with a user name or password are not fetched"),
        ("http://example.com:22/", "port 22 is not allowed (allowed: 80, 443, 8080, 8443)"),
        ("https://example.com:6379/", "port 6379 is not allowed"),
        ("http://example.com:99999/", "port 99999 is not allowed"),
        ("http:///path", "the URL has no host"),
        ("http://exa mple.com/", "invalid host name"),
        ("http://ＥＸＡＭＰＬＥ.com/", "invalid URL"),
        ("http://[::1/", "invalid URL"),
    ],
)
def test_vet_url_refuses_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(Refused) as info:
        vet_url(url, POLICY, PORTS)
    assert info.value.reason.startswith("refused: ")
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port"),
    [
        ("http://example.com/news/1", "http", "example.com", None),
        ("https://example.com/", "https", "example.com", None),
        ("HTTPS://Example.COM:443/a?b=c#d", "https", "example.com", 443),
        ("https://news.example.com:8443/x", "https", "news.example.com", 8443),
        ("http://93.184.216.34/", "http", "93.184.216.34", None),
        ("  https://example.com/padded  ", "https", "example.com", None),
        ("https://bücher.example/", "https", "bücher.example", None),
    ],
)
def test_vet_url_accepts_public_urls(url: str, scheme: str, host: str, port: int | None) -> None:
    parsed = vet_url(url, POLICY, PORTS)
    assert (parsed.scheme, parsed.host, parsed.port) == (scheme, host, port)
