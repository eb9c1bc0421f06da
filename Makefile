# The two commands a user needs are `make demo` and `make test`; the rest are their parts.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
KAFKA_NODES ?= 3

.PHONY: venv lock lint chromium services-up services-down demo test bench bench-cdc clean

venv: $(VENV)/.installed

# uv is pinned and only drives pip-compatible installs from the hashed lock file.
$(VENV)/.installed: requirements.lock pyproject.toml
	command -v uv >/dev/null 2>&1 && uv --version | grep -q " $(UV_VERSION)" \
	  || python3 -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	uv venv -q --allow-existing --python python3 $(VENV)
	uv pip sync -q --python $(PY) requirements.lock
	uv pip install -q --python $(PY) --no-deps -e .
	touch $@

lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	  -o requirements.lock -q

lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

# The browser tests drive Debian's chromium (Playwright cannot download its own browsers here).
chromium:
	@test -x /usr/bin/chromium || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends chromium \
	  || { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }; }

# The tests also need the second MongoDB wire target (mongo2) and the fault proxy (--faults).
SERVICES_UP := dev/services up --kafka-nodes $(KAFKA_NODES) --faults --mongo2

services-up: venv
	$(SERVICES_UP)

services-down:
	dev/services down

demo: venv
	dev/services up
	dev/demo

# Services are stopped whatever pytest returns, so the next run starts clean.
test: venv chromium
	$(SERVICES_UP)
	set -o pipefail; status=0; \
	  $(VENV)/bin/pytest --cov=relmig --cov-report=term $(PYTEST_ARGS) || status=$$?; \
	  dev/services down; exit $$status

bench: venv
	dev/services up
	$(PY) bench/snapshot.py

bench-cdc: venv
	dev/services up
	$(PY) bench/cdc.py

clean:
	dev/services down || true
	rm -rf $(VENV) .dev
