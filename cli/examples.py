"""``qsession examples``: the example programs installed with qsession, listed or copied out.

The examples ship inside the package (``qsession.examples``), so an install from a wheel
has them as a clone does. They are data, never imported: each is a program to run.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

GROUPS = {
    "": "qsession's own programs; run with: python FILE",
    "unchanged": "programs written for IBM Quantum, imports and all; run with: "
                 "qsession run -- python FILE",
    "ibm": "IBM's guide programs, one import changed to qsession.runtime; run with: "
           "python FILE",
}
"""Each folder of the examples and how its programs are run."""


class ExamplesMissing(RuntimeError):
    """The installed package holds no examples (a broken or partial install)."""


@dataclass(frozen=True)
class Example:
    """One example program: where it is inside the examples, and what it does."""

    path: Path
    group: str
    relative: str
    summary: str


def examples_root() -> Path:
    """The folder the examples were installed in (inside the package, or a clone's)."""
    spec = importlib.util.find_spec("qsession.examples")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    raise ExamplesMissing("qsession's examples are not installed with this copy of qsession; "
                          "reinstall it: pip install --force-reinstall qsession")


def summary(path: Path) -> str:
    """The first line of a program's docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text(), str(path))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def find() -> list[Example]:
    """Every example program, grouped as ``GROUPS`` orders them, by name within a group."""
    root = examples_root()
    found = []
    for group in GROUPS:
        for path in sorted((root / group).glob("*.py")):
            if path.name != "__init__.py":
                found.append(Example(path, group, path.relative_to(root).as_posix(),
                                     summary(path)))
    return found


def listing(width: int = 80) -> list[str]:
    """The examples by folder, each with its one-line summary wrapped to ``width``."""
    lines = []
    chosen = find()
    for group, how in GROUPS.items():
        lines += textwrap.wrap(f"{group or '.'}/ — {how}", width, subsequent_indent="    ")
        for ex in (e for e in chosen if e.group == group):
            lines += textwrap.wrap(f"{ex.relative:<32} {ex.summary}", width,
                                   initial_indent="  ", subsequent_indent=" " * 35)
    return lines


def copy_to(dest: Path, *, force: bool = False) -> list[Path]:
    """Copy every example into ``dest`` (its folders kept); refuse to overwrite unless ``force``.

    Raises ``FileExistsError`` naming the first file that would be overwritten, before
    copying anything.
    """
    chosen = find()
    targets = [dest / ex.relative for ex in chosen]
    if not force:
        clash = next((t for t in targets if t.exists()), None)
        if clash is not None:
            raise FileExistsError(f"{clash} exists; choose another folder or pass --force")
    for ex, target in zip(chosen, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ex.path, target)
    return targets
