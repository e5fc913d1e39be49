# Developer commands. Every target sets up what it needs: on a fresh machine with python3 (3.11+)
# and make, `make test` and `make run` fetch uv into .tools/ (no sudo, system Python untouched),
# sync the workspace into .venv/ from uv.lock, and go.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := $(CURDIR)/.tools
UV := $(TOOLS)/bin/uv
UV_VERSION ?= 0.13.9
VENV := $(CURDIR)/.venv
export UV_PYTHON_DOWNLOADS := never
# The interpreter itself, not a shim in front of it (pyenv): uv compares paths.
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_LINK_MODE := copy
RUN := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=

.PHONY: help
help: ## List the developer commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml devtools/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

.PHONY: setup
setup: $(VENV)/.synced ## Install uv and sync the workspace (done by every other target)

.PHONY: lock
lock: $(UV) ## Re-resolve dependencies into uv.lock
	$(UV) lock

.PHONY: run
run: setup ## Start the whole system on embedded defaults (Ctrl-C stops everything)
	$(RUN) devstack up

.PHONY: stop
stop: setup ## Stop a `make run` from another terminal, or what a killed one left running
	@$(RUN) devstack stop

# Operator commands beside `make run`: each runs the service's own CLI with the settings `make run`
# wrote to .data/devstack.json (with a production environment, run the CLIs themselves).
SINCE ?= 1h
SERVICE ?= reservation

.PHONY: reconcile
reconcile: setup ## Stripe vs reservations, republish what is missing: make reconcile SINCE=24h [ARGS=--dry-run]
	@$(RUN) devstack exec reservation -- python -m reservation reconcile --since "$(SINCE)" $(ARGS)

.PHONY: requeue
requeue: setup ## Publish again what an outbox sent: make requeue SERVICE=reservation|checkout SINCE=1h
	@$(RUN) devstack exec "$(SERVICE)" -- python -m backbone.db.requeue --since "$(SINCE)" $(ARGS)

.PHONY: dlq
dlq: setup ## Dead letters (inspect, replay): make dlq ARGS="topics" (ARGS="--help" lists the rest)
	@$(RUN) devstack exec kafka -- dlq $(ARGS)

.PHONY: infra
infra: setup ## Start only PostgreSQL and the broker, with every topic created
	$(RUN) devstack up --infra-only

.PHONY: token
token: setup ## Print a development bearer token: make token USER=<id> EMAIL=<address>
	@$(RUN) python -m devstack.devauth token --user "$(USER)" --email "$(EMAIL)"

# The fast tier first: lint (with the layer contracts), typecheck and the unit tests (no
# PostgreSQL, broker or child process: marked neither integration, e2e nor slow) fail in about a
# minute; only then the rest, on real PostgreSQL, a real broker, real processes and real HTTP.
# Exit status 5 (nothing collected) is not a failure: PYTEST_ARGS may name one tier's tests only.
UNIT := not integration and not e2e and not slow
# The rest is mostly waiting (outages held for 30 s, group joins, stacks starting), so it runs in
# TEST_WORKERS pytest-xdist processes, one test file per worker at a time: each worker starts its
# own embedded PostgreSQL and broker (or containers). A broker from the environment is shared by
# every worker, and the end-to-end stacks use the contract topic names, so then one process only.
TEST_WORKERS ?= $(if $(KAFKA_BOOTSTRAP_SERVERS),0,3)
REST := -n $(TEST_WORKERS) --dist loadfile

.PHONY: test
test: setup ## Lint, typecheck, the unit tier, then every test on real PostgreSQL, broker and HTTP
	@$(MAKE) --no-print-directory lint typecheck
	$(RUN) pytest -m "$(UNIT)" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(RUN) pytest -m "not ($(UNIT))" $(REST) $(PYTEST_ARGS) || [ $$? -eq 5 ]

.PHONY: test-unit
test-unit: setup ## Run the fast tests that need no infrastructure (30-40 s)
	$(RUN) pytest -m "$(UNIT)" $(PYTEST_ARGS)

.PHONY: fuzz
fuzz: setup ## Schemathesis against checkout's and the reservation API's OpenAPI schemas (authenticated); FUZZ_MAX_EXAMPLES=200
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-200} $(RUN) pytest -s tests/e2e/test_openapi_fuzz.py $(PYTEST_ARGS)

.PHONY: bench
bench: setup ## Benchmark the pipeline (ingest, end to end, catch-up, load curve) into BENCHMARKS.md
	$(RUN) python -m bench $(BENCH_ARGS)

.PHONY: soak
soak: setup ## Payments for SOAK_MINUTES (10) while random faults hit; exits 1 on any loss
	$(RUN) python -m bench.soak --minutes $(or $(SOAK_MINUTES),10) $(SOAK_ARGS)

.PHONY: bench-ingest
bench-ingest: setup ## Benchmark webhook-ingest (closed-loop max, fixed rate, 2x overload) against a no-op FastAPI endpoint
	$(RUN) python -m bench.ingest $(BENCH_ARGS)

.PHONY: lint
lint: setup ## ruff check, ruff format --check and the import-layer contracts (pyproject.toml)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports --no-logo

.PHONY: fmt
fmt: setup ## Format and fix what ruff can
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

.PHONY: typecheck
typecheck: setup ## mypy over every package
	$(RUN) mypy

.PHONY: clean
clean: ## Remove the virtualenv, tools and local data
	rm -rf $(VENV) $(TOOLS) .data .pytest_cache .mypy_cache .ruff_cache
