"""The demo's report on a terminal: one sentence per behaviour, then rich tables.

Everything printed comes from the ``DemoResult``'s story and metrics, which were read from
the trace, so the report says what the trace shows and nothing the scheduler believed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from .demo import DemoResult, Skipped
    from .story import JobFacts, Story


def narrative(result: DemoResult) -> list[str]:
    """One sentence per behaviour the demo shows, with its instants (read from the trace)."""
    s, run = result.story, result.run
    first = s.jobs[s.first_job]
    lines = []
    if first.started is not None:
        lines.append(
            f"First job {first.id} submitted at {first.created:.1f} s queued "
            f"{first.wait or 0:.1f} s behind {_n(len(s.ahead_of_first), 'tenant job')} "
            f"({_ids(s.ahead_of_first)}): a session gives no head start. It started at "
            f"{first.started:.1f} s; the session became active and its max TTL clock started "
            f"(expires at {first.started + run.config.max_time:.1f} s).")
    jumped = [(job, waiting) for job, waiting in s.jumps if waiting > 0]
    if jumped:
        most = max(waiting for _, waiting in jumped)
        lines.append(
            f"Later jobs jumped the queue: {_n(len(jumped), 'session job')} started ahead of "
            "waiting "
            f"tenant jobs (up to {most} waiting). Mean wait: session jobs "
            f"{result.figures['session_mean_wait_s']:.1f} s, other tenants "
            f"{result.figures['tenant_mean_wait_s']:.1f} s.")
    for start, end in s.deactivations:
        lines.append(
            f"Slow classical step ({run.config.slow_step:g} s re-initialisation): the QPU was "
            f"held idle for the session from {start:.1f} s, then ITTL expired at {end:.1f} s "
            "— session inactive, normal job selection resumed.")
    for sid, (submitted, activated) in s.tenant_sessions.items():
        if activated is not None and activated > submitted:
            lines.append(
                f"Tenant session {sid} submitted its first job at {submitted:.1f} s; it became "
                f"active only at {activated:.1f} s (one active session per QPU).")
    for job_id, behind in s.reactivations:
        job = s.jobs[job_id]
        assert job.started is not None
        lines.append(
            f"Reactivated at {job.started:.1f} s by job {job_id}, after waiting "
            f"{job.wait or 0:.1f} s in the normal queue behind {_n(len(behind), 'tenant job')}.")
    if s.expiry is not None:
        tail = ""
        if s.running_at_expiry is not None:
            running = s.jobs[s.running_at_expiry]
            tail = (f"; {running.id}, running at that instant, completed normally at "
                    f"{running.ended or 0:.1f} s, and the session was billed until then "
                    "(as IBM bills it)")
        lines.append(
            f"Max TTL at {s.expiry:.1f} s: {_n(len(s.expired), 'queued job')} failed "
            f"({_ids(s.expired)}, ERROR: session max time reached){tail}.")
    return lines


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _ids(ids: list[str], limit: int = 6) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f", … {len(ids) - limit} more" if len(ids) > limit else "") if ids else "none"


def print_report(result: DemoResult, console: Console) -> None:
    """Print the narrative, the sessions, jobs, energies and metrics tables, and the files."""
    from rich.table import Table

    console.print("\n[bold]What happened[/] (read back from trace.jsonl)")
    bullets = Table.grid(padding=(0, 1))  # wrapped lines hang under their sentence
    bullets.add_column(no_wrap=True)
    bullets.add_column()
    for line in narrative(result):
        bullets.add_row(" •", line)
    console.print(bullets)
    console.print()
    for table in (sessions_table(result), jobs_table(result), key_jobs_table(result),
                  energies_table(result), metrics_table(result)):
        console.print(table)
        console.print()
    console.print("[bold]Files[/]")
    for name, path in result.files.items():
        console.print(f"  {name:<22} {path}", markup=False)
    print_skipped(result.skipped, console)


def print_skipped(skipped: Mapping[str, Skipped], console: Console) -> None:
    """Each file not written and why, then the command that installs what would write them.

    The reasons wrap to the console's width; the command stays whole on a line of its own,
    so that it can be copied as it is (piped output is cut at 80 columns).
    """
    from rich.table import Table

    from .timeline import install_command

    if not skipped:
        return
    table = Table.grid(padding=(0, 1), pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for name, (why, _) in skipped.items():
        table.add_row(f"  {name:<22}", "not written:", why)
    console.print(table)
    extras = list(dict.fromkeys(s.extra for s in skipped.values() if s.extra is not None))
    if extras:
        console.print("  To write them, install the missing extras, then run again:")
        console.print(f"    {install_command(*extras)}", markup=False, highlight=False,
                      no_wrap=True, overflow="ignore", crop=False)


def _table(title: str, columns: list[tuple[str, str]], prose: tuple[str, ...] = ()) -> Table:
    """A table that reads at 80 columns, as when the output is piped.

    No box (two spaces between columns, the header in bold) and only the ``prose`` columns
    wrapped: ids, states and numbers are never wrapped or cut.
    """
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, pad_edge=False,
                  padding=(0, 1), header_style="bold")
    for name, justify in columns:
        table.add_column(name, justify=justify,  # type: ignore[arg-type]
                         no_wrap=name not in prose, min_width=len(name))
    return table


def _owner_of_sessions(story: Story) -> dict[str | None, str]:
    owners: dict[str | None, str] = {None: "job mode"}
    for job in story.jobs.values():
        if job.session is not None:
            owners.setdefault(job.session, job.owner)
    owners[story.session] = "you (VQE)"
    return owners


def sessions_table(result: DemoResult) -> Table:
    """Each session's state, jobs, activations and billed usage (from the metrics)."""
    owners = _owner_of_sessions(result.story)
    table = _table("Sessions (act./deact.: activations, ITTL deactivations; usage: billed "
                   "active time; held: QPU held idle for it, no job running; seconds)",
                   [(col, "left" if col in ("session", "owner", "state") else "right")
                    for col in ("session", "owner", "state", "jobs", "started", "ended",
                                "act.", "deact.", "usage", "held")])
    for s in result.metrics.sessions.values():
        table.add_row(s.id, owners.get(s.id, "?"), s.state, str(len(s.jobs)), _t(s.started),
                      _t(s.ended), str(s.activations), str(s.deactivations),
                      f"{s.usage_time:.1f}", f"{s.reserved_idle:.1f}")
    return table


def jobs_table(result: DemoResult) -> Table:
    """Jobs grouped by owner: counts per final state, waits and QPU time."""
    owners = _owner_of_sessions(result.story)
    tenants = {j.owner for j in result.story.jobs.values() if j.session is None}
    groups: dict[str, list[JobFacts]] = {}
    for job in result.story.jobs.values():
        key = (f"{job.session} · {owners.get(job.session, '?')}" if job.session is not None
               else f"job mode · {len(tenants)} tenants")
        groups.setdefault(key, []).append(job)
    table = _table("Jobs (wait: mean and max submission to start; QPU: their QPU time; "
                   "seconds)",
                   [(col, "left" if col == "who" else "right")
                    for col in ("who", "jobs", "DONE", "ERROR", "CANCELLED", "wait",
                                "max wait", "QPU")], prose=("who",))
    for key, members in groups.items():
        waits = [j.wait for j in members if j.wait is not None]
        usage = sum(result.metrics.jobs[j.id].usage for j in members)
        counts = [sum(j.status == state for j in members)
                  for state in ("DONE", "ERROR", "CANCELLED")]
        table.add_row(key, str(len(members)), *map(str, counts),
                      f"{sum(waits) / len(waits):.1f}" if waits else "—",
                      f"{max(waits):.1f}" if waits else "—", f"{usage:.1f}")
    return table


def key_jobs_table(result: DemoResult) -> Table:
    """The jobs that carry the story: first, queue jumpers, reactivation, expiry."""
    s = result.story
    rows: list[tuple[str, str]] = [(s.first_job, "first job: normal queue")]
    jumped = [job for job, waiting in s.jumps if waiting > 0]
    if jumped:
        rows.append((jumped[0], "first to jump the queue"))
    rows += [(job, "reactivated the session") for job, _ in s.reactivations]
    if s.running_at_expiry is not None:
        rows.append((s.running_at_expiry, "running at max TTL: completes"))
    rows += [(job, "queued at max TTL: fails") for job in s.expired]
    table = _table("Key jobs of the VQE session (seconds)",
                   [(col, "right" if col in ("submitted", "started", "ended", "wait")
                     else "left")
                    for col in ("job", "role", "via", "submitted", "started", "ended", "wait",
                                "status")], prose=("role",))
    for job_id, role in rows:
        j = s.jobs[job_id]
        table.add_row(j.id, role, j.via or "—", _t(j.created), _t(j.started), _t(j.ended),
                      "—" if j.wait is None else f"{j.wait:.1f}", j.status)
    return table


def energies_table(result: DemoResult) -> Table:
    """The energies reached in each phase against the exact ground-state energy."""
    e = result.run.energies
    table = _table(f"Energies (H2, exact ground state {e.exact:.6f} Ha)",
                   [(col, "left" if col == "stage" else "right")
                    for col in ("stage", "evaluations", "energy (Ha)", "error (mHa)")],
                   prose=("stage",))
    for stage, values, best in (("phase 1 (lowest evaluation)", e.phase1, True),
                                ("phase 2 (lowest evaluation)", e.phase2, True),
                                ("final batch (mean of completed)", e.final, False)):
        if not values:
            table.add_row(stage, "0", "—", "—")
            continue
        value = min(values) if best else sum(values) / len(values)
        count = str(len(values)) + (f" (+{e.final_failed} failed)" if not best and
                                    e.final_failed else "")
        table.add_row(stage, count, f"{value:.6f}", f"{(value - e.exact) * 1000:.1f}")
    return table


def metrics_table(result: DemoResult) -> Table:
    """The headline metrics (wait, usage, utilisation, reserved idle) of ``figures``."""

    f = result.figures
    rows = [
        ("QPU utilisation", f"{f['qpu_utilisation']:.1%}",
         f"busy {f['qpu_busy_s']:.1f} s of {f['qpu_span_s']:.1f} s"),
        ("QPU reserved idle", f"{f['qpu_reserved_idle_fraction']:.1%}",
         f"{f['qpu_reserved_idle_s']:.1f} s held idle for an active session"),
        ("VQE session usage (billed)", f"{f['session_usage_s']:.1f} s",
         f"its jobs' QPU time {f['session_quantum_s']:.1f} s; reserved idle "
         f"{f['session_reserved_idle_s']:.1f} s"),
        ("VQE session activations", f"{f['session_activations']:.0f}",
         f"deactivations {f['session_deactivations']:.0f}"),
        ("VQE session mean wait", f"{f['session_mean_wait_s']:.1f} s", "submission to start"),
        ("other tenants' mean wait", f"{f['tenant_mean_wait_s']:.1f} s",
         f"max {f['tenant_max_wait_s']:.1f} s"),
    ]
    table = _table("Metrics (metrics.compute(trace))",
                   [(col, "right" if col == "value" else "left")
                    for col in ("metric", "value", "detail")], prose=("metric", "detail"))
    for row in rows:
        table.add_row(*row)
    return table


def _t(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f}"

