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
    # runtime: its package (IBM's names, LocalService, QPU, clocks, Trace) and the engine's
    # modules that readers, checkers and the server drive directly; of IBM's client API
    # only what has no IBM name (session states, the executor's door, tenants, job list)
    "runtime": {"", "engine.backend_info", "engine.campaign", "engine.clock",
                "engine.fairshare", "engine.ids", "engine.platform", "engine.pubs", "engine.qpu",
                "engine.records", "engine.recovery", "engine.replay", "engine.scheduler",
                "engine.settings", "engine.timing", "engine.trace", "ibm.executor",
                "ibm.joblist", "ibm.session", "ibm.workload"},
    "insight": {"demo", "metrics", "perfetto", "reading", "spans", "timeline", "whatif",
                "workloads"},
    "properties": {"", "conditions", "durations", "explorer", "invariants", "machines",
                   "mutants", "profiles", "programs", "replay", "reported", "strategies"},
    "server": {"", "doors", "http_machine", "launch", "mutants", "rest_properties", "wire"},
    "cli": set(),
    "pytest_plugin": set(),
}
"""Each package's public face: the modules other packages may import ("" is the package
itself; "engine.trace" a module of a subpackage). Everything else is private to its
package. A face grows only by an edit here: a module another package must import is added
to its package's set here, on purpose."""


def _module_of(package: str, rest: list[str]) -> str:
    """The module (or subpackage) of ``package`` a dotted name below it names: its longest
    start that is a file or a folder ("" for the package itself)."""
    folder, found = ROOT / package, []
    for part in rest:
        if folder.joinpath(f"{part}.py").exists() or (folder / part / "__init__.py").exists():
            found.append(part)
            folder = folder / part
        else:
            break
    return ".".join(found)


def _imported_modules(path: Path) -> set[tuple[str, str]]:
    """(package, module) of every other qsession package's module a file imports
    absolutely, down to subpackages (``from qsession.runtime.engine import trace`` names
    ``engine.trace``)."""
    package = _module_parts(path)[1]
    found: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            parts = node.module.split(".")
            folder = ROOT.joinpath(*parts[1:]) if parts[0] == "qsession" else None
            modules = [f"{node.module}.{alias.name}" for alias in node.names
                       if folder is not None and len(parts) > 1
                       and (folder.joinpath(f"{alias.name}.py").exists()
                            or (folder / alias.name / "__init__.py").exists())]
            names = modules if len(modules) == len(node.names) else [node.module, *modules]
        for name in names:
            parts = name.split(".")
            if parts[0] == "qsession" and len(parts) > 1 and parts[1] != package:
                found.add((parts[1], _module_of(parts[1], parts[2:])))
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
            "print(sorted(m for m in ('qiskit', 'qsession.runtime.engine.scheduler', 'matplotlib')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# The runtime's three floors (docs/design.md, "The runtime"): runtime/engine (the emulator)
# imports nothing else of the runtime; runtime/ibm (IBM's client API) imports the engine and
# itself; the package itself and IBM's module paths beside it (runtime/sampler.py, ...)
# import both. No runtime module imports one that imports it back, directly or round a
# circle: lazy imports and those under TYPE_CHECKING count too.
RUNTIME = ROOT / "runtime"


def _runtime_name(path: Path) -> str:
    """``runtime.engine.clock`` for runtime/engine/clock.py (``runtime`` for the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path, text: str | None = None) -> set[str]:
    """The runtime modules a runtime file imports (relative, absolute, by string, lazy or
    under ``TYPE_CHECKING``), by ``_runtime_name``; a name imported from a package counts
    as its module when it is one, else as the package."""
    parts = _module_parts(path)
    modules: set[str] = set()
    source = path.read_text() if text is None else text

    def add(dotted: str, names: list[str]) -> None:
        split = dotted.split(".")
        if split[:2] != ["qsession", "runtime"]:
            return
        base = ["runtime", *split[2:]]
        folder = ROOT.joinpath(*base)
        subs = [n for n in names if folder.joinpath(f"{n}.py").exists()
                or (folder / n / "__init__.py").exists()]
        modules.update(".".join([*base, n]) for n in subs)
        if len(subs) < len(names) or not names:
            modules.add(".".join(base))

    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, [])
        elif isinstance(node, ast.ImportFrom):
            module = (_resolve(parts, node.level, node.module or "") if node.level
                      else node.module or "")
            add(module, [a.name for a in node.names])
        elif isinstance(node, ast.Call):
            named = _string_import(node, parts)
            if named is not None and named != "?":
                add(named, [])
    me = _runtime_name(path) if text is None else ""
    return {m for m in modules if m != me}


def _runtime_graph() -> dict[str, set[str]]:
    return {_runtime_name(p): runtime_imports(p) for p in sources("runtime")}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _floor(module: str) -> int:
    """0 for the engine, 1 for IBM's client API, 2 for the package and IBM's module paths."""
    parts = module.split(".")
    return {"engine": 0, "ibm": 1}.get(parts[1], 2) if len(parts) > 1 else 2


def test_no_runtime_module_imports_one_that_imports_it_back() -> None:
    assert not _cycles(_runtime_graph()), _cycles(_runtime_graph())


def test_the_engine_knows_nothing_of_ibms_client_api() -> None:
    graph = _runtime_graph()
    wrong = sorted(f"{module} imports {other}" for module, others in graph.items()
                   for other in others if _floor(other) > _floor(module))
    assert not wrong, wrong
    assert {_floor(m) for m in graph} == {0, 1, 2}, "the three floors exist"


def test_the_cycle_and_floor_rules_catch_what_they_forbid() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    engine = RUNTIME / "engine" / "oops.py"
    lazy = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..ibm.job import X\n"
            "def f():\n    from .. import sampler\n    from . import clock\n")
    assert runtime_imports(engine, lazy) == {"runtime.ibm.job", "runtime.sampler",
                                             "runtime.engine.clock"}
    assert runtime_imports(engine, "import importlib\n"
                           "importlib.import_module('qsession.runtime.ibm.service')\n"
                           ) == {"runtime.ibm.service"}
    assert runtime_imports(engine, "from qsession.runtime import LocalService\n") == {"runtime"}
    assert [_floor(m) for m in ("runtime.engine.clock", "runtime.ibm.job", "runtime.sampler",
                                "runtime", "runtime.engine", "runtime.ibm")] == [0, 1, 2, 2, 0, 1]
