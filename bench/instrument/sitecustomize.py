"""Counts the MongoDB commands of a process the pipeline benchmark starts; nothing otherwise.

``bench/pipeline.py`` puts this folder on the workers' ``PYTHONPATH`` and sets
``NEWSFLOW_BENCH_DB_COUNTS`` to a folder. Python imports ``sitecustomize`` at start-up, so
every worker, of this tree or of the ``--compare`` reference, registers a pymongo
:class:`~pymongo.monitoring.CommandListener` before it opens a client, with no code of its
own. The counts (commands by name, and by collection and name) are written to
``<folder>/<pid>.json`` every half second and at exit; the benchmark reads them at the
start and at the end of the timed run. The variable is removed from the environment, so the
extractor's extraction processes (which never talk to MongoDB) do not load pymongo for it.

Server monitoring (``hello`` heartbeats) is not a command and is not counted.
"""

from __future__ import annotations

import os

_FOLDER = os.environ.pop("NEWSFLOW_BENCH_DB_COUNTS", None)

if _FOLDER:
    import atexit
    import json
    import threading
    from collections import Counter

    from pymongo import monitoring

    class _Counter(monitoring.CommandListener):
        """Commands started, by name and by ``collection.name``, and their client time."""

        def __init__(self, path: str) -> None:
            self.path = path
            self.lock = threading.Lock()
            self.commands: Counter[str] = Counter()
            self.by_collection: Counter[str] = Counter()
            self.micros = 0

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            name = event.command_name
            target = event.command.get(name)
            coll = target if isinstance(target, str) else "-"
            with self.lock:
                self.commands[name] += 1
                self.by_collection[f"{coll}.{name}"] += 1

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            with self.lock:
                self.micros += event.duration_micros

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            with self.lock:
                self.micros += event.duration_micros

        def write(self) -> None:
            with self.lock:
                data = {
                    "commands": dict(self.commands),
                    "by_collection": dict(self.by_collection),
                    "micros": self.micros,
                }
            tmp = f"{self.path}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.path)

    _listener = _Counter(os.path.join(_FOLDER, f"{os.getpid()}.json"))
    monitoring.register(_listener)

    def _writer() -> None:
        stop = threading.Event()
        while not stop.wait(0.5):
            try:
                _listener.write()
            except OSError:
                return

    threading.Thread(target=_writer, name="bench-db-counts", daemon=True).start()
    atexit.register(_listener.write)

_TRACE = os.environ.pop("NEWSFLOW_BENCH_TRACEMALLOC", None)

if _TRACE:
    # The soak's memory diagnosis: trace allocations (10 frames) from start-up, and write a
    # snapshot to <folder>/<pid>-<n>.snapshot on each SIGUSR2 the benchmark sends.
    import itertools
    import signal
    import tracemalloc

    tracemalloc.start(10)
    _taken = itertools.count()

    def _snapshot(_signum: int, _frame: object) -> None:
        path = os.path.join(_TRACE, f"{os.getpid()}-{next(_taken):03d}.snapshot")
        tracemalloc.take_snapshot().dump(path)

    signal.signal(signal.SIGUSR2, _snapshot)

_MALLOC = os.environ.pop("NEWSFLOW_BENCH_MALLOC", None)

if _MALLOC:
    # glibc's own account of the heap, on each SIGUSR2 the benchmark sends (with or without
    # tracemalloc): bytes in use, bytes free but kept by malloc (fragmentation, arenas of
    # threads), mmapped bytes, and the arenas. <folder>/<pid>-<n>.malloc.json
    import ctypes
    import itertools
    import json
    import signal

    class _MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    _libc = ctypes.CDLL("libc.so.6")
    _libc.mallinfo2.restype = _MallInfo2
    _counted = itertools.count()
    _previous = signal.getsignal(signal.SIGUSR2)

    def _malloc(signum: int, frame: object) -> None:
        info = _libc.mallinfo2()
        with open("/proc/self/statm", encoding="ascii") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        data = {name: getattr(info, name) for name, _ in _MallInfo2._fields_} | {"rss": rss}
        path = os.path.join(_MALLOC, f"{os.getpid()}-{next(_counted):03d}.malloc.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        if callable(_previous):
            _previous(signum, frame)

    signal.signal(signal.SIGUSR2, _malloc)

_SERVER = os.environ.pop("NEWSFLOW_BENCH_SERVER_COMMANDS", None)

if _SERVER:
    # SecantusDB's side (the benchmark starts it with this folder on its PYTHONPATH): the CPU
    # time of the thread running each command, by command and collection, written to
    # <folder>/server.json every half second. ``secantus.server`` binds ``dispatch`` when it
    # is imported: the wrapper replaces both names.
    import json
    import threading
    import time

    import secantus.commands as _commands
    import secantus.server as _server

    _lock = threading.Lock()
    _stats: dict[str, list[float]] = {}
    _dispatch = _commands.dispatch

    def _timed_dispatch(doc: dict, ctx: object, *args: object, **kwargs: object) -> object:  # type: ignore[type-arg]
        started = time.thread_time()
        try:
            return _dispatch(doc, ctx, *args, **kwargs)
        finally:
            spent = time.thread_time() - started
            name = next(iter(doc), "?") if isinstance(doc, dict) else "?"
            target = doc.get(name) if isinstance(doc, dict) else None
            key = f"{target if isinstance(target, str) else '-'}.{name}"
            with _lock:
                entry = _stats.setdefault(key, [0, 0.0])
                entry[0] += 1
                entry[1] += spent

    _commands.dispatch = _timed_dispatch
    _server.dispatch = _timed_dispatch  # type: ignore[attr-defined]

    def _server_writer() -> None:
        path = os.path.join(_SERVER, "server.json")
        while True:
            time.sleep(0.5)
            with _lock:
                data = {k: {"count": v[0], "cpu_s": v[1]} for k, v in _stats.items()}
            tmp = f"{path}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, path)

    threading.Thread(target=_server_writer, name="bench-server-commands", daemon=True).start()
