"""Which URLs and addresses the fetcher may connect to (the SSRF policy).

Two checks, both needed:

* ``vet_url`` before a request (and on every redirect hop): scheme, userinfo, port and host
  literals in any spelling (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``, trailing
  dots). It gives early, clear reasons but cannot see what a name resolves to.
* ``AddressPolicy.check`` at connect time, on the address actually connected (see
  ``_backend``): this is what defeats names that resolve to internal addresses and DNS
  rebinding.

``ipaddress``'s ``is_global`` alone has holes (Python 3.11 calls multicast ``224.0.0.1``,
IPv4-compatible ``::7f00:1``, NAT64 ``64:ff9b::a00:1`` and 6to4 ``2002:7f00:1::`` global), so
embedded IPv4 addresses are unwrapped and both forms must pass, and multicast, reserved and
site-local are refused explicitly.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import httpx

from newsflow.stages.fetching._errors import Refused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Ranges refused although some Python versions call (parts of) them global.
_ALWAYS_REFUSED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("0.0.0.0/8"),  # "this network"
    ipaddress.ip_network("100.64.0.0/10"),  # CGNAT (also Alibaba's metadata 100.100.100.200)
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
    ipaddress.ip_network("fec0::/10"),  # deprecated site-local
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 address carries (mapped, compatible, NAT64, 6to4...)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    value = int(address)
    if address in _NAT64 or address in _IPV4_TRANSLATED:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if 1 < value < 2**32:  # deprecated IPv4-compatible ::a.b.c.d (not :: or ::1)
        return ipaddress.IPv4Address(value)
    return None


def _why_not_public(address: IPAddress) -> str | None:
    """A short description if the address is not publicly routable, else None."""
    for net in _ALWAYS_REFUSED:
        if address.version == net.version and address in net:
            return "a reserved address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local (cloud metadata) address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a site-local address"
    if not address.is_global:
        return "not a public address"
    return None


class AddressPolicy:
    """Decides whether an IP address may be connected to.

    Only publicly routable unicast addresses, plus exactly the ``allowed_networks``
    (``NEWSFLOW_FETCH_ALLOWED_NETWORKS``, e.g. ``127.0.0.0/8`` for tests).
    """

    def __init__(self, allowed_networks: Iterable[str] = ()) -> None:
        self.allowed: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )

    def _allowed(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.allowed)

    def why_refused(self, address: IPAddress | str) -> str | None:
        """The refusal reason for ``address``, or None if it may be connected to."""
        if isinstance(address, str):
            try:
                address = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                return f"refused: {address!r} is not an IP address"
        inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        if self._allowed(address) or (inner is not None and self._allowed(inner)):
            return None
        if inner is not None:
            # A translation address (mapped, NAT64, 6to4...) reaches its IPv4 address: judge
            # that (the IPv6 prefixes themselves look reserved or private to ipaddress).
            if (inner_why := _why_not_public(inner)) is not None:
                return f"refused: {address} carries {inner}, {inner_why}"
            return None
        if (why := _why_not_public(address)) is not None:
            return f"refused: {address} is {why}"
        return None

    def check(self, address: IPAddress | str) -> None:
        """Raise ``Refused`` unless ``address`` may be connected to."""
        if (why := self.why_refused(address)) is not None:
            raise Refused(why)


def literal_ip(host: str) -> IPAddress | None:
    """The address a host literal denotes in any spelling resolvers accept, else None.

    Handles IPv6 literals, dotted quads, and the legacy ``inet_aton`` forms that
    ``getaddrinfo`` also accepts: ``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``,
    with trailing dots and percent-encoding removed.
    """
    host = unquote(host).strip().rstrip(".").strip("[]")
    host = host.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
    if not host:
        return None
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    # Only hosts made of digits, dots and hex prefixes can be legacy IPv4 spellings;
    # inet_aton would also accept "1.2.3.4 junk" on some libcs.
    if all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def vet_url(url: str, policy: AddressPolicy, allowed_ports: Iterable[int]) -> httpx.URL:
    """Parse and check a URL before any connection; returns it as an ``httpx.URL``.

    Raises ``Refused`` with a human-readable reason for anything the fetcher will not touch.
    """
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        # httpx rejects some legacy spellings (octal "0177.0.0.1"); name what they mean.
        try:
            host = urlsplit(url.strip()).hostname
        except ValueError:
            host = None
        if host and (address := literal_ip(host)) is not None:
            policy.check(address)
        raise Refused(f"refused: invalid URL ({exc})") from None
    if not parsed.scheme:
        raise Refused("refused: not a URL (no http:// or https:// at its start)")
    if parsed.scheme not in ("http", "https"):
        raise Refused(f"refused: only http and https URLs are fetched, not {parsed.scheme}")
    if parsed.userinfo:
        raise Refused("refused: URLs with a user name or password are not fetched")
    host = parsed.host
    if not host:
        raise Refused("refused: the URL has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    ports = set(allowed_ports)
    if port not in ports:
        allowed = ", ".join(str(p) for p in sorted(ports))
        raise Refused(f"refused: port {port} is not allowed (allowed: {allowed})")
    address = literal_ip(host)
    if address is not None:
        policy.check(address)
    elif "%" in host or any(c.isspace() for c in host):
        raise Refused(f"refused: invalid host name {host!r}")
    return parsed
