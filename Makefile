# Newsflow: `make up` runs the whole system here, `make test` runs the tests.
# Both set themselves up: the environment lives in .venv (uv, from uv.lock).

PY ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.synced

.PHONY: help venv up test test-unit test-browser test-fault test-compose bench bench-extraction bench-assets assets ci clean

help:
	@echo "make up                run Redis, SecantusDB, the workers (four stages, notifier) and the reader (Ctrl-C stops)"
	@echo "make test              unit, integration, end-to-end and browser tests"
	@echo "make test-fault        the fault test: kill -9 workers, restart Redis and MongoDB under load"
	@echo "make test-compose      the docker compose smoke test (SKIPPED where no Docker engine can start)"
	@echo "make bench             pipeline benchmark on ../shared/corpus"
	@echo "make bench-extraction  extraction quality and speed benchmark"
	@echo "make bench-assets      asset matching: precision/recall before and after, time, memory"
	@echo "make assets            regenerate the asset data files whose source is a package"

$(UV):
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip uv

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --inexact
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

bench: venv
	$(VENV)/bin/python bench/pipeline.py

bench-extraction: venv
	$(VENV)/bin/python bench/extraction.py

bench-assets: venv
	$(VENV)/bin/python bench/assets.py

assets: venv
	$(VENV)/bin/python -m newsflow.stages.analysis.build_assets

ci: test test-fault test-compose

clean:
	rm -rf $(VENV) .pytest_cache artifacts
