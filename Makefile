# The README contract: `make demo` and `make test` work from a clean clone, installing what they need in .venv.
# `make help` lists every target from the `## ` comment on its line.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: the demo installs the collection's runtime and the sandbox only (RUNTIME), the tests add their
# tooling on top (DEV). Either can come first; each installs only what is missing.
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
# No --quiet: pip's own lines (Collecting, Downloading with a progress bar on a terminal, Installing) are the
# progress of the longest step of a first run.
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check
SANDBOX_PORT ?= 4566
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

comma := ,
# One line per phase, with the time of day, so a long run shows where it is.
banner = @printf '\n==> [%s] %s\n' "$$(date +%H:%M:%S)" "$(1)"

.PHONY: help venv venv-dev sandbox demo test test-unit test-integration test-molecule test-matrix lint sanity bench clean

help: ## list the targets
	@echo "usage: make TARGET  (Python 3.11 and access to a PyPI index needed; the first run installs into .venv)"
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  make %-17s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "make: need $(PYTHON) on PATH (or make PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt requirements-sandbox.txt constraints.txt galaxy.yml tools/install_collections.py | $(BIN)/python
	$(call banner,install: ansible-core$(comma) boto3 and the sandbox into $(VENV) (requirements.txt$(comma) requirements-sandbox.txt))
	$(PIP_INSTALL) -c constraints.txt -r requirements.txt -r requirements-sandbox.txt
	$(call banner,install: the collections galaxy.yml depends on (amazon.aws$(comma) community.aws))
	$(BIN)/python -m tools.install_collections
	touch $@

$(DEV_STAMP): requirements-dev.txt constraints.txt $(RUNTIME_STAMP)
	$(call banner,install: the test tooling into $(VENV) (requirements-dev.txt: molecule$(comma) ansible-lint$(comma) pytest$(comma) ...))
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

venv: $(RUNTIME_STAMP) ## install the collection's runtime and the sandbox into .venv (what demo needs)

venv-dev: $(DEV_STAMP) ## install that plus the test tooling (what test needs)

sandbox: $(RUNTIME_STAMP) ## run the local AWS endpoint on http://127.0.0.1:$SANDBOX_PORT (default 4566; Ctrl-C stops it)
	$(BIN)/python -m sandbox --port $(SANDBOX_PORT)

demo: $(RUNTIME_STAMP) ## start the sandbox, run setup (with verify) and teardown against it, print a summary
	$(call banner,demo: sandbox on port $(SANDBOX_PORT)$(comma) setup with verify$(comma) teardown)
	$(BIN)/python -m tools.demo --port $(SANDBOX_PORT)

# ansible-core 2.19 is make test's own controller (test-unit, test-integration, sanity); the matrix adds the others.
test: MATRIX_CORES = 2.17 2.18
test: $(DEV_STAMP) test-unit test-integration test-molecule lint sanity test-matrix ## test-unit, test-integration, test-molecule, lint, sanity, test-matrix (2.17, 2.18) in that order, a banner for each
	$(call banner,test: every phase passed (unit$(comma) integration$(comma) molecule$(comma) lint$(comma) sanity$(comma) matrix))

test-unit: $(DEV_STAMP) ## pytest tests/unit (no network)
	$(call banner,test-unit: pytest tests/unit)
	$(BIN)/python -m pytest -q tests/unit

# Integration tests spend most of their time waiting on sandbox polls and ansible-playbook start-up, so three
# workers (each with its own sandbox) keep two cores busy; --dist loadfile keeps a file's module fixtures together.
INTEGRATION_WORKERS ?= 3
test-integration: $(DEV_STAMP) ## pytest tests/integration against sandboxes, then the artifact test alone
	$(call banner,test-integration: pytest tests/integration ($(INTEGRATION_WORKERS) workers$(comma) one sandbox each))
	$(BIN)/python -m pytest -q -n $(INTEGRATION_WORKERS) --dist loadfile --durations=25 tests/integration \
		--ignore=tests/integration/test_artifact.py
	# The artifact test builds from the checkout and installs into a fresh path; it runs alone, after the others.
	$(call banner,test-integration: tests/integration/test_artifact.py (build$(comma) install offline$(comma) run by FQCN))
	$(BIN)/python -m pytest -q tests/integration/test_artifact.py

# molecule 26 finds extensions/molecule/*/molecule.yml from the collection root (galaxy.yml) and runs the
# scenarios one after the other; each starts and stops its own sandbox.
test-molecule: $(DEV_STAMP) ## every molecule scenario in extensions/molecule, each on its own sandbox
	$(call banner,test-molecule: molecule test --all)
	$(BIN)/molecule test --all

# The controller matrix (docs/design.md, "Controllers"): tox-ansible's unit, sanity and integration environments on
# each ansible-core of MATRIX_CORES, one after the other (the machine has two cores).
MATRIX_CORES ?= 2.17 2.18 2.19
MATRIX_ENVS = $(shell printf '%s,' $(foreach c,$(MATRIX_CORES),unit-py3.11-$(c) sanity-py3.11-$(c) integration-py3.11-$(c)) | sed 's/,$$//')
test-matrix: $(DEV_STAMP) ## unit, sanity and one playbook run on each ansible-core of MATRIX_CORES (tox-ansible)
	$(call banner,test-matrix: tox-ansible on ansible-core $(MATRIX_CORES))
	$(BIN)/tox --ansible -c tox-ansible.ini -e $(MATRIX_ENVS)

lint: $(DEV_STAMP) ## yamllint, shellcheck, ansible-lint, changelog, execution environment (tools/lint.sh)
	$(call banner,lint: tools/lint.sh)
	tools/lint.sh

sanity: $(DEV_STAMP) ## ansible-test sanity on Python 3.11 (tools/sanity.sh)
	$(call banner,sanity: tools/sanity.sh (ansible-test sanity))
	tools/sanity.sh

bench: $(DEV_STAMP) ## benchmarks against the sandbox; writes bench/RESULTS.md
	$(call banner,bench: python -m bench)
	$(BIN)/python -m bench

clean: ## remove .venv and test output
	rm -rf $(VENV) .pytest_cache tests/output
