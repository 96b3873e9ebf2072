"""Build the wheel with the oldest setuptools pyproject.toml allows, and check what it installs.

    .venv/bin/python .ci/check_wheel.py        (part of `make lint`)

- the declared minimum of the build backend can build the project;
- the wheel installs `newsflow` and `newsflow_services`, and no top-level package with a
  generic name (`services`, `tests`);
- the data files the code reads at run time are in it (templates, static files, asset tables).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [requirement] = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.search(r">=\s*([\w.]+)", requirement)
    if minimum is None:
        print(f"the build backend has no declared minimum: {requirement!r}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        constraint = Path(tmp) / "constraint.txt"
        constraint.write_text(f"setuptools=={minimum.group(1)}\n", encoding="utf-8")
        built = subprocess.run(
            [str(UV), "build", "--wheel", "-o", tmp, "--build-constraint", str(constraint),
             str(ROOT)],
            capture_output=True, text=True, check=False,
        )
        if built.returncode != 0:
            print(f"setuptools=={minimum.group(1)} cannot build the project:\n{built.stderr[-3000:]}")
            return 1
        [wheel] = Path(tmp).glob("*.whl")
        names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    problems = []
    if top != {"newsflow", "newsflow_services"}:
        problems.append(f"top-level packages {sorted(top)}, want newsflow and newsflow_services")
    for needed in ("newsflow_services/reader/templates/base.html",
                   "newsflow_services/reader/static/reader.js",
                   "newsflow/stages/analysis/data/crypto.csv",
                   "newsflow_services/fetcher/__main__.py"):
        if needed not in names:
            problems.append(f"{needed} is not in the wheel")
    if problems:
        print("; ".join(problems))
        return 1
    print(f"wheel built with setuptools=={minimum.group(1)}: {len(names)} files, "
          f"top-level {sorted(top)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
