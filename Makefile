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

# Local profile: raw sample snapshot $(DEV_SNAPSHOT) unless present, the instance in
# $$FLYWHEEL_HOME/dagster (dagster.yaml of flywheel_assets.runner) and the partition in it.
define DEV_SETUP
import sys
from flywheel_assets.cli import main
from flywheel_assets.config.registry import load_registry
from flywheel_assets.config.settings import load_settings
from flywheel_assets.layout import raw_snapshot_prefix
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.runner import local_instance
from glue_jobs.registry import SOURCES
snapshot, settings = sys.argv[1], load_settings()
if not settings.is_local:
    sys.exit("make dev/smoke run the local profile: unset FLYWHEEL_ENV")
lake = Platform(settings, load_registry()).lake
marker = lambda source: raw_snapshot_prefix(settings, source, snapshot) + settings.snapshot_marker
if not all(lake.exists(marker(s)) for s in SOURCES) and main(["sample-data", "--snapshot", snapshot]):
    sys.exit(1)
instance = local_instance(settings.dagster_home)
if not instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, snapshot):
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [snapshot])
print(f"DAGSTER_HOME={settings.dagster_home}: partition snapshot_dt={snapshot} ready", file=sys.stderr)
endef
export DEV_SETUP
DAGSTER_HOME_OF = $$($(PY) -c 'from flywheel_assets.config.settings import load_settings as s; print(s().dagster_home)')

# `dagster dev` (webserver + daemon) on the local profile at http://127.0.0.1:$(DEV_PORT)
dev: $(STAMP)
	$(PY) -c "$$DEV_SETUP" $(DEV_SNAPSHOT)
	DAGSTER_HOME=$(DAGSTER_HOME_OF) $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(DEV_PORT)

# `dg launch` of one small selection on a throwaway home (CI smoke test, ~2 min)
SMOKE_HOME := $(CURDIR)/build/smoke
smoke: $(STAMP)
	rm -rf $(SMOKE_HOME)
	export FLYWHEEL_ENV=local FLYWHEEL_HOME=$(SMOKE_HOME) DAGSTER_HOME=$(SMOKE_HOME)/dagster && \
	  $(PY) -c "$$DEV_SETUP" $(DEV_SNAPSHOT) && \
	  $(DG) launch --assets split_part/ibe_01_a,part_ibe_01_a --partition $(DEV_SNAPSHOT)

# real dagster-webserver + daemon, one run through GraphQL, headless Chromium screenshots
# in build/e2e/ (flywheel_assets_tests/e2e; skipped with the reason without Chromium)
e2e: $(STAMP)
	$(PY) -m pytest -m e2e flywheel_assets_tests/e2e
