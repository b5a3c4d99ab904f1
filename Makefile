# Stagecoach: `make run` starts everything locally; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints.txt --editable '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## run: the Temporal dev server, the worker and the API on SQLite, with example data (data/)
run: install
	$(VENV)/bin/stagecoach run

## test: the whole suite, on SQLite and (where reachable, always on CI) PostgreSQL
test: install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache
