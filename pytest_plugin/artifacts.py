"""What a test leaves behind: its trace (JSON lines) and timeline picture, and the report text.

Files go under pytest's temporary base directory (the one ``tmp_path_factory`` uses, so
``--basetemp`` moves them and pytest prunes old runs): ``<basetemp>/qsession/<node id>/``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .run import Run

_UNSAFE = re.compile(r"[^\w.-]+")
_MAX_NAME = 80


def folder_name(nodeid: str) -> str:
    """A file-system-safe folder name for a node id (long ones end in a short hash)."""
    name = _UNSAFE.sub("_", nodeid.replace("::", "__")).strip("_.") or "test"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(nodeid.encode()).hexdigest()[:10]
        name = f"{name[:_MAX_NAME - 11]}-{digest}"
    return name


def output_dir_root(config: pytest.Config) -> Path:
    """``<basetemp>/qsession``: where every test's outputs go."""
    # The tmp_path_factory fixture returns this very object: pytest's tmp_path plugin keeps
    # the session's TempPathFactory on the config. A hook has no fixture access.
    factory: pytest.TempPathFactory = getattr(config, "_tmp_path_factory")  # noqa: B009
    return factory.getbasetemp() / "qsession"


def output_dir(item: pytest.Item) -> Path:
    """``<basetemp>/qsession/<sanitized node id>``, created."""
    path = output_dir_root(item.config) / folder_name(item.nodeid)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write(item: pytest.Item, runs: list[Run]) -> list[str]:
    """Write each run's trace and timeline; the report lines naming the files."""
    folder = output_dir(item)
    lines: list[str] = []
    for i, run in enumerate(runs):
        prefix = "" if len(runs) == 1 else f"{i + 1}-"
        trace = run.service.write_trace(folder / f"{prefix}trace.jsonl")
        lines.append(f"trace:    {trace}")
        lines.append(f"timeline: {_timeline(run, folder / f'{prefix}timeline.png')}")
    return lines


def _timeline(run: Run, path: Path) -> str:
    try:
        from qsession.insight.timeline import draw_timeline
    except ImportError as err:  # pragma: no cover - matplotlib is the [plot] extra
        return f"not drawn ({err}; install qsession[plot])"
    if not len(run.service.trace):
        return "not drawn (the trace is empty)"
    try:
        draw_timeline(run.service.trace, path, None)
    except ImportError as err:
        return f"not drawn ({err}; install qsession[plot])"
    return str(path)


def section(item: pytest.Item, runs: list[Run], failed: bool) -> str:
    """The ``qsession`` report section: origins, replay hint, problems, file paths."""
    lines = []
    for run in runs:
        lines.append(f"{run.label}: {run.origin}")
        if failed and not run.finished:
            # The test failed before the plugin settled the service: show what the trace
            # says so far (settling now could hide the state the failure happened in).
            from qsession.properties.invariants import check

            from .run import violation_entries

            found = violation_entries(check(run.service.trace).violations)
            if found:
                lines.append("invariants broken in the trace so far:")
                lines += found
    if any(run.label in ("service", "platform") for run in runs):
        from .settings import clock_option, seed_option

        lines.append(f"replay:   pytest '{item.nodeid}' --qsession-seed "
                     f"{seed_option(item.config)} --qsession-clock {clock_option(item.config)}")
    else:  # a Hypothesis example: the condition is the whole recipe
        lines.append("replay:   with perturbed(<the example above>) as service: ...")
    lines += write(item, runs)
    return "\n".join(lines)
