# Quick start: `make demo` runs the whole pipeline locally; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint dev bench e2e smoke validate clean definitions-snapshot

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

# The asset graph per profile, committed under flywheel_assets_tests/golden/ (reviewable
# diffs of registry and factory changes); rerun after such a change.
definitions-snapshot: $(STAMP)
	$(PY) scripts/definitions_snapshot.py

clean:
	rm -rf .flywheel build

# --- the Glue 5.0 runtime check (docs/deploy.md#the-glue-50-runtime-check) -------------
# The glue_jobs tests (marker glue_runtime) again, in a venv with what AWS Glue 5.0 runs
# the jobs on: Spark 3.5 (3.5.4 there) and pyarrow 17.0.0, with Python 3.11 (GLUE_PYTHON)
# and Java 17.
# setup.py pins pyspark 4 for the code location, so the project goes in without its
# dependencies, then its requirements (dev extras included) with Glue's pins instead.
GLUE_VENV ?= .venv-glue35
GLUE_PYTHON ?= python3
GLUE_PY := $(GLUE_VENV)/bin/python
GLUE_STAMP := $(GLUE_VENV)/.installed
GLUE_PINS := 'pyspark>=3.5,<3.6' 'pyarrow==17.0.0'
GLUE_REQUIREMENTS := $(GLUE_VENV)/requirements.txt

.PHONY: test-glue-runtime
$(GLUE_STAMP): setup.py pyproject.toml Makefile
	@command -v java >/dev/null 2>&1 || { echo "Java 17+ is required (local Spark): install a JDK, e.g. 'apt-get install openjdk-17-jre-headless'"; exit 1; }
	@test -x $(GLUE_PY) || $(GLUE_PYTHON) -m venv $(GLUE_VENV)
	$(GLUE_PY) -m pip install --quiet --upgrade pip
	$(GLUE_PY) -m pip install --quiet --no-deps -e .
	$(GLUE_PY) -c 'import importlib.metadata as m, re, sys; \
	  pinned = {re.split("[<>=!~ ]", p)[0] for p in sys.argv[1:]}; \
	  reqs = [r.replace("; extra == \"dev\"", "") for r in m.requires("flywheel_assets")]; \
	  print("\n".join([r for r in reqs if re.split("[<>=!~ ;\\[]", r)[0] not in pinned] + sys.argv[1:]))' \
	  $(GLUE_PINS) > $(GLUE_REQUIREMENTS)
	$(GLUE_PY) -m pip install --quiet --no-warn-conflicts -r $(GLUE_REQUIREMENTS)
	$(GLUE_PY) -c 'import sys, pyspark, pyarrow; print("Glue 5.0 runtime venv: Python", sys.version.split()[0], "pyspark", pyspark.__version__, "pyarrow", pyarrow.__version__); assert pyspark.__version__.startswith("3.5.")'
	@touch $(GLUE_STAMP)

test-glue-runtime: $(GLUE_STAMP)
	$(GLUE_PY) -m pytest -m glue_runtime

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

# --- infrastructure as code (docs/deploy.md#the-cloudformation-stacks) ------------------
# The stacks of dev and prod written to build/infra/<env>/, then cfn-lint (dev extras;
# informational rules included) and checkov, which gets its own venv (its pins are not
# the project's; under build/, so `make clean` removes it). Waived checkov findings are
# in the templates' Metadata with their reasons.
INFRA_OUT := build/infra
CHECKOV_VENV ?= build/venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

.PHONY: infra-templates lint-infra
$(CHECKOV):
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov

infra-templates: $(STAMP)
	$(VENV)/bin/flywheel infra template --env dev --out $(INFRA_OUT)
	$(VENV)/bin/flywheel infra template --env prod --out $(INFRA_OUT)

lint-infra: infra-templates $(CHECKOV)
	$(VENV)/bin/cfn-lint --include-checks I -- $(INFRA_OUT)/dev/*.yaml $(INFRA_OUT)/prod/*.yaml
	$(CHECKOV) -d $(INFRA_OUT) --framework cloudformation --compact --quiet --skip-download
