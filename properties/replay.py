"""Rebuild the state of sessions, jobs and QPUs from a trace, one record at a time.

The invariants read this state; it is derived from the records alone (never from the
scheduler), so a recorded or hand-written trace is checked exactly like a live one.

Every question the invariants ask at each record or instant is answered from an index
kept up to date as records are applied (queued jobs per QPU, active sessions per QPU,
sessions with a running deadline, closing sessions, windowed use per instance), so the
work per record does not grow with the length of the trace.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from qsession.model import ACTIVE, FINAL_STATUSES, QUEUED, RUNNING, SESSION_TABLE
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
    span_sum: dict[str, int] = field(default_factory=dict)
    """The total length of each instance's spans still in ``spans``."""

    def add_span(self, instance: str, start: int, end: int) -> None:
        """``instance`` held this QPU from ``start`` to ``end`` (spans come in end order)."""
        self.spans.setdefault(instance, deque()).append((start, end))
        self.span_sum[instance] = self.span_sum.get(instance, 0) + end - start

    def used(self, instance: str, now: int) -> int:
        """Microseconds ``instance`` held this QPU within the fair-share window before ``now``.

        As the runtime's ``FairShare``: spans that ended before the window are dropped
        (``now`` only grows), and only the oldest kept span can straddle its start (one
        job runs at a time).
        """
        spans = self.spans.get(instance)
        if not spans:
            return 0
        horizon = now - self.window_us
        while spans and spans[0][1] <= horizon:
            start, end = spans.popleft()
            self.span_sum[instance] -= end - start
        total = self.span_sum.get(instance, 0)
        if spans and spans[0][0] < horizon:
            total -= horizon - spans[0][0]
        return total

    def share(self, instance: str) -> float:
        """The instance's allocated share (equal shares when the trace gives none)."""
        if not self.allocations:
            return 1.0
        total = sum(self.allocations.values())
        return self.allocations.get(instance, 0.0) / total if total else 0.0


def in_creation_order(sessions: list[SessionView]) -> list[SessionView]:
    """``sessions`` in the order the trace created them."""
    return sorted(sessions, key=lambda s: s.order)


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
        self._queued: dict[str, dict[str, JobView]] = {}
        self._active: dict[str, dict[str, SessionView]] = {}
        self.deadlines: dict[str, SessionView] = {}
        """Sessions that started and have not ended: those with an ITTL or max-TTL deadline."""
        self.closing: dict[str, SessionView] = {}
        """Sessions that no longer accept jobs and have not ended."""

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
                q.window_us = window
        elif r.event == "hold":
            q.holding = r.session
        elif r.event == "release":
            q.holding = None
        elif r.event == "dispatch":
            q.last_dispatch = r

    def _apply_session(self, r: Record) -> None:
        if r.event == "create":
            created = self.sessions[r.id] = SessionView(
                r.id, r.qpu, str(r.data.get("mode", "dedicated")), r.instance,
                int(r.data.get("interactive_timeout_us", 0) or 0),
                int(r.data.get("max_time_us", 0) or 0), r.t,
                state=r.dest or "pending", order=len(self.sessions))
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

    def _apply_job(self, r: Record) -> None:
        if r.event == "create":
            duration = r.data.get("duration_us")
            new = self.jobs[r.id] = JobView(r.id, r.qpu, r.session, r.instance or "default",
                                            len(self.jobs), r.t,
                                            duration if isinstance(duration, int) else None)
            self._queued.setdefault(r.qpu, {})[r.id] = new
            self.last_submit = r.t
            s = self.sessions.get(r.session) if r.session else None
            if s is not None:
                s.queued.add(r.id)
                s.idle_since = None
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
                q.add_span(job.instance, job.started, r.t)
            if s is not None:
                s.queued.discard(job.id)
                s.running.discard(job.id)
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
