"""The wheel's package list stays complete, and the services run under either name.

pyproject.toml lists the packages by hand (the services are mapped to ``newsflow_services``);
inside services/ every import of another services module is relative, so the same files run
as ``python -m services.fetcher`` in a checkout or the image and as ``newsflow_services`` once
installed. `make lint` also builds the wheel (.ci/check_wheel.py).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_in_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    listed = set(config["packages"])
    mapped = {"newsflow_services": "services"}
    found = set()
    for init in [
        *ROOT.joinpath("newsflow").rglob("__init__.py"),
        *ROOT.joinpath("services").rglob("__init__.py"),
    ]:
        parts = list(init.parent.relative_to(ROOT).parts)
        if parts[0] == "services":
            parts[0] = "newsflow_services"
        found.add(".".join(parts))
    assert found == listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"] == mapped


def test_services_import_each_other_relatively() -> None:
    absolute = re.compile(r"^\s*(from|import)\s+(newsflow_)?services\b", re.MULTILINE)
    offenders = [
        str(p.relative_to(ROOT))
        for p in ROOT.joinpath("services").rglob("*.py")
        if absolute.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "use relative imports inside services/ (from .main import ...)"


def test_newsflow_does_not_import_the_services() -> None:
    absolute = re.compile(r"^\s*(from|import)\s+(newsflow_)?services\b", re.MULTILINE)
    offenders = [
        str(p.relative_to(ROOT))
        for p in ROOT.joinpath("newsflow").rglob("*.py")
        if absolute.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
