# Crosswalk: `make demo` runs the whole product locally; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint format services chaos clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Crosswalk needs Python 3.11 or newer (found: $$($(PYTHON) --version 2>&1))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes. The dev install covers the plain
# one (one editable build instead of two on a fresh clone).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/crosswalk demo

services: $(VENV)/.installed-dev
	$(BIN)/python scripts/ensure_services.py

# Every tier, with branch coverage (configured in pyproject.toml) printed per
# file and per package: two processes at a time, then the short chaos run on
# its own (it measures a drain time, which must not share the CPU with the
# rest of the suite). `pytest -m "not postgres"` / `-m "not redis"` run
# without those servers.
test: services
	$(BIN)/pytest -n 2 -m "not chaos" --cov --cov-report=
	$(BIN)/pytest -m chaos --cov --cov-append --cov-report=term
	@$(BIN)/python scripts/coverage_by_package.py

# The chaos bench at full size (1,000 issues, 4 workers, ~8 minutes): killed
# workers, vendor faults, late creates and a Redis flush. `make test` runs the
# short version (tests/chaos).
chaos: services
	$(BIN)/python bench/chaos.py --issues 1000 --workers 4 --duration 120

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check webapp workers integrations geo simulators tests bench scripts

format: $(VENV)/.installed-dev
	$(BIN)/ruff format webapp workers integrations geo simulators tests bench scripts

clean:
	rm -rf $(VENV) instance/demo.db .pytest_cache .coverage .coverage.*
