# Quick start: `make demo` runs the whole pipeline locally; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint dev bench e2e validate clean

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

clean:
	rm -rf .flywheel build
