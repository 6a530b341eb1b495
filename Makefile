# The two commands the README names: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-long lint bench venv

venv:
	scripts/setup-venv.sh $(VENV)

## The simulated city and the collector polling it; /metrics on http://127.0.0.1:9873/metrics until Ctrl-C.
demo: venv
	$(BIN)/stadtnetz demo $(DEMO_ARGS)

## Install everything the tests need (apt packages as root or via sudo), lint, run the suite.
test:
	scripts/install-test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

## The long soak variants of the slow tests (fuzzing with millions of cases, big cities).
test-long:
	scripts/install-test-deps.sh
	STADTNETZ_LONG_TESTS=1 $(BIN)/pytest

lint:
	$(BIN)/ruff check .

## Benchmarks against the peer tools; see README "Benchmarks".
bench:
	scripts/install-test-deps.sh
	scripts/setup-venv.sh $(VENV) test,bench
	$(BIN)/python bench/snmp_poll.py
	$(BIN)/python bench/ping_sweep.py
	$(BIN)/python bench/influx_write.py
	$(BIN)/python bench/capacity.py
	$(BIN)/python bench/history_write.py
	$(BIN)/python bench/planning_export.py
	$(BIN)/python bench/ocpp_load.py
	$(BIN)/python bench/simulator_capacity.py
	$(BIN)/python bench/status_page.py
