# Two commands: `make run` (embedded DynamoDB, notebooks, docs site) and `make test`.
# Every target installs what it needs first, so each works alone on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_PORT ?= 8000

.PHONY: install run test bench lab docs serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	@bash scripts/ensure_chromium.sh
	@touch $(STAMP)

run: install
	$(BIN)/python -m salestalk_lib.run --docs-port $(DOCS_PORT)

test: install
	$(BIN)/python -m pytest

docs: install
	$(BIN)/python -m salestalk_lib.docsgen
	$(BIN)/mkdocs build --strict

bench: install
	$(BIN)/python -m salestalk_lib.bench

lab: install
	$(BIN)/python -m pip install --quiet -e '.[test,docs,lab]'
	$(BIN)/jupyter lab notebooks/

serve: install
	$(BIN)/salestalk serve

clean:
	rm -rf site build .pytest_cache docs/generated docs/notebooks
