"""The deployment files stay in step with the settings (no Docker needed).

docker-compose.yml passes NEWSFLOW_* variables to the containers only when it lists them, so a
setting added to newsflow/settings.py without an entry there would silently be ignored in a
compose deployment. .env.example documents every one of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from newsflow.domain.pipeline import SERVICES
from newsflow.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
#: Settings the image or the compose file fix for each container, not the deployment.
FIXED_IN_CONTAINER = {
    "data_dir",
    "heartbeat_file",
    "reader_host",
    "reader_port",
    "metrics_port",
    "metrics_host",
}


def env_names() -> set[str]:
    return {f"NEWSFLOW_{name.upper()}" for name in Settings.model_fields} - {
        f"NEWSFLOW_{name.upper()}" for name in FIXED_IN_CONTAINER
    }


def compose_env_keys() -> set[str]:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    return set(re.findall(r"^\s+(NEWSFLOW_[A-Z0-9_]+):", text, flags=re.MULTILINE))


def test_compose_passes_every_setting_through() -> None:
    missing = env_names() - compose_env_keys()
    assert not missing, f"add to x-newsflow-env in docker-compose.yml: {sorted(missing)}"


def test_compose_passes_no_unknown_setting() -> None:
    known = {f"NEWSFLOW_{name.upper()}" for name in Settings.model_fields}
    unknown = compose_env_keys() - known
    assert not unknown, f"not settings in newsflow/settings.py: {sorted(unknown)}"


def test_compose_runs_every_declared_service() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for service in SERVICES:
        assert re.search(
            rf'^  {service.name}:\n(    .*\n)*?    command: \["python", "-m", "services\.{service.name}"\]',
            text,
            flags=re.MULTILINE,
        ), f"docker-compose.yml: add the service {service.name} (python -m services.{service.name})"


def test_prometheus_scrapes_every_declared_service() -> None:
    """deploy/prometheus.yml names the services to scrape (a dns_sd_config per compose
    service): every service of the declared pipeline and the reader, nothing else."""
    text = (ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8")
    job = text.split("- job_name: newsflow", 1)[1].split("- job_name:", 1)[0]
    names = [n.strip() for line in re.findall(r"- names: \[(.*)\]", job) for n in line.split(",")]
    assert sorted(names) == sorted([*(s.name for s in SERVICES), "reader"]), (
        "deploy/prometheus.yml: the newsflow job's names should be the declared services "
        "(newsflow.domain.pipeline.SERVICES), then reader"
    )


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?(NEWSFLOW_[A-Z0-9_]+)=", text, flags=re.MULTILINE))
    missing = env_names() - documented
    assert not missing, f"document in .env.example: {sorted(missing)}"


def test_env_example_changes_nothing_when_copied() -> None:
    """Every line is a comment or blank: `cp .env.example .env` keeps the defaults."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    active = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert active == []


def test_secrets_stay_out_of_the_image() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    # allow-list: everything is excluded first, and .env is never allowed back in
    assert rules[0] == "*", f"the first rule must exclude everything, not {rules[0]!r}"
    assert not any(rule.startswith("!") and ".env" in rule for rule in rules)


def test_the_reader_health_check_asks_a_host_the_reader_serves() -> None:
    """The reader refuses Host names it is not configured for (DNS rebinding): its health
    check, run inside the container, must use one it always serves, whatever the deployment
    sets NEWSFLOW_READER_ALLOWED_HOSTS to."""
    from services.reader.security import allowed_hosts, host_allowed

    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    urls = re.findall(r"urlopen\(\s*[\"'](https?://[^\"']+)", text)  # the reader's health check
    assert urls, "no health check URL found in docker-compose.yml"
    [host] = re.findall(r"^\s+NEWSFLOW_READER_HOST:\s*(\S+)", text, flags=re.MULTILINE)
    for configured in ([], ["news.example.org"]):  # the default, and a deployment's own name
        settings = Settings(reader_host=host, reader_allowed_hosts=configured, _env_file=None)
        for url in urls:
            assert host_allowed(urlsplit(url).netloc, allowed_hosts(settings)), url
