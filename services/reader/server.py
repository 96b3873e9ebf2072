"""The reader served by uvicorn in a background thread (tests, embedding in other programs)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

import uvicorn

from newsflow.cli.embedded import free_port
from newsflow.settings import Settings

from .main import create_app


class ReaderThread:
    """``with ReaderThread(settings) as r: ... r.url ...``: a real HTTP server on 127.0.0.1."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the reader did not start")
            time.sleep(0.05)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(15)
