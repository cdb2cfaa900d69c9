# The README contract: `make demo` and `make test` work from a clean clone, installing what they need in .venv.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX_PORT ?= 4566
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help venv sandbox demo test test-unit test-integration test-molecule test-matrix lint sanity bench clean

help:
	@echo "make demo    - install, start the sandbox, run setup (with verify) and teardown, show the result"
	@echo "make test    - install and run every test: unit, integration, molecule, linters"
	@echo "make sandbox - run the local AWS endpoint on http://127.0.0.1:$(SANDBOX_PORT) (Ctrl-C stops it)"
	@echo "make bench   - benchmarks against the sandbox; writes bench/RESULTS.md"

$(STAMP): requirements.txt requirements-sandbox.txt requirements-dev.txt constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(STAMP)

sandbox: $(STAMP)
	$(BIN)/python -m sandbox --port $(SANDBOX_PORT)

demo: $(STAMP)
	$(BIN)/python -m tools.demo --port $(SANDBOX_PORT)

# ansible-core 2.19 is make test's own controller (test-unit, test-integration, sanity); the matrix adds the others.
test: MATRIX_CORES = 2.17 2.18
test: $(STAMP) test-unit test-integration test-molecule lint sanity test-matrix

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

# Integration tests spend most of their time waiting on sandbox polls and ansible-playbook start-up, so three
# workers (each with its own sandbox) keep two cores busy; --dist loadfile keeps a file's module fixtures together.
INTEGRATION_WORKERS ?= 3
test-integration: $(STAMP)
	$(BIN)/python -m pytest -q -n $(INTEGRATION_WORKERS) --dist loadfile --durations=25 tests/integration \
		--ignore=tests/integration/test_artifact.py
	# The artifact test builds from the checkout and installs into a fresh path; it runs alone, after the others.
	$(BIN)/python -m pytest -q tests/integration/test_artifact.py

# molecule 26 finds extensions/molecule/*/molecule.yml from the collection root (galaxy.yml) and runs the
# scenarios one after the other; each starts and stops its own sandbox.
test-molecule: $(STAMP)
	$(BIN)/molecule test --all

# The controller matrix (docs/design.md, "Controllers"): tox-ansible's unit, sanity and integration environments on
# each ansible-core of MATRIX_CORES, one after the other (the machine has two cores).
MATRIX_CORES ?= 2.17 2.18 2.19
MATRIX_ENVS = $(shell printf '%s,' $(foreach c,$(MATRIX_CORES),unit-py3.11-$(c) sanity-py3.11-$(c) integration-py3.11-$(c)) | sed 's/,$$//')
test-matrix: $(STAMP)
	$(BIN)/tox --ansible -c tox-ansible.ini -e $(MATRIX_ENVS)

lint: $(STAMP)
	tools/lint.sh

sanity: $(STAMP)
	tools/sanity.sh

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache tests/output
