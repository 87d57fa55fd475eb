"""The house keeps its shape: each package imports only the packages below it.

The rule (docs/design.md, "Packaging"): model ← runtime ← insight; diagrams → model;
properties → model, runtime; server and cli on top. Every import statement is read from
the source, including imports inside functions and under ``TYPE_CHECKING``, so a lazy
import cannot hide a backward arrow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "diagrams", "runtime", "insight", "properties", "server", "cli")
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "diagrams": {"model"},
    "runtime": {"model"},
    "insight": {"model", "runtime", "diagrams"},
    "properties": {"model", "runtime"},
    "server": {"model", "runtime", "insight", "properties", "diagrams"},
    "cli": {"model", "runtime", "insight", "properties", "diagrams", "server"},
}
TRACE_READERS = ("metrics", "spans", "perfetto", "story", "timeline", "workloads")


def project_imports(path: Path) -> set[str]:
    """The qsession packages a source file imports (absolute and relative imports)."""
    package = path.parent.name
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside this package
                continue
            names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "qsession" and len(parts) > 1 and parts[1] != package:
                found.add(parts[1])
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).glob("*.py"))


@pytest.mark.parametrize("package", [p for p in PACKAGES if (ROOT / p).is_dir()])
def test_each_package_imports_only_the_packages_below_it(package: str) -> None:
    wrong = {f"{path.relative_to(ROOT)} imports qsession.{other}"
             for path in sources(package) for other in project_imports(path)
             if other not in ALLOWED[package]}
    assert not wrong, sorted(wrong)


def test_the_rule_catches_a_backward_import(tmp_path: Path) -> None:
    bad = tmp_path / "runtime" / "oops.py"
    bad.parent.mkdir()
    bad.write_text("def f():\n    from qsession.insight.metrics import compute\n"
                   "    from . import clock\n")
    assert project_imports(bad) == {"insight"}


def test_every_package_folder_is_in_the_rule() -> None:
    folders = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"bench", "tests"}
    assert folders <= set(PACKAGES), folders - set(PACKAGES)


def test_trace_readers_need_neither_qiskit_nor_the_scheduler() -> None:
    modules = ", ".join(f"qsession.insight.{m}" for m in TRACE_READERS)
    code = (f"import sys, {modules}; "
            "print(sorted(m for m in ('qiskit', 'qsession.runtime.scheduler', 'matplotlib')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
