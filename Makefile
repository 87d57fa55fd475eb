# The two README commands: `make demo` and `make test`. Each builds .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TYPES  := $(VENV)/typecheck
PYTEST_ARGS ?=

.PHONY: demo test check lint typecheck pytest slow docs bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "qsession needs Python 3.11 or newer; set PYTHON=python3.11"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,plot,diagrams,ibm,server]"
	@# mypy cannot follow setuptools' editable import hook: give it the qsession.* names
	@# through directory links (new modules are seen without reinstalling).
	@mkdir -p $(TYPES)/qsession
	@for p in model diagrams runtime insight server properties cli pytest_plugin; do ln -sfn "$(CURDIR)/$$p" "$(TYPES)/qsession/$$p"; done
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qsession demo

test: lint typecheck pytest

# The edit-test loop: ruff and the tests that start no server, browser or side process
# and need no wall clock, on both cores (a few minutes; `make test` runs everything).
CHECK_TESTS := tests/model tests/diagrams tests/runtime tests/insight tests/properties \
	tests/pytest_plugin tests/test_layout.py tests/test_semantics_doc.py \
	tests/test_user_facing_text.py tests/test_packaging.py tests/test_readme.py
check: lint
	$(BIN)/pytest -m "not slow and not wall" -n 2 -q $(CHECK_TESTS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	MYPYPATH=$(TYPES) $(BIN)/mypy -p qsession.model -p qsession.diagrams -p qsession.runtime -p qsession.insight -p qsession.server -p qsession.properties -p qsession.cli \
		-p qsession.pytest_plugin
	MYPYPATH=$(TYPES) $(BIN)/mypy --strict bench

# Campaigns marked `slow` (side environments, old clients, long crash runs) stay out of
# `make test`'s ten minutes; `make slow` runs them.
pytest: $(STAMP)
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

slow: $(STAMP)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/qsession diagram --machine session --format svg --output docs/session-lifecycle.svg
	$(BIN)/qsession diagram --machine job --format svg --output docs/job-lifecycle.svg
	$(BIN)/python -m qsession.diagrams.markdown > docs/lifecycle.md
	$(BIN)/python -m qsession.cli.semantics_doc docs/semantics.md

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info qsession-out
