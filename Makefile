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

# The edit-test loop: ruff and the tests that start no server, browser, cluster or side
# process, need no wall clock and run no campaign or long Hypothesis run, on both cores
# (README: how long it takes; `make test` runs everything). tests/server starts servers and
# the Markdown, example and bench tests run programs: they stay out; elsewhere a test that
# is heavy says so (`@pytest.mark.heavy`).
CHECK_TESTS := tests/model tests/diagrams tests/runtime tests/insight tests/properties \
	tests/pytest_plugin tests/test_layout.py tests/test_semantics_doc.py \
	tests/test_user_facing_text.py tests/test_packaging.py tests/test_readme.py \
	tests/test_docs_command.py
check: lint
	$(BIN)/pytest -m "not slow and not wall and not heavy" -n 2 -q $(CHECK_TESTS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	MYPYPATH=$(TYPES) $(BIN)/mypy -p qsession.model -p qsession.diagrams -p qsession.runtime -p qsession.insight -p qsession.server -p qsession.properties -p qsession.cli \
		-p qsession.pytest_plugin
	MYPYPATH=$(TYPES) $(BIN)/mypy --strict bench

# Campaigns marked `slow` (side environments, old clients, long crash runs) stay out of
# `make test`'s ten minutes; `make slow` runs them. The suite runs on both cores, then the
# tests that measure real seconds (`wall`) run alone, so the other half cannot slow them.
pytest: $(STAMP)
	$(BIN)/pytest -m "not slow and not wall" -n 2 $(PYTEST_ARGS)
	$(BIN)/pytest -m "wall and not slow" $(PYTEST_ARGS)

slow: $(STAMP)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/qsession diagram --machine session --format svg --output docs/session-lifecycle.svg
	$(BIN)/qsession diagram --machine job --format svg --output docs/job-lifecycle.svg
	$(BIN)/python -m qsession.diagrams.markdown > docs/lifecycle.md
	$(BIN)/python -m qsession.cli.semantics_doc docs/semantics.md
	$(BIN)/python -m qsession.server.openapi > docs/openapi.json

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info qsession-out
