# The two commands a user needs are `make demo` and `make test`; the rest are their parts.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
KAFKA_NODES ?= 3

.PHONY: venv bytecode lock lint check chromium a11y services-up services-down demo test coverage \
  bench bench-cdc clean

venv: $(VENV)/.installed

# uv is pinned and only drives pip-compatible installs from the hashed lock file. The install is
# byte-compiled: the tests start hundreds of Python processes, and where PYTHONDONTWRITEBYTECODE
# is set (as on these machines) each would otherwise compile every module it imports (~1.5 s).
$(VENV)/.installed: requirements.lock pyproject.toml
	command -v uv >/dev/null 2>&1 && uv --version | grep -q " $(UV_VERSION)" \
	  || python3 -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	uv venv -q --allow-existing --python python3 $(VENV)
	uv pip sync -q --compile-bytecode --python $(PY) requirements.lock
	uv pip install -q --python $(PY) --no-deps -e .
	touch $@

# relmig's own modules (an editable install) change between runs; compileall rewrites only
# what changed.
bytecode: venv
	$(PY) -m compileall -q src tests bench

lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	  -o requirements.lock -q

lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

# The fast tier for the edit-test loop: lint and every test that needs no server.
check: lint bytecode
	$(PYTEST) -m "not services" -q

# The suite runs in PYTEST_WORKERS processes (pytest-xdist): most tests wait on servers, not on
# the CPU. The few that restart or reconfigure a server every test uses (marked `alone`) run
# after them in one process; tests/sharing.py says how the rest share the servers.
PYTEST_WORKERS ?= 3
PYTEST := $(VENV)/bin/pytest

# The browser tests drive Debian's chromium (Playwright cannot download its own browsers here).
chromium:
	@test -x /usr/bin/chromium || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends chromium \
	  || { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }; }

# axe-core for the browser tests' accessibility rules, from npm, pinned by tests/a11y's lock file.
A11Y := tests/a11y/node_modules/.package-lock.json
a11y: $(A11Y)
$(A11Y): tests/a11y/package.json tests/a11y/package-lock.json
	npm ci --prefix tests/a11y --no-audit --no-fund --loglevel=error

# The tests also need the second MongoDB wire target (mongo2) and the fault proxy (--faults).
SERVICES_UP := dev/services up --kafka-nodes $(KAFKA_NODES) --faults --mongo2 --pg18

services-up: venv
	$(SERVICES_UP)

services-down:
	dev/services down

demo: venv
	dev/services up
	dev/demo

# Services are stopped whatever pytest returns, so the next run starts clean. `make coverage`
# is the same run measuring relmig's line coverage, which costs the tests' processes half as
# much CPU again (docs/testing.md), so CI's `make test` leaves it out.
test coverage: bytecode chromium a11y
	$(SERVICES_UP)
	status=0; \
	  $(PYTEST) -n $(PYTEST_WORKERS) --dist loadgroup -m "not alone" $(COV_FIRST) \
	    $(PYTEST_ARGS) || status=$$?; \
	  $(PYTEST) -m alone $(COV_LAST) $(PYTEST_ARGS) \
	    || { code=$$?; [ $$code -eq 5 ] || status=$$code; }; \
	  dev/services down; exit $$status

coverage: COV_FIRST := --cov=relmig --cov-report=
coverage: COV_LAST := --cov=relmig --cov-append --cov-report=term

bench: venv
	dev/services up
	$(PY) bench/snapshot.py

bench-cdc: venv
	dev/services up
	$(PY) bench/cdc.py

clean:
	dev/services down || true
	rm -rf $(VENV) .dev
