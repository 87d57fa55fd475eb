"""Rebuild the state of sessions, jobs and QPUs from a trace, one record at a time.

The invariants read this state; it is derived from the records alone (never from the
scheduler), so a recorded or hand-written trace is checked exactly like a live one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from qsession.model import ACTIVE, FINAL_STATUSES, QUEUED, RUNNING, SESSION_TABLE
from qsession.runtime.scheduler import MAX_TIME_ERROR, QPU_FAULT
from qsession.runtime.trace import Record

DEFAULT_WINDOW_US = 28 * 86_400 * 1_000_000
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
    billed_us: int = 0  # the §8 usage meter, derived from the lifecycle records alone
    spans_closed: int = 0

    @property
    def idle_close_deadline(self) -> int | None:
        """When a never-used, still pending session must close (SPEC §2, rev. 2)."""
        if self.idle_close_us is None or self.submitted or self.state != "pending":
            return None
        return self.created + self.idle_close_us

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
    window_us: int = DEFAULT_WINDOW_US
    spans: dict[str, deque[tuple[int, int]]] = field(default_factory=dict)
    last_dispatch: Record | None = None

    def used(self, instance: str, now: int) -> int:
        """Microseconds ``instance`` held this QPU within the fair-share window before ``now``."""
        horizon = now - self.window_us
        total = 0
        for start, end in self.spans.get(instance, ()):
            if end > horizon:
                total += end - max(start, horizon)
        return total

    def share(self, instance: str) -> float:
        """The instance's allocated share (equal shares when the trace gives none)."""
        if not self.allocations:
            return 1.0
        total = sum(self.allocations.values())
        return self.allocations.get(instance, 0.0) / total if total else 0.0


def expected_job_usage(started: int, ended: int, event: str, reason: str | None) -> int:
    """SPEC §8: the time a job held the QPU, 0 when the system failed it (a QPU fault)."""
    if event == "fail" and reason is not None and reason.startswith(QPU_FAULT):
        return 0
    return ended - started


def charged(event: str, reason: str | None) -> bool:
    """SPEC §5: a batch or job-mode job that ran is charged unless cancelled or failed."""
    return event == "finish" or (event == "fail" and reason == MAX_TIME_ERROR)


class Replay:
    """Sessions, jobs and QPUs after each record of a trace."""

    def __init__(self) -> None:
        self.sessions: dict[str, SessionView] = {}
        self.jobs: dict[str, JobView] = {}
        self.qpus: dict[str, QPUView] = {}
        self.now = 0
        self.clock = "virtual"
        self.last_submit: int | None = None
        self._activations = 0
        # Charged spans per instance across every QPU (SPEC §5), in end order; quotas.
        self.charges: dict[str, list[tuple[int, int]]] = {}
        self.quotas: dict[str, int] = {}
        self.window_us = DEFAULT_WINDOW_US

    def qpu(self, name: str) -> QPUView:
        """The view of QPU ``name`` (created on first sight)."""
        view = self.qpus.get(name)
        if view is None:
            view = self.qpus[name] = QPUView(name)
        return view

    def queued_on(self, qpu: str) -> list[JobView]:
        """Queued jobs on ``qpu`` in submission order."""
        return sorted((j for j in self.jobs.values() if j.qpu == qpu and j.state == QUEUED),
                      key=lambda j: j.order)

    def active_dedicated(self, qpu: str) -> SessionView | None:
        """The active dedicated session of ``qpu``, if any."""
        for s in self.sessions.values():
            if s.qpu == qpu and s.dedicated_active:
                return s
        return None

    def active_batches(self, qpu: str) -> list[SessionView]:
        """Active batches of ``qpu`` in activation order."""
        return sorted((s for s in self.sessions.values()
                       if s.qpu == qpu and s.mode == "batch" and s.state == ACTIVE),
                      key=lambda s: s.activated_order)

    def used(self, instance: str, now: int) -> int:
        """Microseconds charged to ``instance`` on all QPUs within the window before ``now``."""
        horizon = now - self.window_us
        return sum(end - max(start, horizon) for start, end in self.charges.get(instance, ())
                   if end > horizon)

    def over_quota(self, instance: str, now: int) -> bool:
        """True while an instance with a quota has used it up (its jobs may not start)."""
        quota = self.quotas.get(instance)
        return quota is not None and self.used(instance, now) >= quota

    def _charge(self, instance: str | None, start: int, end: int) -> None:
        if instance is not None and end > start:
            self.charges.setdefault(instance, []).append((start, end))

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
            if isinstance(window, int):
                q.window_us = self.window_us = window
            quota = r.data.get("quota_us")
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
            self.sessions[r.id] = SessionView(
                r.id, r.qpu, str(r.data.get("mode", "dedicated")), r.instance,
                int(r.data.get("interactive_timeout_us", 0) or 0),
                int(r.data.get("max_time_us", 0) or 0), r.t,
                state=r.dest or "pending")
            idle = r.data.get("idle_close_timeout_us")
            self.sessions[r.id].idle_close_us = idle if isinstance(idle, int) else None
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

    def _apply_job(self, r: Record) -> None:
        if r.event == "create":
            duration = r.data.get("duration_us")
            self.jobs[r.id] = JobView(r.id, r.qpu, r.session, r.instance or "default",
                                      len(self.jobs), r.t,
                                      duration if isinstance(duration, int) else None)
            self.last_submit = r.t
            s = self.sessions.get(r.session) if r.session else None
            if s is not None:
                s.queued.add(r.id)
                s.idle_since = None
                s.submitted += 1
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
                q.spans.setdefault(job.instance, deque()).append((job.started, r.t))
                job.usage_us = expected_job_usage(job.started, r.t, r.event, job.reason)
                if (s is None or s.mode != "dedicated") and charged(r.event, job.reason):
                    self._charge(job.instance, job.started, r.t)
            if s is not None:
                s.queued.discard(job.id)
                s.running.discard(job.id)
                if s.meter_job == job.id:
                    s.meter_job = None
                    self._close_span(s, r.t)
                if s.state == ACTIVE and s.in_flight == 0:
                    s.idle_since = r.t
        job.state = r.dest
