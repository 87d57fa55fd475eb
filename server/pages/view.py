"""What the live page's templates are given: the workloads now, filtered, and the monitor's verdict.

The rows come from ``insight.workloads`` (the trace alone); this module only adds IBM's
names for the states (``wire``), the filters, and a running invariant ``Monitor`` that is
fed the trace's new records on every look.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from qsession.insight.spans import TimelineFeed
from qsession.insight.timeline import HOLD_COLOR, INACTIVE_COLOR, ITTL_COLOR, STATE_COLORS
from qsession.insight.workloads import JobRow, SessionRow, Workloads, WorkloadsFeed
from qsession.model import SESSION_TABLE
from qsession.properties.invariants import INVARIANTS, Monitor
from qsession.runtime import Record, Trace

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
        return (not self.instance or row.instance == self.instance) and self._state(row.state)

    def job(self, row: JobRow) -> bool:
        """True when a job row passes the filters (state: the job's status, any case)."""
        return ((not self.instance or row.instance == self.instance)
                and self._status(row.status))

    def _state(self, state: str) -> bool:
        return (not self.state or state == self.state
                or wire.SESSION_STATE.get(state) == self.state)

    def _status(self, status: str) -> bool:
        return (not self.state or status.lower() == self.state.lower()
                or wire.JOB_STATUS.get(status, "").lower() == self.state.lower())

    def total(self, counts: Mapping[tuple[str | None, str], int], *, session: bool) -> int:
        """How many rows pass the filters, from the counts per (instance, state)."""
        ok = self._state if session else self._status
        return sum(n for (instance, state), n in counts.items()
                   if (not self.instance or instance == self.instance) and ok(state))


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


PAGE_ROWS = 50
"""Rows of each table a page shows (older ones are a link away)."""
QUEUE_SHOWN = 20
"""Places of each QPU's queue shown (the rest are counted)."""
WINDOW_S = 600.0
"""The timeline shows the last 10 minutes of the run's time."""
TIMELINE_LANES = 20
TIMELINE_JOBS = 40


@dataclass(frozen=True)
class Pages:
    """Which page of each table is shown (query parameters ``spage`` and ``jpage``, from 1)."""

    sessions: int = 1
    jobs: int = 1

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Pages:
        """The pages a request asks for (bad or absent numbers are page 1)."""
        return cls(_page(query.get("spage")), _page(query.get("jpage")))


def _page(text: str | None) -> int:
    if text is None or not text.isdigit() or len(text) > 9:
        return 1
    return max(1, int(text))


class LiveView:
    """The page's view of a running emulator, kept up to date with the trace's new records.

    Each look feeds only the records written since the last one to the workloads board, the
    timeline and the invariant monitor, and indexes them by the sessions and jobs they
    name (for the detail pages); what a look then renders is bounded by the page: a page
    of rows per table, the head of each queue, a window of time.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.monitor = LiveMonitor(str(emulator.trace.meta.get("clock", "virtual")))
        self.board = WorkloadsFeed()
        self.timeline = TimelineFeed(emulator.trace.epoch)
        self.of: dict[str, list[Record]] = {}
        self.lock = threading.Lock()
        self._seen = 0
        self._epoch = emulator.trace.epoch.strftime("%Y-%m-%d %H:%M:%S UTC")

    def look(self) -> Snapshot:
        """Feed what is new and return the instant, the verdict and the record count."""
        with self.lock:
            with self.emulator.lock:
                now_us = int(self.emulator.service.clock.now())
                new = self.emulator.trace.records[self._seen:]
                self._seen += len(new)
                verdict = self.monitor.verdict(self.emulator.trace, now_us)
            self.board.feed(new)
            self.timeline.feed(new)
            for r in new:
                for key in _keys(r):
                    self.of.setdefault(key, []).append(r)
            return Snapshot(now_us, self._seen, verdict, self.emulator.clock_name)

    def context(self, snap: Snapshot, filters: Filters, pages: Pages) -> dict[str, Any]:
        """What the live parts render (call under ``lock``)."""
        board, now = self.board, snap.now_us
        instance = filters.instance or None
        sessions = board.page("sessions", filters.session, instance=instance,
                              offset=(pages.sessions - 1) * PAGE_ROWS, limit=PAGE_ROWS,
                              now_us=now)
        jobs = board.page("jobs", filters.job, instance=instance,
                          offset=(pages.jobs - 1) * PAGE_ROWS, limit=PAGE_ROWS, now_us=now)
        qpus = board.qpu_rows(now, queue_limit=QUEUE_SHOWN)
        shown = Workloads(now / 1e6, {s.id: s for s in sessions}, {j.id: j for j in jobs},
                          qpus, snap.records)
        window = self.timeline.window(now - round(WINDOW_S * 1e6), now,
                                      lanes=TIMELINE_LANES, jobs=TIMELINE_JOBS)

        def page_link(name: str, number: int) -> str:
            """The page's address with one table turned to page ``number``."""
            query = {"instance": filters.instance, "state": filters.state,
                     "spage": str(pages.sessions), "jpage": str(pages.jobs), name: str(number)}
            return "/?" + urlencode({k: v for k, v in query.items() if v and v != "1"})

        return {
            "page_link": page_link,
            "board": shown,
            "sessions": sessions,
            "jobs": jobs,
            "session_total": filters.total(board.session_counts, session=True),
            "job_total": filters.total(board.job_counts, session=False),
            "pages": pages,
            "page_rows": PAGE_ROWS,
            "qpus": list(qpus.values()),
            "verdict": snap.verdict,
            "timeline": timeline_svg(window, now),
            "window_s": WINDOW_S,
            "ibm_session": wire.SESSION_STATE,
            "ibm_job": wire.JOB_STATUS,
            "colors": STATE_COLORS,
            "filters": filters,
            "clock": snap.clock,
            "now": now / 1e6,
            "epoch": self._epoch,
        }

    def records_of(self, kind: str, ident: str) -> list[Record]:
        """A session's or job's records: its own, its jobs' and the QPU records naming it."""
        return list(self.of.get(f"{kind}:{ident}", []))


def _keys(r: Record) -> set[str]:
    """The detail pages a record belongs on."""
    keys: set[str] = set()
    if r.entity in ("session", "job"):
        keys.add(f"{r.entity}:{r.id}")
    if r.session is not None:
        keys.add(f"session:{r.session}")
    if r.entity == "qpu" and isinstance(r.data.get("job"), str):
        keys.add(f"job:{r.data['job']}")
    return keys


@dataclass
class Snapshot:
    """One look at the emulator: the instant, how many records, the verdict, the clock."""

    now_us: int
    records: int
    verdict: Verdict
    clock: str


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
