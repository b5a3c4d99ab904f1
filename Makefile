# Stagecoach: `make run` starts everything locally; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test reliability clean bench bench-webhooks chromium

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints.txt --editable '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## run: the Temporal dev server, the worker and the API on SQLite, with example data (data/)
##      (API_PORT=8001 make run, make run UI_PORT=8234: other ports; TEMPORAL_ADDRESS=127.0.0.1:7234 for Temporal's)
run: install
	$(VENV)/bin/stagecoach run $(if $(UI_PORT),--ui-port $(UI_PORT))

## test: the whole suite, on SQLite and (where reachable, always on CI) PostgreSQL, in three processes
##       (tests/conftest.py keeps the tests on the session's dev server together), the 20 slowest named at the end;
##       TEST_ARGS: more options.
##       The console's tests drive Debian's Chromium, installed here when missing.
test: install chromium
	$(PY) -m pytest -n 3 --dist loadgroup --durations=20 $(TEST_ARGS)

chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

clean:
	rm -rf $(VENV) .pytest_cache

## reliability: the reliability suite (faults, bad input, replay, access), then docs/reliability.md from its figures
RELIABILITY_TESTS := tests/faults tests/bad_input tests/processes tests/workflows/test_replay.py tests/access
reliability: install
	STAGECOACH_FIGURES=build/reliability.json $(PY) -m pytest $(wildcard $(RELIABILITY_TESTS)); \
	status=$$?; $(PY) -m tests.figures build/reliability.json docs/reliability.md; exit $$status

## bench: the template interpreter against hand-written workflows, side by side: docs/benchmarks.md, bench/results.json
##        (QUICK=1: a smoke run written to build/; BENCH_SCALE=0.1: every load times 0.1; BENCH_ARGS: more options,
##        BENCH_ARGS=--only-hostile: scenario 7 measured again alone, into the committed figures (so do
##        --only-moves, --only-one-server (scenarios 1, 2, 3, 8, 9), --only-data-scale, --only-csv-import);
##        BENCH_ARGS='--only-start-path --database sqlite': scenario 2 alone, its figures to build/ only)
bench: install
	$(PY) -m pip install --quiet --constraint constraints.txt --editable '.[bench]'
	BENCH_FROM_MAKE=1 $(PY) -m bench --profile build/bench-profiles $(if $(QUICK),--quick) \
		$(if $(BENCH_SCALE),--scale $(BENCH_SCALE)) $(BENCH_ARGS)

## bench-webhooks: scenario 11 alone, a one-webhook phase against a hand-written activity doing the same POST
##                 (bench/webhooks.py; figures in bench/webhooks_results.json; BENCH_ARGS: --processes, --rounds...)
bench-webhooks: install
	$(PY) -m bench.webhooks --json bench/webhooks_results.json $(BENCH_ARGS)
