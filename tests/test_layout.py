"""The house keeps its shape: each package imports only the packages below it.

The rule (docs/design.md, "Packaging"): model ← runtime ← insight; diagrams → model;
properties → model, runtime; server, cli and pytest_plugin on top. Every import statement
is read from the source of every file in every subfolder, including imports inside
functions and under ``TYPE_CHECKING``, relative imports that climb out of a subpackage, and
modules named by a string to ``importlib.import_module`` or ``__import__``, so neither a
lazy import nor a string can hide a backward arrow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "diagrams", "runtime", "insight", "properties", "server", "cli",
            "pytest_plugin")
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "diagrams": {"model"},
    "runtime": {"model"},
    "insight": {"model", "runtime", "diagrams"},
    "properties": {"model", "runtime"},
    "server": {"model", "runtime", "insight", "properties", "diagrams"},
    "cli": {"model", "runtime", "insight", "properties", "diagrams", "server"},
    "pytest_plugin": {"model", "runtime", "insight", "properties", "server"},
}
TRACE_READERS = ("reading", "metrics", "spans", "perfetto", "story", "timeline", "workloads")


_IMPORT_CALLS = {"import_module", "__import__"}
"""Calls that import a module named by a string (``importlib.import_module``, ``__import__``)."""


def _module_parts(path: Path) -> list[str]:
    """``qsession.<package>[.<subfolder>...]`` of the folder ``path`` lies in, as parts."""
    return ["qsession", *path.parent.relative_to(ROOT).parts]


def _resolve(parts: list[str], level: int, module: str) -> str:
    """The absolute name a relative import ``level`` dots up from ``parts`` names."""
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, *([module] if module else [])])


def _string_import(node: ast.Call, parts: list[str]) -> str | None:
    """The module a string import call names (absolute), ``?`` when it cannot be read."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in _IMPORT_CALLS or not node.args:
        return None
    arg = node.args[0]
    text = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
    if text is None and isinstance(arg, ast.JoinedStr) and arg.values and isinstance(
            arg.values[0], ast.Constant):
        head = str(arg.values[0].value)  # the f-string's constant start
        if head.startswith("."):
            return ".".join(parts)  # relative to this package: stays inside it
        top = head.split(".")
        if top[0] != "qsession":
            return head  # another distribution's module
        if len(top) > 2:
            return head  # qsession.<package>. ... names its package
    if text is None:
        return "?"
    if text.startswith("."):
        level = len(text) - len(text.lstrip("."))
        return _resolve(parts, level, text.lstrip("."))
    return text


def project_imports(path: Path, text: str | None = None) -> set[str]:
    """The qsession packages a source file imports (absolute, relative and by string);
    ``text`` stands for the file's source when given."""
    parts = _module_parts(path)
    package = parts[1]
    found: set[str] = set()
    source = path.read_text() if text is None else text
    for node in ast.walk(ast.parse(source, str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [_resolve(parts, node.level, node.module or "") if node.level
                     else node.module or ""]
        elif isinstance(node, ast.Call):
            named = _string_import(node, parts)
            if named == "?":
                found.add("? (a module named by a computed string)")
            elif named is not None:
                names = [named]
        for name in names:
            split = name.split(".")
            if split[0] == "qsession" and len(split) > 1 and split[1] != package:
                found.add(split[1])
            elif split == ["qsession"]:
                found.add("qsession (the namespace itself)")
    return found


def sources(package: str) -> list[Path]:
    """Every source file of a package, in every subfolder."""
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("package", [p for p in PACKAGES if (ROOT / p).is_dir()])
def test_each_package_imports_only_the_packages_below_it(package: str) -> None:
    wrong = {f"{path.relative_to(ROOT)} imports qsession.{other}"
             for path in sources(package) for other in project_imports(path)
             if other not in ALLOWED[package]}
    assert not wrong, sorted(wrong)


def test_the_rule_walks_every_subfolder() -> None:
    for package, sub in (("server", "routes"), ("server", "pages"),
                         ("properties", "invariants"), ("properties", "explorer")):
        assert any(p.parent.name == sub for p in sources(package)), (package, sub)


@pytest.mark.parametrize(("where", "code", "found"), [
    ("runtime/oops.py", "def f():\n    from qsession.insight.metrics import compute\n"
                        "    from . import clock\n", {"insight"}),
    ("server/routes/oops.py", "from ...cli import main\nfrom .. import app\n", {"cli"}),
    ("properties/x/oops.py", "import importlib\nm = importlib.import_module("
                             "'qsession.insight.metrics')\n", {"insight"}),
    ("properties/oops.py", "m = __import__('qsession.server.app')\n", {"server"}),
    ("properties/oops.py", "from importlib import import_module\n"
                           "m = import_module('qsession.cli.main')\n", {"cli"}),
    ("runtime/oops.py", "import importlib\nname = 'x'\n"
                        "m = importlib.import_module(f'.{name}', __name__)\n", set()),
    ("runtime/oops.py", "import importlib\nname = 'qsession.insight'\n"
                        "m = importlib.import_module(name)\n",
     {"? (a module named by a computed string)"}),
    ("runtime/oops.py", "import importlib\nm = importlib.import_module("
                        "f'qsession.insight.{name}')\n", {"insight"}),
    ("server/oops.py", "import importlib\nm = importlib.import_module("
                       "f'ibm_quantum_schemas.v{tag}.models')\n", set()),
])
def test_the_rule_catches_a_backward_import(where: str, code: str, found: set[str]) -> None:
    assert project_imports(ROOT / where, code) == found  # read as if it stood there


FACES: dict[str, set[str]] = {
    "model": {"", "charges"},  # charges: the module whose rule table mutants patch
    "diagrams": {"", "markdown"},
    "runtime": {"", "backend_info", "campaign", "clock", "errors", "executor", "fairshare",
                "ids", "job", "joblist", "primitives", "programs", "qpu", "records",
                "recovery", "replay", "scheduler", "service", "session", "settings", "timing",
                "trace", "workload"},
    "insight": {"demo", "metrics", "perfetto", "reading", "spans", "timeline", "whatif",
                "workloads"},
    "properties": {"", "conditions", "durations", "explorer", "invariants", "machines",
                   "mutants", "profiles", "programs", "replay", "reported", "strategies"},
    "server": {"", "doors", "http_machine", "launch", "mutants", "rest_properties", "wire"},
    "cli": set(),
    "pytest_plugin": set(),
}
"""Each package's public face: the modules other packages may import ("" is the package
itself). Everything else is private to its package. A face grows only by an edit here;
the runtime's shrinks when its engine moves into a subpackage of its own (docs/design.md).
A module another package must import is added to its package's set here, on purpose."""


def _imported_modules(path: Path) -> set[tuple[str, str]]:
    """(package, module) of every other qsession package's module a file imports
    absolutely (``from qsession.runtime import trace`` names the module ``trace``)."""
    package = _module_parts(path)[1]
    found: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
            parts = node.module.split(".")
            if len(parts) == 2 and parts[0] == "qsession":
                names += [f"{node.module}.{alias.name}" for alias in node.names
                          if (ROOT / parts[1] / f"{alias.name}.py").exists()
                          or (ROOT / parts[1] / alias.name / "__init__.py").exists()]
        for name in names:
            parts = name.split(".")
            if parts[0] == "qsession" and len(parts) > 1 and parts[1] != package:
                found.add((parts[1], ".".join(parts[2:3])))
    return found


def test_other_packages_import_only_a_packages_public_face() -> None:
    wrong = sorted(f"{path.relative_to(ROOT)} imports qsession.{other}.{module}"
                   for package in PACKAGES if (ROOT / package).is_dir()
                   for path in sources(package)
                   for other, module in _imported_modules(path)
                   if module not in FACES.get(other, set()))
    assert not wrong, wrong
    private = sorted(f"{package}: {module}" for package, face in FACES.items()
                     for module in face if module.startswith("_"))
    assert not private, private


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
