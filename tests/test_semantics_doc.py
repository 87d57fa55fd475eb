"""docs/semantics.md states what the code enforces: its generated tables are the code's own.

The tables of states, transitions, defaults, IBM's words and invariant ids are rendered
from the model's lifecycle tables, the runtime's defaults and the invariant registry
(``qsession.cli.semantics_doc``); the committed file must equal what they render, so a
changed rule, default or invariant that is not documented fails here. Citations of the
page (a section name in quotes after ``qsession docs semantics`` or after the path, or
``semantics.md#anchor``) must name its sections.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from qsession.cli import semantics_doc
from qsession.model import JOB_TABLE, SESSION_TABLE
from qsession.properties.invariants import INVARIANTS
from qsession.properties.reported import API_INVARIANTS
from qsession.runtime import LocalService, QPUSettings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "semantics.md"
SOURCES = ("model", "diagrams", "runtime", "insight", "properties", "server", "cli",
           "pytest_plugin", "bench", "tests", "docs")


def headings(text: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^#{2,4} (.+)$", text, re.MULTILINE)]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_the_committed_page_is_what_the_code_renders() -> None:
    committed = DOC.read_text()
    assert committed == semantics_doc.render(committed), (
        "docs/semantics.md's generated tables drifted from the code: run `make docs`")


def test_every_generated_block_is_on_the_page_once() -> None:
    text = DOC.read_text()
    for name in semantics_doc.BLOCKS:
        assert text.count(f"<!-- generated: {name} -->") == 1, name
        assert text.count(f"<!-- end: {name} -->") == 1, name


def test_a_changed_rule_is_caught() -> None:
    # Render a page whose transition table is stale: render() puts the model's rows back.
    text = DOC.read_text()
    stale = text.replace("| active | `ittl_elapsed` | is_idle | inactive |",
                         "| active | `ittl_elapsed` | — | inactive |")
    assert stale != text
    assert semantics_doc.render(stale) == text


def test_missing_and_unknown_blocks_are_refused() -> None:
    text = DOC.read_text()
    without = re.sub(r"<!-- generated: defaults -->.*?<!-- end: defaults -->\n", "", text,
                     flags=re.DOTALL)
    with pytest.raises(semantics_doc.DocError, match="missing \\['defaults'\\]"):
        semantics_doc.render(without)
    with pytest.raises(semantics_doc.DocError, match="unknown generated block 'nope'"):
        semantics_doc.render(text + "<!-- generated: nope -->\nx\n<!-- end: nope -->\n")


def test_the_page_names_every_state_event_and_invariant() -> None:
    text = DOC.read_text()
    for table in (SESSION_TABLE, JOB_TABLE):
        for state in table.state_names:
            assert f"`{state}`" in text, state
        for event in table.events:
            assert f"`{event.name}`" in text, event.name
    for ident in [*INVARIANTS, *API_INVARIANTS, "INV-DURATION", "INV-DURABLE"]:
        assert f"| {ident} |" in text or f"**{ident}**" in text, ident


def test_the_documented_defaults_are_the_ones_a_qpu_gets() -> None:
    # The defaults table reads LocalService's signature; a QPU built without arguments must
    # get the same values, or the table would document one and the scheduler use another.
    given = inspect.signature(LocalService).parameters
    for f in dataclasses.fields(QPUSettings):
        if f.name in given and f.default is not dataclasses.MISSING:
            assert given[f.name].default == f.default, f.name


def cited_sections() -> list[tuple[str, str]]:
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".md", ".html") or ".venv" in path.parts:
                continue
            # Installed code cites it as a command (`qsession docs semantics "Jobs"`); the
            # repository's comments and tests may still give its path.
            for m in re.finditer(r'(?:docs/semantics\.md,|qsession docs semantics) "([^"]+)"',
                                 path.read_text()):
                found.append((str(path.relative_to(ROOT)), m.group(1)))
    return found


def test_every_citation_of_the_page_names_one_of_its_sections() -> None:
    names = set(headings(DOC.read_text()))
    citations = cited_sections()
    assert len(citations) >= 5  # the code cites the page, not something else
    wrong = [(where, name) for where, name in citations if name not in names]
    assert not wrong, wrong


def test_every_link_into_the_page_lands_on_a_heading() -> None:
    anchors = {anchor(h) for h in headings(DOC.read_text())}
    wrong = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for m in re.finditer(r"\]\((?:docs/)?semantics\.md#([\w-]+)\)", path.read_text()):
            if m.group(1) not in anchors:
                wrong.append((path.name, m.group(1)))
    assert not wrong, wrong
