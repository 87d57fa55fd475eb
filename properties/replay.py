"""Rebuild the state of sessions, jobs and QPUs from a trace, one record at a time.

The invariants read this state; it is derived from the records alone (never from the
scheduler), so a recorded or hand-written trace is checked exactly like a live one.

This is the invariants' own reading of a trace, kept apart on purpose from the one the
readers share (``qsession.insight.reading``) and from the rules the runtime executes
(``qsession.model``): what a job's end bills and charges (``expected_job_usage``,
``charged``) and how a session's spans are metered are restated here in the semantics'
words, so that a wrong rule in the runtime shows up as a disagreement.

Every question the invariants ask at each record or instant is answered from an index
kept up to date as records are applied (queued jobs per QPU, active sessions per QPU,
sessions with a running deadline, closing sessions, windowed use per instance), so the
work per record does not grow with the length of the trace.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qsession.model import ACTIVE, FINAL_STATUSES, QUEUED, RUNNING, SESSION_TABLE
from qsession.runtime import Record
from qsession.runtime.engine.fairshare import DEFAULT_WINDOW_US
from qsession.runtime.engine.scheduler import MAX_TIME_ERROR, QPU_FAULT

if TYPE_CHECKING:
    from .oracle import Expected

SESSION_FINAL = SESSION_TABLE.final_states


@dataclass
class SessionView:
    """A session as the trace shows it."""

    id: str
    qpu: str
    mode: str
    instance: str | None
    ittl_us: int
    max_time_us: int
    created: int
    state: str = "pending"
    accepting: bool = True
    started_at: int | None = None
    idle_since: int | None = None
    activated_order: int = 0
    queued: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    idle_close_us: int | None = None
    submitted: int = 0
    active_since: int | None = None
    meter_job: str | None = None  # ended while this job of it ran: billed until it ends
    billed_us: int = 0  # the usage meter, derived from the lifecycle records alone
    spans_closed: int = 0

    @property
    def idle_close_deadline(self) -> int | None:
        """When a never-used, still pending session must close."""
        if self.idle_close_us is None or self.submitted or self.state != "pending":
            return None
        return self.created + self.idle_close_us
    order: int = 0
    """Position among the trace's sessions (creation order)."""

    @property
    def in_flight(self) -> int:
        """Jobs of the session queued or running."""
        return len(self.queued) + len(self.running)

    @property
    def is_final(self) -> bool:
        """True once closed, canceled or expired."""
        return self.state in SESSION_FINAL

    @property
    def dedicated_active(self) -> bool:
        """True for an active dedicated session (one that holds its QPU)."""
        return self.state == ACTIVE and self.mode == "dedicated"

    @property
    def ittl_deadline(self) -> int | None:
        """When an active, idle session must deactivate."""
        if self.state != ACTIVE or self.idle_since is None:
            return None
        return self.idle_since + self.ittl_us

    @property
    def expiry_deadline(self) -> int | None:
        """When a started, unended session must expire."""
        if self.started_at is None or self.is_final:
            return None
        return self.started_at + self.max_time_us


@dataclass
class JobView:
    """A job as the trace shows it."""

    id: str
    qpu: str
    session: str | None
    instance: str
    order: int
    created: int
    duration_us: int | None
    state: str = QUEUED
    started: int | None = None
    finished: int | None = None
    ended_by: str | None = None
    reason: str | None = None
    usage_us: int = 0
    charged_us: int = 0
    """What its end charged its instance's fair share (this reading's own account)."""

    @property
    def is_final(self) -> bool:
        """True once DONE, ERROR or CANCELLED."""
        return self.state in FINAL_STATUSES


@dataclass
class QPUView:
    """A QPU as the trace shows it: running job, hold, fair-share configuration and use."""

    name: str
    running: str | None = None
    holding: str | None = None
    allocations: dict[str, float] = field(default_factory=dict)
    last_dispatch: Record | None = None

    def share(self, instance: str) -> float:
        """The instance's allocated share (equal shares when the trace gives none)."""
        if not self.allocations:
            return 1.0
        total = sum(self.allocations.values())
        return self.allocations.get(instance, 0.0) / total if total else 0.0


def expected_job_usage(started: int, ended: int, event: str, reason: str | None) -> int:
    """The time a job held the QPU, 0 when the system failed it (a QPU fault)."""
    if event == "fail" and reason is not None and reason.startswith(QPU_FAULT):
        return 0
    return ended - started


def charged(event: str, reason: str | None) -> bool:
    """A batch or job-mode job that ran is charged unless cancelled or failed."""
    return event == "finish" or (event == "fail" and reason == MAX_TIME_ERROR)


def in_creation_order(sessions: list[SessionView]) -> list[SessionView]:
    """``sessions`` in the order the trace created them."""
    return sorted(sessions, key=lambda s: s.order)


class WindowedUse:
    """One instance's charged spans and their total inside a sliding window.

    The invariants ask for an instance's use at every dispatch, so the total is kept up
    to date instead of summed over every span: spans whose start has passed the window's
    start are "crossed" and counted from the window's start only; spans that ended before
    it are dropped. Spans from several QPUs overlap and arrive in end order, not start
    order, hence one heap by start and one by end (amortised O(log n) per span). The
    window's start only moves forward, as time does in a trace.
    """

    def __init__(self) -> None:
        self._uncrossed: list[tuple[int, int]] = []  # (start, end): start >= horizon
        self._crossed: list[tuple[int, int]] = []  # (end, start): start < horizon < end
        self._total = 0  # full length of every kept span
        self._crossed_starts = 0  # sum of the crossed spans' starts
        self._horizon: int | None = None

    def add(self, start: int, end: int) -> None:
        """Charge the span from ``start`` to ``end`` (microseconds)."""
        if end <= start or (self._horizon is not None and end <= self._horizon):
            return
        self._total += end - start
        if self._horizon is not None and start < self._horizon:
            heapq.heappush(self._crossed, (end, start))
            self._crossed_starts += start
        else:
            heapq.heappush(self._uncrossed, (start, end))

    def used(self, horizon: int) -> int:
        """Microseconds of the kept spans after ``horizon`` (the window's start)."""
        if self._horizon is None or horizon > self._horizon:
            self._horizon = horizon
            while self._uncrossed and self._uncrossed[0][0] < horizon:
                start, end = heapq.heappop(self._uncrossed)
                heapq.heappush(self._crossed, (end, start))
                self._crossed_starts += start
            while self._crossed and self._crossed[0][0] <= horizon:
                end, start = heapq.heappop(self._crossed)
                self._total -= end - start
                self._crossed_starts -= start
        h = self._horizon
        return self._total - (len(self._crossed) * h - self._crossed_starts)


class Replay:
    """Sessions, jobs and QPUs after each record of a trace.

    ``expected``: what the caller configured (``properties.oracle``); where it names a
    session's timeouts, a job's instance or an instance's quota, those values are used in
    place of the records' (a record that disagrees is the oracle's to report).
    """

    def __init__(self, expected: Expected | None = None) -> None:
        self.expected = expected
        self.sessions: dict[str, SessionView] = {}
        self.jobs: dict[str, JobView] = {}
        self.qpus: dict[str, QPUView] = {}
        self.now = 0
        self.clock = "virtual"
        self.last_submit: int | None = None
        self._activations = 0
        # Charged spans per instance across every QPU; quotas.
        self.charges: dict[str, WindowedUse] = {}
        self.quotas: dict[str, int] = {}
        self.window_us = DEFAULT_WINDOW_US
        self._queued: dict[str, dict[str, JobView]] = {}
        self._active: dict[str, dict[str, SessionView]] = {}
        self.deadlines: dict[str, SessionView] = {}
        """Sessions that started and have not ended: those with an ITTL or max-TTL deadline."""
        self.closing: dict[str, SessionView] = {}
        """Sessions that no longer accept jobs and have not ended."""
        self.unused: dict[str, SessionView] = {}
        """Pending sessions with no job submitted yet: those with an idle-close deadline."""

    def qpu(self, name: str) -> QPUView:
        """The view of QPU ``name`` (created on first sight)."""
        view = self.qpus.get(name)
        if view is None:
            view = self.qpus[name] = QPUView(name)
        return view

    def queued_on(self, qpu: str) -> list[JobView]:
        """Queued jobs on ``qpu`` in submission order."""
        return list(self._queued.get(qpu, {}).values())

    def has_queued(self, qpu: str) -> bool:
        """True when a job is queued on ``qpu``."""
        return bool(self._queued.get(qpu))

    def active_on(self, qpu: str) -> list[SessionView]:
        """Active sessions and batches of ``qpu``."""
        return list(self._active.get(qpu, {}).values())

    def active_dedicated(self, qpu: str) -> SessionView | None:
        """The active dedicated session of ``qpu``, if any."""
        for s in self._active.get(qpu, {}).values():
            if s.mode == "dedicated":
                return s
        return None

    def active_batches(self, qpu: str) -> list[SessionView]:
        """Active batches of ``qpu`` in activation order."""
        return sorted((s for s in self._active.get(qpu, {}).values() if s.mode == "batch"),
                      key=lambda s: s.activated_order)

    def used(self, instance: str, now: int) -> int:
        """Microseconds charged to ``instance`` on all QPUs within the window before ``now``."""
        ledger = self.charges.get(instance)
        return 0 if ledger is None else ledger.used(now - self.window_us)

    def over_quota(self, instance: str, now: int) -> bool:
        """True while an instance with a quota has used it up (its jobs may not start)."""
        quota = self.quotas.get(instance)
        return quota is not None and self.used(instance, now) >= quota

    def _charge(self, instance: str | None, start: int, end: int) -> None:
        if instance is not None and end > start:
            self.charges.setdefault(instance, WindowedUse()).add(start, end)

    def _close_span(self, s: SessionView, t: int) -> None:
        """A dedicated session's active span ends at ``t``: meter and fair share."""
        if s.active_since is None:
            return
        s.billed_us += t - s.active_since
        s.spans_closed += 1
        self._charge(s.instance, s.active_since, t)
        s.active_since = None

    def normal_eligible(self, job: JobView) -> bool:
        """True for a queued job that waits in the normal queue."""
        if job.state != QUEUED:
            return False
        if job.session is None:
            return True
        s = self.sessions.get(job.session)
        return s is not None and s.state in ("pending", "inactive")

    # -- applying records --------------------------------------------------------------

    def apply(self, r: Record) -> None:
        """Advance the state by one record (unknown entities are created leniently)."""
        self.now = r.t
        if r.entity == "qpu":
            self._apply_qpu(r)
        elif r.entity == "session":
            self._apply_session(r)
        else:
            self._apply_job(r)

    def _apply_qpu(self, r: Record) -> None:
        q = self.qpu(r.qpu)
        if r.event == "configure" and r.instance is not None:
            q.allocations[r.instance] = float(r.data.get("allocation", 1.0) or 1.0)
            window = r.data.get("fair_share_window_us")
            if self.expected is not None and self.expected.window_us is not None:
                window = self.expected.window_us
            if isinstance(window, int):
                self.window_us = window
            quota = r.data.get("quota_us")
            if self.expected is not None and r.instance in self.expected.quotas:
                quota = self.expected.quotas[r.instance]
            if isinstance(quota, int):
                self.quotas[r.instance] = quota
        elif r.event == "hold":
            q.holding = r.session
        elif r.event == "release":
            q.holding = None
        elif r.event == "dispatch":
            q.last_dispatch = r

    def _apply_session(self, r: Record) -> None:
        if r.event == "create":
            chosen = {} if self.expected is None else self.expected.session_fields(r)
            created = self.sessions[r.id] = SessionView(
                r.id, r.qpu, str(chosen.get("mode", r.data.get("mode", "dedicated"))),
                chosen.get("instance", r.instance),
                int(chosen.get("ittl_us", r.data.get("interactive_timeout_us", 0)) or 0),
                int(chosen.get("max_time_us", r.data.get("max_time_us", 0)) or 0), r.t,
                state=r.dest or "pending", order=len(self.sessions))
            idle = chosen.get("idle_close_us", r.data.get("idle_close_timeout_us"))
            created.idle_close_us = idle if isinstance(idle, int) else None
            self._index(created)
            return
        s = self.sessions.get(r.id)
        if s is None or r.dest is None:
            return
        if r.dest == ACTIVE and s.state != ACTIVE:
            self._activations += 1
            s.activated_order = self._activations
            if s.started_at is None:
                s.started_at = r.t
            s.idle_since = None if s.in_flight else r.t
            if s.mode == "dedicated":
                s.active_since = r.t
        elif s.state == ACTIVE and r.dest != ACTIVE and s.mode == "dedicated":
            if r.dest in SESSION_FINAL and s.running:
                s.meter_job = next(iter(s.running))  # one job runs at a time on a QPU
            else:
                self._close_span(s, r.t)
        s.state = r.dest
        accepting = r.data.get("accepting_jobs")
        if isinstance(accepting, bool):
            s.accepting = accepting
        self._index(s)

    def _index(self, s: SessionView) -> None:
        """Keep the session indexes in step with ``s``'s state."""
        active = self._active.setdefault(s.qpu, {})
        if s.state == ACTIVE:
            active[s.id] = s
        else:
            active.pop(s.id, None)
        if s.started_at is not None and not s.is_final:
            self.deadlines[s.id] = s
        else:
            self.deadlines.pop(s.id, None)
        if not s.accepting and not s.is_final:
            self.closing[s.id] = s
        else:
            self.closing.pop(s.id, None)
        if s.idle_close_deadline is not None:
            self.unused[s.id] = s
        else:
            self.unused.pop(s.id, None)

    def _apply_job(self, r: Record) -> None:
        if r.event == "create":
            duration = r.data.get("duration_us")
            chosen = None if self.expected is None else self.expected.jobs.get(r.id)
            session, instance = (r.session, r.instance) if chosen is None else \
                (chosen.session, chosen.instance)
            if chosen is not None and chosen.duration_us is not None:
                duration = chosen.duration_us
            new = self.jobs[r.id] = JobView(r.id, r.qpu, session, instance or "default",
                                            len(self.jobs), r.t,
                                            duration if isinstance(duration, int) else None)
            self._queued.setdefault(r.qpu, {})[r.id] = new
            self.last_submit = r.t
            s = self.sessions.get(session) if session else None
            if s is not None:
                s.queued.add(r.id)
                s.idle_since = None
                s.submitted += 1
                self._index(s)
            return
        job = self.jobs.get(r.id)
        if job is None or r.dest is None:
            return
        s = self.sessions.get(job.session) if job.session else None
        q = self.qpu(job.qpu)
        if r.dest == RUNNING:
            job.started = r.t
            q.running = job.id
            if s is not None:
                s.queued.discard(job.id)
                s.running.add(job.id)
        elif r.dest in FINAL_STATUSES:
            job.finished = r.t
            job.ended_by = r.event
            reason = r.data.get("reason")
            job.reason = reason if isinstance(reason, str) else None
            if job.state == RUNNING:
                if q.running == job.id:
                    q.running = None
                assert job.started is not None
                job.usage_us = expected_job_usage(job.started, r.t, r.event, job.reason)
                if (s is None or s.mode != "dedicated") and charged(r.event, job.reason):
                    job.charged_us = r.t - job.started
                    self._charge(job.instance, job.started, r.t)
            if s is not None:
                s.queued.discard(job.id)
                s.running.discard(job.id)
                if s.meter_job == job.id:
                    s.meter_job = None
                    self._close_span(s, r.t)
                if s.state == ACTIVE and s.in_flight == 0:
                    s.idle_since = r.t
        was_queued = job.state == QUEUED
        job.state = r.dest
        if job.state != QUEUED:
            self._queued.get(job.qpu, {}).pop(job.id, None)
        elif not was_queued:  # back to QUEUED (only a hand-made trace does that)
            queued = self._queued.setdefault(job.qpu, {})
            queued[job.id] = job
            self._queued[job.qpu] = dict(sorted(queued.items(), key=lambda kv: kv[1].order))
