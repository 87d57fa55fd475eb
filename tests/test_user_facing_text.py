"""What a user reads cites only what a user has.

Code (docstrings, comments, messages), help texts, the README and docs/ cite the project's
own semantics page, never a document outside the repository; every relative link in the
Markdown files points at a file that exists; and every command's ``--help`` is free of such
citations too. What an installed qsession shows its user (messages, ``--help``, docstrings,
the OpenAPI document, the pages ``qsession docs`` prints) cites no file of the repository
that the wheel lacks: an installed page is cited as ``qsession docs TOPIC "Section"``, and
each such citation names a page and a heading that exist.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from qsession.cli.docs import UnknownPage, page, plain
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


def help_texts() -> dict[str, str]:
    """Every command's ``--help`` at 80 columns, by command line."""
    runner = CliRunner()
    texts = {}
    for path in commands(main):
        result = runner.invoke(main, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        texts[" ".join(("qsession", *path, "--help"))] = result.output
    return texts


def test_no_help_text_cites_a_document_users_do_not_have() -> None:
    texts = help_texts()
    assert len(texts) >= 10
    for where, text in texts.items():
        assert not FORBIDDEN.search(text), (where, text)
        assert not REPOSITORY_FILE.search(text), (where, text)


# -- what an installed qsession shows cites what an install has --------------------------

# A path into the repository's folders that do not install as such (docs/ installs as the
# pages of `qsession docs`, examples/ as what `qsession examples --copy` writes), or a bare
# Markdown file name: a wheel user has neither at that path. URLs are not paths here
# (quantum.cloud.ibm.com/docs/... is preceded by a slash).
REPOSITORY_FILE = re.compile(
    r"(?<![\w/.:~-])(?:docs|tests|bench|examples|\.ci)/[\w.-][\w./-]*|(?<![\w/.-])[\w-]+\.md\b")
# How code and pages cite an installed page: a command that prints it (or that section).
DOCS_CITATION = re.compile(r'qsession docs ([a-z][\w-]*)(?: "([^"]+)")?')
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]


def installed_strings() -> list[tuple[str, str]]:
    """Every string an installed qsession can show, with where it is: the string literals
    of its modules (docstrings, messages, help, f-string parts), its pages' scripts and
    templates. Comments are left out: nothing shows them."""
    found = []
    for package, folder in PACKAGE_DIRS.items():
        if package == "qsession.docs":
            continue
        for path in sorted((ROOT / folder).rglob("*")):
            where = path.relative_to(ROOT).as_posix()
            if path.suffix == ".py":
                for node in ast.walk(ast.parse(path.read_text(), where)):
                    if isinstance(node, ast.Constant) and isinstance(node.value, str):
                        found.append((f"{where}:{node.lineno}", node.value))
            elif path.suffix in {".html", ".js", ".css"}:
                found.append((where, path.read_text()))
    return found


def pages() -> list[Path]:
    """The installed pages (the package data of ``qsession.docs`` that is text)."""
    return [p for p in sorted((ROOT / "docs").iterdir()) if p.suffix in {".md", ".json"}]


def repository_files_cited(text: str) -> list[str]:
    return REPOSITORY_FILE.findall(text)


def unresolved(text: str) -> list[str]:
    """The ``qsession docs TOPIC "Section"`` citations in ``text`` that name no page, or no
    heading of it (compared without case or Markdown markup)."""
    bad = []
    for match in DOCS_CITATION.finditer(text):
        topic, section = match.groups()
        try:
            cited = page(topic)
        except UnknownPage:
            bad.append(match.group(0))
            continue
        if section and plain(section) not in {plain(h) for _, h, _ in cited.headings()}:
            bad.append(match.group(0))
    return bad


CITE_HOW = ("cite an installed page as `qsession docs TOPIC \"Section\"` (the command prints "
            "it), or say the point in the text itself")


def test_no_installed_string_cites_a_repository_file() -> None:
    strings = installed_strings()
    assert len(strings) > 5000
    hits = [f"{where}: {cited}" for where, text in strings
            for cited in repository_files_cited(text)]
    assert not hits, CITE_HOW + ":\n" + "\n".join(hits)


def test_installed_pages_link_to_each_other_not_to_repository_paths() -> None:
    # The pages are read from the install too: a sibling page is a relative link
    # ([server.md](server.md)), which resolves in both places; docs/server.md does not.
    hits = [f"{p.name}: {cited}" for p in pages()
            for cited in re.findall(r"(?<![\w/.:~-])docs/[\w.-]+", p.read_text())]
    assert not hits, "\n".join(hits)


def test_every_docs_citation_names_a_page_and_heading_that_exist() -> None:
    sources = [*installed_strings(), *help_texts().items(),
               *((p.name, p.read_text()) for p in [*pages(), ROOT / "README.md"])]
    cited = [(where, m.group(0)) for where, text in sources
             for m in DOCS_CITATION.finditer(text)]
    assert len(cited) >= 15
    assert {"semantics", "server", "trace-format", "rest-api"} <= {
        DOCS_CITATION.match(c).group(1) for _, c in cited}  # type: ignore[union-attr]
    bad = [f"{where}: {c}" for where, text in sources for c in unresolved(text)]
    assert not bad, "\n".join(bad)


def test_the_installed_file_checks_find_what_they_must() -> None:
    for text in ("see docs/server.md", "(tests/server/test_cli.py)", "python examples/x.py",
                 "bench/b14_page.py", ".ci/run", "in semantics.md, 'Jobs'"):
        assert repository_files_cited(text), text
    for text in ("quantum.cloud.ibm.com/docs/guides/run-jobs-session", "the docs/ folder",
                 'qsession docs semantics "Durability"', "qiskit-ibm-runtime's README"):
        assert not repository_files_cited(text), text
    assert unresolved('qsession docs nosuchpage') == ["qsession docs nosuchpage"]
    assert unresolved('see qsession docs semantics ' + '"No such heading"')
    assert unresolved('qsession docs server "Other HTTP clients" and qsession docs '
                      'semantics "The HTTP door"') == []
