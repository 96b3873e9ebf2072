"""Check the promises of docker-compose.yml on its resolved form, against the declared pipeline.

    docker compose --profile tools --profile monitoring config --format json \
        | .venv/bin/python -m tests.compose.check_config

Prints a one-line summary and exits 0, or prints every broken promise and exits 1. Used by
tests/compose/smoke.sh; the promises are those of the README's deployment section.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from newsflow.domain.pipeline import SERVICES

#: Every service of the pipeline is a compose service of the same name.
WORKERS: tuple[str, ...] = tuple(s.name for s in SERVICES)
PYTHON_SERVICES = (*WORKERS, "reader", "cli")
#: NEWSFLOW_GRACEFUL_TIMEOUT's default: docker must wait longer than a worker drains.
GRACEFUL_TIMEOUT_S = 20.0


def seconds(duration: str) -> float:
    """Compose duration ("1m30s", "45s", "500ms") in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"([0-9.]+)(ms|us|h|m|s)", duration)
    if not parts:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(float(n) * units[u] for n, u in parts)


def problems(config: dict[str, Any]) -> list[str]:
    found: list[str] = []
    services: dict[str, Any] = config.get("services", {})
    for name in ("redis", "mongo", *PYTHON_SERVICES):
        if name not in services:
            found.append(f"service {name!r} is missing")
    images = {services[n].get("image") for n in PYTHON_SERVICES if n in services}
    if len(images) != 1:
        found.append(f"the Python services do not share one image: {sorted(map(str, images))}")
    for name in PYTHON_SERVICES:
        svc = services.get(name, {})
        if "build" not in svc:
            found.append(f"{name}: no build section (the image is built from the Dockerfile)")
    for name in WORKERS:
        svc = services.get(name, {})
        if "container_name" in svc:
            found.append(f"{name}: container_name blocks --scale")
        if svc.get("ports"):
            found.append(f"{name}: a worker must not publish host ports")
        if svc.get("restart") != "unless-stopped":
            found.append(f"{name}: restart is {svc.get('restart')!r}, not unless-stopped")
        if not (svc.get("healthcheck") or {}).get("test"):
            found.append(f"{name}: no health check")
        for dep in ("redis", "mongo"):
            cond = (svc.get("depends_on") or {}).get(dep, {}).get("condition")
            if cond != "service_healthy":
                found.append(f"{name}: depends_on {dep} is {cond!r}, not service_healthy")
        grace = svc.get("stop_grace_period")
        drain = float(
            (svc.get("environment") or {}).get("NEWSFLOW_GRACEFUL_TIMEOUT") or GRACEFUL_TIMEOUT_S
        )
        if grace is None or seconds(str(grace)) <= drain:
            found.append(f"{name}: stop_grace_period {grace!r} is not above the {drain}s drain")
        if svc.get("command") != ["python", "-m", f"services.{name}"]:
            found.append(f"{name}: command is {svc.get('command')!r}")
    for name in ("redis", "mongo"):
        svc = services.get(name, {})
        if svc.get("ports"):
            found.append(f"{name}: published on a host port without being asked to")
        if not (svc.get("healthcheck") or {}).get("test"):
            found.append(f"{name}: no health check")
        if not any(v.get("type") == "volume" for v in svc.get("volumes", [])):
            found.append(f"{name}: data not on a named volume")
    if "--appendonly" not in services.get("redis", {}).get("command", []):
        found.append("redis: append-only file not enabled")
    for name in (*WORKERS, "reader"):
        env = services.get(name, {}).get("environment") or {}
        if (
            str(env.get("NEWSFLOW_METRICS_PORT")) != "9100"
            or env.get("NEWSFLOW_METRICS_HOST") != "0.0.0.0"
        ):
            found.append(f"{name}: no metrics on 0.0.0.0:9100 for Prometheus")
    prometheus = services.get("prometheus")
    if prometheus is None:
        found.append("service 'prometheus' is missing (profile monitoring)")
    elif prometheus.get("profiles") != ["monitoring"]:
        found.append("prometheus: should sit in the profile 'monitoring'")
    cli = services.get("cli", {})
    if cli.get("entrypoint") != ["newsflow"]:
        found.append("cli: entrypoint is not the newsflow CLI")
    if not cli.get("profiles"):
        found.append("cli: should sit in a profile so that `up` does not start it")
    return found


def main() -> int:
    try:
        config = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"docker compose config did not print JSON: {exc}")
        return 1
    found = problems(config)
    if found:
        print("; ".join(found))
        return 1
    scaled = ", ".join(WORKERS)
    print(f"{len(config['services'])} services; {scaled} scalable, healthy-gated, restartable")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
