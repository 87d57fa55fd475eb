"""Print the lifecycles page (``qsession docs lifecycle``): diagrams and tables, from the model.

``python -m qsession.diagrams.markdown`` prints the page; in a clone, ``make docs`` writes it
over the repository's copy, and a test fails when that copy differs from what this prints.
"""

from __future__ import annotations

import sys

from qsession.model import TABLES, LifecycleTable

from . import mermaid

_INTRO = """\
# Lifecycles

Generated from the model's transition tables (`model/session.py`, `model/job.py`) by
`make docs`; do not edit by hand. A test fails when this file drifts from the model.

Edges marked `[internal]` are events the model allows without changing state; guards are
in brackets (`!` negates). Final states are grey and have no exits. Any (state, event)
pair not listed is refused with `TransitionRefused`.
"""


def transition_rows(table: LifecycleTable) -> list[str]:
    """Markdown table lines, one per (source, row) pair of ``table``."""
    lines = [
        "| from | event | guard | to | effect | note |",
        "|---|---|---|---|---|---|",
    ]
    for source, row, target in table.edges():
        guards = [*row.conditions, *(f"not {g}" for g in row.unless)]
        to = target if row.dest is not None else f"{target} (internal)"
        lines.append(
            f"| {source} | `{row.event}` | {' and '.join(guards) or '—'} | {to} | "
            f"{', '.join(row.effects) or '—'} | {row.note or '—'} |"
        )
    return lines


def section(table: LifecycleTable) -> str:
    """The markdown section of one lifecycle: states, events, guards, diagram, table."""
    out = [f"## The {table.kind} lifecycle", "", "```mermaid", mermaid(table.kind).rstrip(),
           "```", "", "### States", ""]
    for state in table.states:
        final = " (final)" if state.final else ""
        initial = " (initial)" if state.name == table.initial else ""
        out.append(f"- `{state.name}`{initial}{final}: {state.doc}")
    out += ["", "### Events", ""]
    for event in table.events:
        facts = f" Facts: {', '.join(f'`{f}`' for f in event.facts)}." if event.facts else ""
        out.append(f"- `{event.name}`: {event.doc}.{facts}")
    if table.guards:
        out += ["", "### Guards", ""]
        out += [f"- `{g.name}`: {g.doc}" for g in table.guards]
    out += ["", "### Transitions", "", *transition_rows(table), ""]
    return "\n".join(out)


def lifecycle_markdown() -> str:
    """The whole lifecycles page (``qsession docs lifecycle``)."""
    return "\n".join([_INTRO, *(section(t) for t in TABLES.values())])


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(lifecycle_markdown())
