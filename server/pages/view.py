"""What the live page's templates are given: the workloads now, filtered, and the monitor's verdict.

The rows come from ``insight.workloads`` (the trace alone); this module only adds IBM's
names for the states (``wire``), the filters, and a running invariant ``Monitor`` that is
fed the trace's new records on every look.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qsession.insight.spans import timeline_spans
from qsession.insight.timeline import HOLD_COLOR, INACTIVE_COLOR, ITTL_COLOR, STATE_COLORS
from qsession.insight.workloads import JobRow, SessionRow, Workloads, workloads
from qsession.model import SESSION_TABLE
from qsession.properties.invariants import INVARIANTS, Monitor
from qsession.runtime.trace import Record, Trace

from .. import wire
from ..emulator import Emulator
from .svg import timeline_svg

SESSION_STATES = tuple(SESSION_TABLE.states)


@dataclass(frozen=True)
class Filters:
    """The page's filters (query parameters ``instance`` and ``state``); empty means all."""

    instance: str = ""
    state: str = ""

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Filters:
        """The filters a request asks for."""
        return cls(query.get("instance", "").strip(), query.get("state", "").strip())

    def session(self, row: SessionRow) -> bool:
        """True when a session or batch row passes the filters."""
        return ((not self.instance or row.instance == self.instance)
                and (not self.state or row.state == self.state
                     or wire.SESSION_STATE.get(row.state) == self.state))

    def job(self, row: JobRow) -> bool:
        """True when a job row passes the filters (state: the job's status, any case)."""
        return ((not self.instance or row.instance == self.instance)
                and (not self.state or row.status.lower() == self.state.lower()
                     or wire.JOB_STATUS.get(row.status, "").lower() == self.state.lower()))


@dataclass
class Verdict:
    """The invariant monitor's verdict on the trace so far."""

    ok: bool
    checks: int
    invariants: int
    violations: list[str] = field(default_factory=list)


class LiveMonitor:
    """A ``Monitor`` kept beside the server: fed the trace's new records on each look."""

    def __init__(self, clock: str) -> None:
        self.clock = clock
        self.monitor = Monitor(clock=clock)
        self.trace: Trace | None = None
        # On a virtual clock (``virtual``, ``fast``) timers due by now have fired whenever
        # the lock is free, so "time reached now" is a fact the deadline checks may use.
        # A wall clock's timers fire on their own thread a little after their instant:
        # there only the records' own times are fed, or a late wake-up would read as a
        # missed ITTL.
        self.use_now = clock != "wall"

    def verdict(self, trace: Trace, now_us: int) -> Verdict:
        """Feed the records not seen yet, note that time reached ``now_us``, and report."""
        if trace is not self.trace:  # a reset platform has a new trace: start over
            self.trace = trace
            self.monitor = Monitor(clock=self.clock)
        self.monitor.sync(trace, now_us if self.use_now else None)
        report = self.monitor.report()
        return Verdict(report.ok, sum(report.checks.values()), len(INVARIANTS),
                       [str(v) for v in report.violations[:20]])


@dataclass
class Snapshot:
    """One look at the emulator: the records, the instant, the rows and the verdict."""

    now_us: int
    records: list[Record]
    board: Workloads
    verdict: Verdict
    clock: str


def snapshot(emulator: Emulator, monitor: LiveMonitor) -> Snapshot:
    """Read the trace and the clock at one instant (under the service lock)."""
    with emulator.lock:
        now_us = int(emulator.service.clock.now())
        records = list(emulator.trace.records)
        verdict = monitor.verdict(emulator.trace, now_us)
    return Snapshot(now_us, records, workloads(records, now_us), verdict, emulator.clock_name)


def live_context(snap: Snapshot, emulator: Emulator, filters: Filters) -> dict[str, Any]:
    """What ``_live.html`` renders: tables, QPUs, the timeline and the verdict."""
    board = snap.board
    sessions = [s for s in board.sessions.values() if filters.session(s)]
    jobs = [j for j in board.jobs.values() if filters.job(j)]
    epoch = emulator.trace.epoch
    return {
        "board": board,
        "sessions": sessions,
        "jobs": jobs,
        "qpus": list(board.qpus.values()),
        "verdict": snap.verdict,
        "timeline": timeline_svg(timeline_spans(snap.records, epoch, until=snap.now_us),
                                 snap.now_us),
        "ibm_session": wire.SESSION_STATE,
        "ibm_job": wire.JOB_STATUS,
        "colors": STATE_COLORS,
        "filters": filters,
        "clock": snap.clock,
        "now": board.now,
        "epoch": epoch.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def page_context(emulator: Emulator, filters: Filters) -> dict[str, Any]:
    """What ``index.html`` needs around the live part: filter choices and the legend."""
    return {
        "instances": sorted(emulator.instances),
        "session_states": SESSION_STATES,
        "job_states": tuple(wire.JOB_STATUS.items()),
        "legend": [*((f"job {state}", color) for state, color in STATE_COLORS.items()),
                   ("QPU held idle (reserved)", HOLD_COLOR),
                   ("session inactive", INACTIVE_COLOR),
                   ("ITTL window (idle, active)", ITTL_COLOR)],
    }


def records_of(records: list[Record], kind: str, ident: str) -> list[Record]:
    """A session's or job's records: its own, its jobs' and the QPU records that name it."""
    if kind == "session":
        jobs = {r.id for r in records if r.entity == "job" and r.session == ident}
        return [r for r in records if (r.entity == "session" and r.id == ident)
                or r.session == ident or (r.id in jobs and r.entity == "job")]
    return [r for r in records if (r.entity == "job" and r.id == ident)
            or (r.entity == "qpu" and r.data.get("job") == ident)]


def seconds(value: float | None) -> str:
    """A duration for a table cell: exact seconds up to two minutes, then min/h; — for none."""
    if value is None:
        return "—"
    if value <= 120:
        return f"{value:.3f} s"
    whole = int(value)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs + value - whole:06.3f} s"
