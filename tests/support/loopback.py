"""A guard for the whole test session: sockets connect to loopback addresses only.

Tests talk to servers they started on 127.0.0.1. A test of the refusal of a private or public
address replaces the socket layer for that test (or checks the step that decides); if such a
seam moved, a real connection would be attempted before the test could notice. This guard
makes that attempt fail loudly instead of letting a packet leave the machine.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NonLoopbackConnection(OSError):
    """A test tried to connect to an address outside 127.0.0.0/8 and ::1."""


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        pass
    # A name: it must resolve to loopback addresses only ("localhost").
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = str(address[0])
        if not _loopback(host):
            raise NonLoopbackConnection(
                f"test guard: refused a connection to {host!r} (tests reach 127.0.0.0/8 only)"
            )


def _connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def install() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
