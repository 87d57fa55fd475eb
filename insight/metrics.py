"""Metrics computed from a trace alone: per job, per session, per QPU.

What is billed is defined in ``qsession docs semantics "Usage and billing"``; the metrics take it
from what the runtime recorded (``insight.reading``) and never work it out again.

Because they read only the trace, they work on a recorded or hand-written trace as well
as on a live run, and a test checks them against the scheduler's own bookkeeping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qsession.runtime import Record, Trace
from qsession.runtime.engine.clock import to_seconds

from .reading import Reading, read


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
        """Quantum seconds billed, as the runtime recorded it on the job's end (0 until then,
        and for a job that never ran)."""
        return self.billed or 0.0


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
    usage_time: float = 0.0
    """Its usage time, as the runtime billed it: a dedicated session's active spans (the
    ``bill`` records, an open span counted to the end of the trace), a batch's sum of its
    jobs' usage."""
    reserved_idle: float = 0.0
    job_usage: float = 0.0


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
    """Metrics of a trace (records in emission order), from its one reading."""
    return metrics_of(read(trace))


def metrics_of(reading: Reading) -> Metrics:
    """The metrics of a trace already read (``insight.reading``)."""
    # Holds still open when the trace ends count until their QPU's last record.
    held = {sid: s.reserved_idle_us for sid, s in reading.sessions.items()}
    qpus = {}
    for name, q in reading.qpus.items():
        still = 0 if q.holding is None else q.last - q.holding[1]
        if q.holding is not None and q.holding[0] in held:
            held[str(q.holding[0])] += still
        qpus[name] = QPUMetrics(name, to_seconds(q.first), to_seconds(q.last),
                                to_seconds(q.busy_us), to_seconds(q.reserved_idle_us + still),
                                q.jobs)
    jobs = {jid: JobMetrics(jid, j.qpu, j.session, j.instance, to_seconds(j.created),
                            _s(j.started), _s(j.finished), j.status, _s(j.usage_us), j.ended_by)
            for jid, j in reading.jobs.items()}
    sessions = {}
    for sid, s in reading.sessions.items():
        end = reading.qpus[s.qpu].last
        sessions[sid] = SessionMetrics(
            sid, s.qpu, s.mode, s.instance, to_seconds(s.created), _s(s.started_at),
            _s(s.ended), s.state, list(s.jobs), s.activations, s.deactivations,
            to_seconds(s.usage_us(end)), to_seconds(held[sid]), to_seconds(s.job_usage_us))
    return Metrics(jobs, sessions, qpus)


def _s(us: int | None) -> float | None:
    return None if us is None else to_seconds(us)
