# Newsflow: `make up` runs the whole system here, `make test` runs the tests.
# Both set themselves up: the environment lives in .venv (uv, from uv.lock).

PY ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.synced

.PHONY: help venv up test test-unit test-browser test-fault test-compose lint bench bench-cli bench-extraction bench-assets assets ci clean

help:
	@echo "make up                run Redis, SecantusDB, every declared service (four stages, notifier, feeder) and the reader (Ctrl-C stops)"
	@echo "make test              unit, integration, end-to-end and browser tests"
	@echo "make test-fault        the fault test: kill -9 workers, restart Redis and MongoDB under load"
	@echo "make test-compose      the docker compose smoke test (SKIPPED where no Docker engine can start)"
	@echo "make lint              ruff check, ruff format --check, mypy, deptry, the wheel built with the oldest setuptools"
	@echo "make bench             pipeline benchmark on ../shared/corpus"
	@echo "make bench-cli         CPU time of newsflow --help and newsflow publish, against main"
	@echo "make bench-extraction  extraction quality and speed benchmark"
	@echo "make bench-assets      asset matching: precision/recall before and after, time, memory"
	@echo "make assets            regenerate the asset data files whose source is a package"

$(UV):
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip uv

# --compile-bytecode: the installed packages come with their .pyc, so a process does not compile
# them again on each start where PYTHONDONTWRITEBYTECODE is set (the `newsflow` command).
$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --inexact --compile-bytecode
	@touch $(STAMP)

venv: $(STAMP)

up: venv
	$(VENV)/bin/newsflow up

test: venv
	bash tests/browser/setup.sh
	$(VENV)/bin/pytest -m "not fault" -p no:cacheprovider

test-browser: venv
	bash tests/browser/setup.sh
	$(VENV)/bin/pytest tests/browser -p no:cacheprovider

test-unit: venv
	$(VENV)/bin/pytest tests/unit

test-fault: venv
	$(VENV)/bin/pytest tests/fault -m fault -s -p no:cacheprovider

test-compose: venv
	bash tests/compose/smoke.sh

# The quality gates (rules and reasons in pyproject.toml): lint, format, types, dependencies,
# and the wheel as the oldest declared build backend makes it.
lint: venv
	$(VENV)/bin/ruff check newsflow services tests bench
	$(VENV)/bin/ruff format --check newsflow services tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/deptry newsflow services
	$(VENV)/bin/python .ci/check_wheel.py

bench: venv
	$(VENV)/bin/python bench/pipeline.py

bench-extraction: venv
	$(VENV)/bin/python bench/extraction.py

bench-assets: venv
	$(VENV)/bin/python bench/assets.py

bench-cli: venv
	$(VENV)/bin/python bench/cli.py

assets: venv
	$(VENV)/bin/python -m newsflow.stages.analysis.build_assets

ci: lint test test-fault test-compose

clean:
	rm -rf $(VENV) .pytest_cache artifacts
