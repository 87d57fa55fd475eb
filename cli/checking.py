"""``qsession check``: run every invariant over a trace file and print what broke."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from qsession.properties.invariants import INVARIANTS, Report, check
from qsession.runtime import Record, Trace


def check_file(path: Path, *, settled: bool, console: Console) -> Report:
    """Check the trace at ``path`` and print one line per invariant and every violation."""
    trace = Trace.read(path)
    report = check(trace, settled=settled)
    by_id = report.by_invariant()
    table = Table(title=f"{path} — {len(trace)} records")
    for column in ("invariant", "checks", "result", "statement"):
        table.add_column(column)
    for inv in INVARIANTS.values():
        broken = by_id[inv.id]
        result = f"[red]FAIL ({len(broken)})[/red]" if broken else "[green]ok[/green]"
        table.add_row(inv.id, str(report.checks.get(inv.id, 0)), result, inv.statement)
    console.print(table)
    for violation in report.violations:
        console.print(f"[red]{violation.invariant}[/red] at {violation.t / 1e6:.6f} s: "
                      f"{violation.message}")
        for record in violation.records:
            console.print(f"    #{record.seq} {_describe(record)}")
    verdict = "[green]all invariants hold[/green]" if report.ok else \
        f"[red]{len(report.violations)} violation(s)[/red]"
    console.print(verdict)
    return report


def _describe(r: Record) -> str:
    move = f" {r.source} -> {r.dest}" if r.source or r.dest else ""
    where = f" session {r.session}" if r.session and r.entity != "session" else ""
    return f"t={r.t / 1e6:.6f} {r.entity} {r.id} {r.event}{move}{where}"
