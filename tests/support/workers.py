"""Run the real stage workers as child processes (``python -m services.<name>``).

Used by the end-to-end tests, the fault test and the benchmark: the same entry points a
user or a container runs, configured only through ``NEWSFLOW_*`` variables.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from newsflow.domain.pipeline import STAGES as PIPELINE_STAGES
from newsflow.settings import Settings

#: The worker services, in pipeline order (``python -m services.<name>``).
#: The stage workers (the feeder is started on its own: `start("feeder")`).
STAGES: tuple[str, ...] = tuple(s.name for s in PIPELINE_STAGES)
REPO = Path(__file__).resolve().parents[2]
#: Its ``sitecustomize`` installs the loopback guard in the processes the tests start.
GUARD = Path(__file__).resolve().parent / "guard"
TEST_PYTHONPATH = os.pathsep.join([str(REPO), str(GUARD)])


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``NEWSFLOW_*`` environment that reproduces ``settings`` in a child process."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if name == "consumer_name":
            continue  # each process names itself (hostname + pid)
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = json.dumps(value)
        env[f"NEWSFLOW_{name.upper()}"] = str(value)
    return env


def run_newsflow(
    settings: Settings,
    *args: str,
    stdin: str | None = None,
    timeout: float = 180,
    code: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``newsflow ARGS`` as a user runs it: the installed command, settings from the
    environment, a wide terminal (tables are not cut).

    With ``code``, ``python -c CODE ARGS`` in that same environment instead: a few lines that
    set up what a service sets up (its logging, say), for a test that reads what comes out.
    """
    env = {**os.environ, **settings_env(settings), "PYTHONPATH": TEST_PYTHONPATH, "COLUMNS": "250"}
    command = (
        [sys.executable, "-c", code]
        if code is not None
        else [str(Path(sys.executable).parent / "newsflow")]
    )
    return subprocess.run(
        [*command, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=stdin,
    )


@dataclass
class WorkerProcesses:
    """A set of worker processes, with the kill/restart moves the fault test needs."""

    settings: Settings
    log_dir: Path
    procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    #: The tree the workers run from (the benchmark runs another revision's workers too).
    repo: Path = REPO
    #: Folders put on ``PYTHONPATH`` after ``repo`` (the benchmark's instrumentation).
    python_path: list[Path] = field(default_factory=list)

    def env(self, name: str, index: int) -> dict[str, str]:
        env = {**os.environ, **settings_env(self.settings), **self.extra_env}
        env["NEWSFLOW_HEARTBEAT_FILE"] = str(self.log_dir / f"{name}-{index}.heartbeat")
        # The tests' processes get the loopback guard; the benchmark's (another revision's
        # workers, its own instrumentation on the path) run as they are.
        extra = self.python_path or ([GUARD] if self.repo == REPO else [])
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [self.repo, *extra])
        return env

    def start(self, name: str, index: int | None = None) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        replicas = self.procs.setdefault(name, [])
        index = len(replicas) if index is None else index
        log = (self.log_dir / f"{name}-{index}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=self.repo,
            env=self.env(name, index),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if index < len(replicas):
            replicas[index] = proc
        else:
            replicas.append(proc)
        return proc

    def start_all(self, replicas: int = 1) -> None:
        for name in STAGES:
            for _ in range(replicas):
                self.start(name)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every worker has written its heartbeat (it is connected)."""
        deadline = time.monotonic() + timeout
        for name, replicas in self.procs.items():
            for i, proc in enumerate(replicas):
                beat = self.log_dir / f"{name}-{i}.heartbeat"
                while not beat.exists():
                    if proc.poll() is not None:
                        raise RuntimeError(f"{name}-{i} exited: {self.log(name, i)[-3000:]}")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name}-{i} not ready: {self.log(name, i)[-3000:]}")
                    time.sleep(0.1)

    def log(self, name: str, index: int = 0) -> str:
        path = self.log_dir / f"{name}-{index}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, name: str, index: int = 0) -> None:
        """SIGKILL a worker and its children, as a crash would."""
        proc = self.procs[name][index]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self, timeout: float = 30.0) -> None:
        for replicas in self.procs.values():
            for proc in replicas:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for replicas in self.procs.values():
            for proc in replicas:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
