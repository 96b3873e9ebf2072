"""How long the `newsflow` command takes to start: CPU time of `--help` and of `publish URL`.

    .venv/bin/python bench/cli.py                 # this tree against `main`, 9 runs each
    .venv/bin/python bench/cli.py --before e092d64 --runs 15
    .venv/bin/python bench/cli.py --no-bytecode   # as if no package had its .pyc compiled

The "before" tree is a detached git worktree of ``--before`` (made in a temporary folder and
removed after), run with the same virtualenv; each command runs alternately in the two trees
(before, after, before, after...), so both see the same machine load. A run is one new
process; its CPU time (user + system, from ``wait4``) is what is reported, median of the runs,
with the ratio after / before. ``publish`` submits a new URL each run to a real redis-server and
SecantusDB started here (no worker runs: the URL is only queued). Nothing leaves 127.0.0.1.

``--no-bytecode`` points ``PYTHONPYCACHEPREFIX`` at an empty folder: every module is compiled
from source on each start, as in a virtualenv installed without bytecode where
``PYTHONDONTWRITEBYTECODE`` is set (this machine's environment; `make venv` now compiles the
bytecode at install time).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsflow.cli.embedded import free_port, start_mongo, start_redis

#: Runs the tree's own `newsflow` (the tree is first on sys.path, before the installed one).
LAUNCH = "import sys; from newsflow.cli.main import main; sys.argv[0] = 'newsflow'; main()"


def cpu_of(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """CPU seconds (user + system) of one process running ``argv``, and its exit status."""
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", default="main", help="git ref of the baseline (main)")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="ignore every compiled .pyc (compile from source on each start)",
    )
    args = parser.parse_args()
    before_ref = subprocess.run(
        ["git", "rev-parse", "--short", args.before],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    after_ref = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--", "newsflow", "services"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    work = Path(tempfile.mkdtemp(prefix="newsflow-bench-cli-"))
    before_tree = work / "before"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(before_tree), before_ref],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    redis = start_redis(work / "redis", free_port())
    mongo = start_mongo(None, free_port())
    try:
        base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")},
            "NEWSFLOW_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "NEWSFLOW_MONGO_URL": f"mongodb://127.0.0.1:{mongo.port}",
            "NEWSFLOW_MONGO_DB": "bench_cli",
            "COLUMNS": "100",
        }
        if args.no_bytecode:
            (work / "no-pyc").mkdir()
            base_env |= {
                "PYTHONPYCACHEPREFIX": str(work / "no-pyc"),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        trees = {"before": before_tree, "after": REPO}
        commands = {"--help": ["--help"], "publish URL": ["publish"]}
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.runs):
            for name, extra in commands.items():
                for label, tree in trees.items():
                    argv = [sys.executable, "-c", LAUNCH, *extra]
                    if extra == ["publish"]:
                        argv.append(f"https://example.org/bench/{uuid.uuid4().hex}")
                    env = {**base_env, "PYTHONPATH": str(tree)}
                    seconds, code = cpu_of(argv, env, tree)
                    if code != 0:
                        raise SystemExit(f"{label} `newsflow {' '.join(extra)}` exited {code}")
                    times.setdefault((name, label), []).append(seconds)
    finally:
        redis.stop()
        mongo.stop()
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(before_tree)],
            cwd=REPO,
            check=False,
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]
    print(
        f"CPU time of one `newsflow` process, median of {args.runs} runs, before = "
        f"{before_ref} ({args.before}), after = {after_ref}{' + uncommitted changes' if dirty else ''}"
    )
    print(
        f"machine: {os.cpu_count()} cores, CPython {platform.python_version()}, load average "
        f"{load:.1f}, PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}"
        f"{', every module compiled from source (--no-bytecode)' if args.no_bytecode else ''}"
    )
    print()
    print("| command | before | after | after / before |")
    print("|---|---|---|---|")
    for name in commands:
        b = statistics.median(times[(name, "before")])
        a = statistics.median(times[(name, "after")])
        print(f"| `newsflow {name}` | {b:.2f} s | {a:.2f} s | {a / b:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
