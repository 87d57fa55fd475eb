"""``qsession docs``: the installed documentation, listed, printed whole or by section, located.

From a wheel installed outside the repository, tests/test_install.py runs the same commands.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qsession.cli import docs
from qsession.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["docs", *args], terminal_width=80)
    return result.exit_code, result.output


def test_the_listing_names_every_page_with_its_title() -> None:
    code, out = run()
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"qsession's documentation ({len(PAGES)} pages, installed with it):"
    words = " ".join(out.split())
    for name in PAGES:
        title = next(line[2:] for line in (ROOT / "docs" / f"{name}.md").read_text().splitlines()
                     if line.startswith("# "))
        assert any(line.startswith(f"  {name} ") for line in lines), name
        assert f"{name} {docs.plain_text(title)}" in words, name
    # Each command whole on its own line; nothing wider than the 80 columns asked for.
    assert 'One section:   qsession docs semantics "Durability"' in lines
    assert "Its file:      qsession docs semantics --path" in lines
    assert " ".join(docs.REPOSITORY_FILES.split()) in words
    assert max(map(len, lines)) <= 80


def test_a_page_prints_as_its_markdown_source() -> None:
    for name in ("semantics", "server", "trace-format"):
        code, out = run(name)
        assert code == 0
        assert out == (ROOT / "docs" / f"{name}.md").read_text()
    # The name of the file is understood too.
    assert run("docs/trace-format.md") == run("trace-format")


def test_a_section_prints_from_its_heading_to_the_next_of_its_level() -> None:
    text = (ROOT / "docs" / "semantics.md").read_text()
    start = text.index("\n## Durability\n") + 1
    end = text.index("\n## ", start)
    code, out = run("semantics", "Durability")
    assert code == 0, out
    assert out == text[start:end].rstrip() + "\n"
    # Case and Markdown markup are ignored; a subsection ends at the next heading.
    code, out = run("semantics", "interception by qsession run")
    assert code == 0 and out.startswith("### Interception by `qsession run`\n")
    assert "\n## " not in out
    # A unique part of a heading is enough.
    assert run("server", "other http")[1].startswith("### Other HTTP clients\n")


def test_headings_inside_code_blocks_are_not_sections() -> None:
    page = docs.page("testing-your-code")
    assert "\n```python\n# my_vqe.py\n" in page.text()  # a comment line, not a heading
    titles = [h for _, h, _ in page.headings()]
    assert titles[0] == "Testing your own session code with pytest"
    assert not [t for t in titles if ".py" in t], titles


def test_an_unknown_page_or_section_says_what_there_is() -> None:
    code, out = run("semantic")
    assert code == 1
    assert "no page named 'semantic' (did you mean 'semantics'?)" in out
    assert all(name in out for name in PAGES)
    code, out = run("semantics", "Durabilty of jobs")
    assert code == 1
    assert "no section is headed 'Durabilty of jobs' in semantics" in out
    assert '"Durability"' in out and '"Scheduling and fair share"' in out
    code, out = run("semantics", "s")
    assert code == 1 and "more than one section matches 's'" in out


def test_path_gives_the_installed_file_or_folder() -> None:
    code, out = run("--path")
    assert code == 0 and Path(out.strip()) == (ROOT / "docs").resolve()
    code, out = run("server", "--path")
    assert code == 0 and Path(out.strip()).read_text() == (ROOT / "docs" / "server.md").read_text()
    # The pictures a page shows are installed beside it.
    for picture in ("server-page-session.png", "session-lifecycle.svg"):
        assert (Path(out.strip()).parent / picture).is_file()
