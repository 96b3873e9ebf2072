"""A guard for the test process: its sockets connect and send to loopback addresses only.

Tests talk to servers they started on 127.0.0.1. A test of the refusal of a private or public
address replaces the socket layer for that test (or checks the step that decides); if such a
seam moved, a real connection would be attempted before the test could notice. This guard
makes that attempt fail loudly instead of letting a packet leave the machine: ``connect``,
``connect_ex``, ``sendto`` and ``sendmsg`` to an address outside 127.0.0.0/8 and ::1 raise,
and a host name other than ``localhost`` is refused without being resolved (no DNS query).

It covers the pytest process (``tests/conftest.py``) and the workers and commands the tests
start through :mod:`tests.support.workers`, whose ``PYTHONPATH`` carries ``tests/support/guard``
(its ``sitecustomize`` installs it at start-up). Servers the tests start (redis-server,
SecantusDB) only listen.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto
_real_sendmsg = socket.socket.sendmsg


class NonLoopbackConnection(OSError):
    """A test tried to connect to an address outside 127.0.0.0/8 and ::1."""


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        # A name: only "localhost", never resolved here (a lookup is a packet too).
        return host.rstrip(".").lower() == "localhost"


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


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _check(self, args[-1])  # sendto(data, address) or sendto(data, flags, address)
    return int(_real_sendto(self, data, *args))


def _sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
    if len(args) >= 3 and args[2] is not None:  # sendmsg(buffers, ancdata, flags, address)
        _check(self, args[2])
    return int(_real_sendmsg(self, buffers, *args))


def install() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _sendto  # type: ignore[method-assign,assignment]
    socket.socket.sendmsg = _sendmsg  # type: ignore[method-assign,assignment]
