"""What an install holds: every package folder, the examples, the licence, a readable version.

The slow end-to-end check (a wheel built and installed in a fresh environment outside the
repository) is tests/test_install.py; these are the quick checks of the same promises.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from qsession.cli import examples
from qsession.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def installed_folders() -> dict[str, Path]:
    """Every folder below a mapped package that holds Python or data files, by package name."""
    found = {}
    for package, folder in SETUPTOOLS["package-dir"].items():
        for path in [ROOT / folder, *sorted((ROOT / folder).rglob("*"))]:
            if not path.is_dir() or path.name == "__pycache__":
                continue
            if any(p.is_file() for p in path.iterdir()):
                rel = path.relative_to(ROOT / folder).parts
                found[".".join([package, *rel])] = path
    return found


def test_every_folder_that_should_install_is_a_listed_package() -> None:
    # A folder missing from `packages` is silently left out of the wheel (and setuptools
    # warns when it holds package data); new subpackages must be added there.
    missing = sorted(set(installed_folders()) - set(SETUPTOOLS["packages"]))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_the_version_a_program_reads_is_the_declared_one() -> None:
    declared = PYPROJECT["project"]["version"]
    assert importlib.metadata.version("qsession") == declared
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and declared in result.output


def test_the_licence_is_the_apache_licence_the_metadata_names() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_pytest_comes_with_qsession_so_its_plugin_loads() -> None:
    deps = PYPROJECT["project"]["dependencies"]
    assert any(d.startswith("pytest>=") for d in deps)
    assert PYPROJECT["project"]["entry-points"]["pytest11"]["qsession"] == "qsession.pytest_plugin"


def test_examples_lists_every_example_program() -> None:
    shipped = sorted(p.relative_to(ROOT / "examples").as_posix()
                     for p in (ROOT / "examples").rglob("*.py"))
    assert [e.relative for e in examples.find()] == sorted(
        shipped, key=lambda r: (list(examples.GROUPS).index(r.rpartition("/")[0]), r))
    result = CliRunner().invoke(main, ["examples"], terminal_width=80)
    assert result.exit_code == 0, result.output
    for rel in shipped:
        assert rel in result.output
    assert all(len(line) <= 100 for line in result.output.splitlines())
    assert "qsession run -- python FILE" in result.output


def test_examples_copy_writes_runnable_files_and_never_overwrites(tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    result = CliRunner().invoke(main, ["examples", "--copy", str(dest)])
    assert result.exit_code == 0, result.output
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.py"))
    assert copied == sorted(e.relative for e in examples.find())
    assert (dest / "unchanged" / "session_sampler.py").read_text() == (
        ROOT / "examples" / "unchanged" / "session_sampler.py").read_text()
    assert f"qsession run -- python {dest / 'unchanged' / 'session_sampler.py'}" in result.output

    (dest / "seed_vqe.py").write_text("# mine\n")
    again = CliRunner().invoke(main, ["examples", "--copy", str(dest)])
    assert again.exit_code == 1 and "exists; choose another folder or pass --force" in again.output
    assert (dest / "seed_vqe.py").read_text() == "# mine\n"
    forced = CliRunner().invoke(main, ["examples", "--copy", str(dest), "--force"])
    assert forced.exit_code == 0 and (dest / "seed_vqe.py").read_text() != "# mine\n"


@pytest.mark.heavy  # a program run in a side process
def test_a_copied_example_runs_where_it_was_copied(tmp_path: Path) -> None:
    examples.copy_to(tmp_path)
    done = subprocess.run([sys.executable, str(tmp_path / "ibm" / "job_mode.py")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]



def test_every_file_of_the_docs_folder_installs_with_the_pages() -> None:
    # `qsession docs` prints the pages and names their files: a page, picture or document
    # added to docs/ that the package data's patterns miss would be absent from a wheel.
    assert SETUPTOOLS["package-dir"]["qsession.docs"] == "docs"
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["qsession.docs"]
    files = sorted(p.name for p in (ROOT / "docs").iterdir() if p.is_file())
    assert "semantics.md" in files and "server-page-session.png" in files
    left_out = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not left_out, f"add a pattern for them to package-data 'qsession.docs': {left_out}"


def test_the_pages_link_only_to_files_installed_beside_them() -> None:
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            linked = (page.parent / target.split("#", 1)[0]).resolve()
            assert linked.parent == (ROOT / "docs").resolve(), (page.name, target)
