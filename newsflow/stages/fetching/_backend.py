"""An httpcore network backend that vets the address it connects to, at connect time.

httpcore calls ``connect_tcp(host, port, timeout)`` for every new connection, redirect hops
included. Here the host is resolved once, every address is checked against the
``AddressPolicy``, and the socket is opened to a vetted IP literal, so a name cannot resolve
to a public address when checked and to ``127.0.0.1`` when connected (DNS rebinding).
httpcore still does TLS with ``server_hostname`` = the URL's host (SNI and certificate checks
stay on the name) and applies httpx's connect/read timeouts.
"""

from __future__ import annotations

import asyncio
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable

import anyio
import httpcore

from newsflow.stages.fetching._errors import Refused, Unresolvable
from newsflow.stages.fetching._policy import AddressPolicy, literal_ip

#: Resolves ``(host, port)`` to IP address strings, in the order to try them.
Resolver = Callable[[str, int], Awaitable[list[str]]]

# EAI_* codes that mean "this name does not exist": retrying will not help.
_PERMANENT_DNS_ERRORS = {
    getattr(socket, name)
    for name in ("EAI_NONAME", "EAI_NODATA", "EAI_FAIL", "EAI_SERVICE")
    if hasattr(socket, name)
}


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (``getaddrinfo``), keeping each address once."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in _PERMANENT_DNS_ERRORS:
            raise Unresolvable(f"cannot resolve host {host!r}") from None
        raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from None
    addresses: list[str] = []
    for *_, sockaddr in infos:
        ip = str(sockaddr[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


class GuardedBackend(httpcore.AnyIOBackend):
    """``AnyIOBackend`` that connects only to addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.resolver: Resolver = resolver or system_resolver

    async def vetted_addresses(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return the addresses that may be connected to.

        Raises ``Refused`` if none may; if a name resolves to a mix, the refused addresses
        are dropped (an attacker gains nothing from them) and the rest are tried.
        """
        literal = literal_ip(host)
        addresses = [str(literal)] if literal is not None else await self.resolver(host, port)
        if not addresses:
            raise Unresolvable(f"cannot resolve host {host!r}")
        allowed: list[str] = []
        first_refusal: str | None = None
        for address in addresses:
            why = self.policy.why_refused(address)
            if why is None:
                allowed.append(address)
            elif first_refusal is None:
                first_refusal = why
        if not allowed:
            assert first_refusal is not None
            if literal is None:
                first_refusal = f"{first_refusal} ({host} resolves to it)"
            raise Refused(first_refusal)
        return allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.vetted_addresses(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await super().connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(  # httpcore's signature: every call is refused
        self,
        path: str,  # noqa: ARG002
        timeout: float | None = None,  # noqa: ARG002
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        raise Refused("refused: unix sockets are never fetched")
