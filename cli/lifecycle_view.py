"""Print the lifecycle tables as rich tables on the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from qsession.model import TABLES, LifecycleTable


def lifecycle_table(table: LifecycleTable) -> Table:
    """A rich table with one line per (source, event) row of ``table``."""
    view = Table(title=f"{table.kind} lifecycle (initial: {table.initial})", show_lines=False)
    for column in ("from", "event", "guard", "to", "effect / note"):
        view.add_column(column)
    for row in table.rows:
        guards = [*row.conditions, *(f"not {g}" for g in row.unless)]
        effect = "; ".join(filter(None, (", ".join(row.effects), row.note)))
        view.add_row(
            ", ".join(row.sources), row.event, " and ".join(guards) or "—",
            row.dest or "(same state)", effect,
        )
    return view


def print_lifecycles(console: Console | None = None) -> None:
    """Print every lifecycle table with its final states."""
    console = console or Console()
    for table in TABLES.values():
        console.print(lifecycle_table(table))
        console.print(f"final states: {', '.join(sorted(table.final_states))}\n")
