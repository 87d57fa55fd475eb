"""What a user reads cites only what a user has.

Code (docstrings, comments, messages), help texts, the README and docs/ cite the project's
own semantics page, docs/semantics.md, never a document outside the repository; every
relative link in the Markdown files points at a file that exists; and every command's
``--help`` is free of such citations too.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from qsession.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
# Spelt in parts, so that this file does not trip its own check: the name of the contract
# kept outside the repository, the section sign its citations use, its design notes.
OUTSIDE_DOC, SECTION, OUTSIDE_NOTES = "SP" + "EC", "\u00a7", "DES" + "IGN.md"
FORBIDDEN = re.compile(rf"\b{OUTSIDE_DOC}\b|{SECTION}|\b{re.escape(OUTSIDE_NOTES)}\b")
SHIPPED = ("model", "diagrams", "runtime", "insight", "properties", "server", "cli",
           "pytest_plugin", "bench", "tests", "docs", "examples", ".ci")
TEXT = {".py", ".md", ".html", ".css", ".js", ".toml", ".txt", ".json", ".jsonl", ""}


def shipped_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "Makefile"]
    for folder in SHIPPED:
        files += [p for p in sorted((ROOT / folder).rglob("*"))
                  if p.is_file() and p.suffix in TEXT and "__pycache__" not in p.parts]
    return [p for p in files if p.exists()]


def test_no_shipped_file_cites_a_document_users_do_not_have() -> None:
    files = shipped_files()
    assert len(files) > 100
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
            for p in files
            for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
            if FORBIDDEN.search(line)]
    assert not hits, "\n".join(hits)


def test_the_check_finds_a_citation() -> None:
    assert FORBIDDEN.search(f"as {OUTSIDE_DOC} {SECTION}5 says")
    assert FORBIDDEN.search(f"as {SECTION}8 says")
    assert FORBIDDEN.search(f"see {OUTSIDE_NOTES}")
    assert FORBIDDEN.search(f"[rules]({'../' + OUTSIDE_DOC}.md)")
    assert not FORBIDDEN.search("INSPECTION of docs/semantics.md")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.name)
def test_every_relative_link_points_at_a_file_that_exists(path: Path) -> None:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    missing = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        if not (path.parent / target.split("#", 1)[0]).resolve().exists():
            missing.append(target)
    assert not missing, f"{path.name} links to files that do not exist: {missing}"


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_no_help_text_cites_a_document_users_do_not_have() -> None:
    runner = CliRunner()
    seen = 0
    for path in commands(main):
        result = runner.invoke(main, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        assert not FORBIDDEN.search(result.output), (path, result.output)
        seen += 1
    assert seen >= 10
