# Quick start: `make demo` runs the whole pipeline locally; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint dev bench e2e smoke validate clean

$(STAMP): setup.py pyproject.toml
	@command -v java >/dev/null 2>&1 || { echo "Java 17+ is required (local Spark): install a JDK, e.g. 'apt-get install openjdk-17-jre-headless'"; exit 1; }
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/flywheel demo

# Spark vs DuckDB on a generated 2,000,000 x 200 snapshot (build/bench, ~6 min; not a
# test). BENCH_ARGS e.g. "--repeat 3" or "--steps split_part". See docs/performance.md.
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

validate: $(STAMP)
	$(VENV)/bin/dagster definitions validate -w workspace.yaml

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP)
	$(PY) -m pytest
	$(MAKE) --no-print-directory validate
	$(DG) check defs

clean:
	rm -rf .flywheel build

# --- the UI and its end-to-end checks (docs/operations.md) ---------------------------
DEV_SNAPSHOT ?= 2025-01-15
DEV_PORT ?= 3000
# dg wants the project's venv active
DG := VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/dg

DAGSTER_HOME_OF = $$($(PY) -c 'from flywheel_assets.config.settings import load_settings as s; print(s().dagster_home)')

# `dagster dev` (webserver + daemon) on the local profile at http://127.0.0.1:$(DEV_PORT)
dev: $(STAMP)
	$(VENV)/bin/flywheel dev-setup --snapshot $(DEV_SNAPSHOT)
	DAGSTER_HOME=$(DAGSTER_HOME_OF) $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(DEV_PORT)

# `dg launch` of one small selection on a throwaway home (CI smoke test, ~2 min)
SMOKE_HOME := $(CURDIR)/build/smoke
smoke: $(STAMP)
	rm -rf $(SMOKE_HOME)
	export FLYWHEEL_ENV=local FLYWHEEL_HOME=$(SMOKE_HOME) DAGSTER_HOME=$(SMOKE_HOME)/dagster && \
	  $(VENV)/bin/flywheel dev-setup --snapshot $(DEV_SNAPSHOT) && \
	  $(DG) launch --assets split_part/ibe_01_a,part_ibe_01_a --partition $(DEV_SNAPSHOT)

# real dagster-webserver + daemon, one run through GraphQL, headless Chromium screenshots
# in build/e2e/ (flywheel_assets_tests/e2e; skipped with the reason without Chromium)
e2e: $(STAMP)
	$(PY) -m pytest -m e2e flywheel_assets_tests/e2e
