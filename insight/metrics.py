"""Metrics computed from a trace alone: per job, per session, per QPU.

What is billed is defined in docs/semantics.md, "Usage and billing".

Because they read only the trace, they work on a recorded or hand-written trace as well
as on a live run, and a test checks them against the scheduler's own bookkeeping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qsession.model import FINAL_STATUSES, SESSION_TABLE
from qsession.runtime.clock import to_seconds
from qsession.runtime.trace import Record, Trace

_SESSION_FINAL = SESSION_TABLE.final_states


@dataclass
class JobMetrics:
    """One job's times (seconds since the epoch) and durations."""

    id: str
    qpu: str
    session: str | None
    instance: str | None
    created: float
    started: float | None = None
    finished: float | None = None
    status: str = "QUEUED"
    billed: float | None = None  # the usage the runtime recorded when the job ended
    ended_by: str | None = None
    """The event that made it final: ``finish``, ``expire`` (its session's max TTL),
    ``cancel`` (a session or job cancel), ``fail`` ..."""

    @property
    def wait(self) -> float | None:
        """Seconds from submission to start (None if it never started)."""
        return None if self.started is None else self.started - self.created

    @property
    def run(self) -> float | None:
        """Seconds it held the QPU (its usage), None while running or if it never ran."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    @property
    def usage(self) -> float:
        """Quantum seconds billed: the time it held the QPU, 0 if the system failed it."""
        if self.billed is not None:
            return self.billed
        return self.run or 0.0


@dataclass
class SessionMetrics:
    """One session's activity: active time (its usage), deactivations, reserved idle time."""

    id: str
    qpu: str
    mode: str
    instance: str | None
    created: float
    started: float | None = None
    ended: float | None = None
    state: str = "pending"
    jobs: list[str] = field(default_factory=list)
    activations: int = 0
    deactivations: int = 0
    active_time: float = 0.0
    reserved_idle: float = 0.0
    job_usage: float = 0.0
    _active_since: float | None = None
    _running: set[str] = field(default_factory=set)
    _meter_job: str | None = None  # ended while this job of it ran: billed until it ends

    def usage_until(self, t: float) -> float:
        """``usage_time`` with a meter still running read at ``t`` (seconds), unclosed."""
        if self.mode != "dedicated":
            return self.job_usage
        running = 0.0 if self._active_since is None else max(0.0, t - self._active_since)
        return self.active_time + running

    @property
    def usage_time(self) -> float:
        """A dedicated session's active time, each span until the latest of its
        deactivation, its end and the completion of its job running then; a batch's sum
        of its jobs' usage."""
        return self.active_time if self.mode == "dedicated" else self.job_usage


@dataclass
class QPUMetrics:
    """One QPU's utilisation over the span of the trace."""

    name: str
    start: float
    end: float
    busy: float = 0.0
    reserved_idle: float = 0.0
    jobs: int = 0

    @property
    def span(self) -> float:
        """Seconds from the first to the last event on this QPU."""
        return self.end - self.start

    @property
    def utilisation(self) -> float:
        """Fraction of the span the QPU ran a job."""
        return self.busy / self.span if self.span > 0 else 0.0

    @property
    def reserved_idle_fraction(self) -> float:
        """Fraction of the span the QPU sat idle, held for an active session."""
        return self.reserved_idle / self.span if self.span > 0 else 0.0


@dataclass
class Metrics:
    """All metrics of one trace."""

    jobs: dict[str, JobMetrics]
    sessions: dict[str, SessionMetrics]
    qpus: dict[str, QPUMetrics]

    def mean_wait(self, jobs: Iterable[JobMetrics] | None = None) -> float:
        """Mean wait of the jobs that started (default: every job)."""
        waits = [j.wait for j in (self.jobs.values() if jobs is None else jobs)
                 if j.wait is not None]
        return sum(waits) / len(waits) if waits else 0.0


def compute(trace: Trace | Iterable[Record]) -> Metrics:
    """Metrics of a trace (records in emission order)."""
    fold = MetricsFold()
    for r in trace:
        fold.add(r)
    return fold.finish()


class MetricsFold:
    """The metrics of a growing trace, record by record (``compute`` folds a whole one).

    What is still open — a session's active span, a hold — is closed only by ``finish``
    (at each QPU's last record); a live view asks ``SessionMetrics.usage_until(now)``
    instead, without closing anything.
    """

    def __init__(self) -> None:
        self.jobs: dict[str, JobMetrics] = {}
        self.sessions: dict[str, SessionMetrics] = {}
        self.qpus: dict[str, QPUMetrics] = {}
        self._holds: dict[str, tuple[str, float]] = {}

    def add(self, r: Record) -> None:
        """Apply one record."""
        t = to_seconds(r.t)
        q = self.qpus.get(r.qpu)
        if q is None:
            q = self.qpus[r.qpu] = QPUMetrics(r.qpu, t, t)
        q.end = max(q.end, t)
        if r.entity == "job":
            _job_record(r, t, self.jobs, self.sessions, q)
        elif r.entity == "session":
            _session_record(r, t, self.sessions)
        elif r.event == "hold" and r.session is not None:
            self._holds[r.qpu] = (r.session, t)
        elif r.event == "release" and r.qpu in self._holds:
            sid, since = self._holds.pop(r.qpu)
            _add_reserved(self.sessions, self.qpus, r.qpu, sid, t - since)

    def qpu_end(self, qpu: str) -> float:
        """The instant of the QPU's last record (seconds), 0 before any."""
        q = self.qpus.get(qpu)
        return 0.0 if q is None else q.end

    def finish(self) -> Metrics:
        """The metrics with what is still open closed at each QPU's last record (once)."""
        for qpu, (sid, since) in self._holds.items():  # still held when the trace ends
            _add_reserved(self.sessions, self.qpus, qpu, sid, self.qpus[qpu].end - since)
        self._holds = {}
        for s in self.sessions.values():
            if s._active_since is not None:  # still active at the end of the trace
                s.active_time += self.qpus[s.qpu].end - s._active_since
                s._active_since = None
        return Metrics(self.jobs, self.sessions, self.qpus)


def _job_record(r: Record, t: float, jobs: dict[str, JobMetrics],
                sessions: dict[str, SessionMetrics], q: QPUMetrics) -> None:
    if r.event == "create":
        jobs[r.id] = JobMetrics(r.id, r.qpu, r.session, r.instance, t)
        q.jobs += 1
        if r.session in sessions:
            sessions[r.session].jobs.append(r.id)
        return
    job = jobs[r.id]
    s = sessions.get(job.session) if job.session is not None else None
    if r.event == "start":
        job.started = t
        if s is not None:
            s._running.add(job.id)
    if r.dest is not None:
        job.status = r.dest
    if r.dest in FINAL_STATUSES:
        job.finished = t
        job.ended_by = r.event
        billed = r.data.get("usage_us")
        if isinstance(billed, int):
            job.billed = to_seconds(billed)
        if job.started is not None:
            q.busy += t - job.started
            if s is not None:
                s.job_usage += job.usage
                s._running.discard(job.id)
                if s._meter_job == job.id and s._active_since is not None:
                    s.active_time += t - s._active_since
                    s._active_since = s._meter_job = None


def _session_record(r: Record, t: float, sessions: dict[str, SessionMetrics]) -> None:
    if r.event == "create":
        mode = str(r.data.get("mode", "dedicated"))
        sessions[r.id] = SessionMetrics(r.id, r.qpu, mode, r.instance, t)
        return
    s = sessions[r.id]
    if r.dest is None:
        return
    s.state = r.dest
    if r.dest == "active" and r.source != "active":
        s.activations += 1
        s._active_since = t
        if s.started is None:
            s.started = t
    elif r.source == "active" and r.dest != "active" and s._active_since is not None:
        if r.dest in _SESSION_FINAL and s._running and s.mode == "dedicated":
            s._meter_job = next(iter(s._running))  # one job runs at a time on its QPU
        else:
            s.active_time += t - s._active_since
            s._active_since = None
    if r.event == "ittl_elapsed":
        s.deactivations += 1
    if r.dest in _SESSION_FINAL and r.source not in _SESSION_FINAL:
        s.ended = t


def _add_reserved(sessions: dict[str, SessionMetrics], qpus: dict[str, QPUMetrics], qpu: str,
                  sid: str, seconds: float) -> None:
    qpus[qpu].reserved_idle += seconds
    if sid in sessions:
        sessions[sid].reserved_idle += seconds
