"""One reading of a trace into jobs, sessions and QPUs, shared by every trace reader.

``read`` (or ``Reading.apply`` record by record, for a live view) folds the records into
``TracedJob``, ``TracedSession`` and ``TracedQPU`` objects: states from each record's
``dest``, times from their instants, what was billed and charged from what the runtime
wrote (``usage_us`` and ``charged_us`` on job ends, ``bill`` records for dedicated
sessions), timers from ``timer_*`` records. The metrics, the workloads view (the live
page), the demo's story and the timeline read this and nothing else, so they cannot
disagree about what a trace says; none of them works out again what a job or a session
was charged. The invariants keep a reading of their own (``qsession.properties.replay``),
on purpose: they check the runtime, so they may not share its account.

Times are integer microseconds of the trace's clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qsession.model import (
    ACTIVE,
    FINAL_STATUSES,
    QUEUED,
    SESSION_TABLE,
    Mode,
    bills_active_spans,
)
from qsession.runtime.engine.fairshare import DEFAULT_WINDOW_US
from qsession.runtime.engine.trace import Record, Trace, TraceFormatError

SESSION_FINAL = SESSION_TABLE.final_states
"""Session states no event leaves."""


@dataclass
class TracedJob:
    """A job as its trace records show it."""

    id: str
    qpu: str
    session: str | None
    instance: str | None
    order: int
    """Its place among the trace's jobs (submission order)."""
    created: int
    created_seq: int
    duration_us: int | None = None
    """Its modeled QPU time (``create`` record), if recorded."""
    time_limit_us: int | None = None
    kind: str | None = None
    tags: str | None = None
    status: str = QUEUED
    started: int | None = None
    started_seq: int | None = None
    finished: int | None = None
    finished_seq: int | None = None
    ended_by: str | None = None
    """The event that made it final: ``finish``, ``fail``, ``expire`` or ``cancel``."""
    reason: str | None = None
    via: str | None = None
    """The queue it was started from (``session``, ``batch`` or ``normal``)."""
    usage_us: int | None = None
    """What its end billed, as recorded (None until it ended, or when not recorded)."""
    charged_us: int | None = None
    """What its end charged its instance's fair share, as recorded."""

    @property
    def is_final(self) -> bool:
        """True once DONE, ERROR or CANCELLED."""
        return self.status in FINAL_STATUSES

    @property
    def runs_for_us(self) -> int | None:
        """How long it holds the QPU once started: its modeled time, cut at its limit."""
        if self.duration_us is None or self.time_limit_us is None:
            return self.duration_us
        return min(self.duration_us, self.time_limit_us)


@dataclass
class TracedSession:
    """A session or batch as its trace records show it."""

    id: str
    qpu: str
    mode: str
    instance: str | None
    created: int
    ittl_us: int | None = None
    max_time_us: int | None = None
    state: str = "pending"
    accepting: bool = True
    jobs: list[str] = field(default_factory=list)
    in_flight: int = 0
    """Its jobs queued or running."""
    started_at: int | None = None
    """Its first activation (its first job's start)."""
    ended: int | None = None
    """The instant it reached a final state."""
    activations: int = 0
    deactivations: int = 0
    billed_us: int = 0
    """Its active spans billed so far (``bill`` records; a dedicated session only)."""
    span_open_since: int | None = None
    """The start of an active span not billed yet (a dedicated session only)."""
    job_usage_us: int = 0
    """The usage its ended jobs recorded."""
    reserved_idle_us: int = 0
    """The time its QPU was held idle for it (closed holds)."""

    @property
    def is_final(self) -> bool:
        """True once closed, canceled or expired."""
        return self.state in SESSION_FINAL

    def usage_us(self, now: int) -> int:
        """Its usage time at ``now``: a dedicated session its billed active spans, the open
        one counted until ``now``; a batch the sum of its jobs' usage."""
        if not bills_active_spans(_mode(self.mode)):
            return self.job_usage_us
        since = self.span_open_since
        return self.billed_us + (0 if since is None else max(0, now - since))


@dataclass
class TracedQPU:
    """A QPU as its trace records show it."""

    name: str
    first: int
    last: int
    allocations: dict[str, float] = field(default_factory=dict)
    window_us: int | None = None
    quotas: dict[str, int] = field(default_factory=dict)
    running: str | None = None
    holding: tuple[str | None, int] | None = None
    """The session holding it idle and since when."""
    busy_us: int = 0
    """Time its ended jobs held it."""
    reserved_idle_us: int = 0
    """Time it was held idle (closed holds)."""
    jobs: int = 0


@dataclass(frozen=True, slots=True)
class ChargedSpan:
    """A span an instance's fair share was charged, as the trace records it."""

    instance: str
    start: int
    end: int


class Reading:
    """Jobs, sessions, QPUs, charged spans and pending timers after each applied record."""

    def __init__(self) -> None:
        self.jobs: dict[str, TracedJob] = {}
        self.sessions: dict[str, TracedSession] = {}
        self.qpus: dict[str, TracedQPU] = {}
        self.timers: dict[str, dict[str, int]] = {"ittl": {}, "max_ttl": {}, "finish": {}}
        """Pending timers by kind: session id (ITTL, max TTL) or job id (finish) → instant."""
        self.records = 0
        self.end = 0
        """The last record's instant."""
        self._charges: list[ChargedSpan] = []
        self._unknown_charges: list[str] = []

    @property
    def charges(self) -> list[ChargedSpan]:
        """Every span charged to an instance, in the order they ended: dedicated sessions'
        billed spans and what each job end charged, as recorded.

        A trace that does not record what a job's end charged (format version 1, or a
        hand-written one) cannot say: asking raises ``TraceFormatError`` naming the jobs.
        """
        if self._unknown_charges:
            names = ", ".join(self._unknown_charges[:5])
            more = len(self._unknown_charges) - 5
            raise TraceFormatError(
                f"the trace does not record what the end of job(s) {names}"
                f"{f' and {more} more' if more > 0 else ''} charged the instance's fair "
                "share (data.charged_us on the end of a job that ran, trace format "
                "version 2); a version-1 trace can still be checked (qsession check) but "
                "not shown with fair-share figures: record the run again")
        return self._charges

    @property
    def window_us(self) -> int:
        """The fair-share window the trace configures (the default when it names none)."""
        windows = [q.window_us for q in self.qpus.values() if q.window_us is not None]
        return max(windows, default=DEFAULT_WINDOW_US)

    def qpu(self, r: Record) -> TracedQPU:
        """The QPU of record ``r`` (created on first sight), its span stretched to ``r``."""
        q = self.qpus.get(r.qpu)
        if q is None:
            q = self.qpus[r.qpu] = TracedQPU(r.qpu, r.t, r.t)
        q.first, q.last = min(q.first, r.t), max(q.last, r.t)
        return q

    def apply(self, r: Record) -> None:
        """Fold one more record in (records in the order the trace has them)."""
        self.records += 1
        self.end = max(self.end, r.t)
        q = self.qpu(r)
        if r.entity == "job":
            self._job(r, q)
        elif r.entity == "session":
            self._session(r)
        else:
            self._qpu(r, q)

    # -- jobs --------------------------------------------------------------------------

    def _job(self, r: Record, q: TracedQPU) -> None:
        job = self.jobs.get(r.id)
        if job is None:  # its create record (or, in a hand-written trace, its first)
            job = self.jobs[r.id] = TracedJob(
                r.id, r.qpu, r.session, r.instance, len(self.jobs), r.t, r.seq,
                _int(r.data.get("duration_us")), _int(r.data.get("time_limit_us")),
                _text(r.data.get("kind")), _text(r.data.get("tags")))
            q.jobs += 1
            s = self.sessions.get(r.session or "")
            if s is not None:
                s.jobs.append(r.id)
                s.in_flight += 1
        if r.event == "start":
            job.started, job.started_seq = r.t, r.seq
            q.running = job.id
        if r.dest is None:
            return
        job.status = r.dest
        if r.dest in FINAL_STATUSES and job.finished is None:
            self._job_ended(r, job, q)

    def _job_ended(self, r: Record, job: TracedJob, q: TracedQPU) -> None:
        job.finished, job.finished_seq, job.ended_by = r.t, r.seq, r.event
        job.reason = _text(r.data.get("reason"))
        job.usage_us = _int(r.data.get("usage_us"))
        job.charged_us = _int(r.data.get("charged_us"))
        s = self.sessions.get(job.session or "")
        if s is not None:
            s.in_flight = max(0, s.in_flight - 1)
            s.job_usage_us += job.usage_us or 0
        if job.started is None:
            return
        if q.running == job.id:
            q.running = None
        q.busy_us += r.t - job.started
        start = _int(r.data.get("from_us"))
        if job.charged_us is None:
            self._unknown_charges.append(job.id)
        elif job.charged_us and job.instance is not None:
            begin = job.started if start is None else start
            self._charges.append(ChargedSpan(job.instance, begin, begin + job.charged_us))

    # -- sessions ----------------------------------------------------------------------

    def _session(self, r: Record) -> None:
        s = self.sessions.get(r.id)
        if s is None:  # its create record (or, in a hand-written trace, its first)
            s = self.sessions[r.id] = TracedSession(
                r.id, r.qpu, str(r.data.get("mode", "dedicated")), r.instance, r.t,
                _int(r.data.get("interactive_timeout_us")), _int(r.data.get("max_time_us")),
                r.dest or "pending")
        accepting = r.data.get("accepting_jobs")
        if isinstance(accepting, bool):
            s.accepting = accepting
        if r.event == "ittl_elapsed":
            s.deactivations += 1
        if r.dest is None or r.event == "create":
            return
        if r.dest == ACTIVE and s.state != ACTIVE:
            s.activations += 1
            if s.started_at is None:
                s.started_at = r.t
            if bills_active_spans(_mode(s.mode)):
                s.span_open_since = r.t  # until a ``bill`` record closes it
        if r.dest in SESSION_FINAL and s.ended is None:
            s.ended = r.t
        s.state = r.dest

    # -- QPU records -------------------------------------------------------------------

    def _qpu(self, r: Record, q: TracedQPU) -> None:
        if r.event == "configure" and r.instance is not None:
            allocation = r.data.get("allocation", 1.0)
            q.allocations[r.instance] = float(allocation) if isinstance(
                allocation, int | float) and allocation else 1.0
            q.window_us = _int(r.data.get("fair_share_window_us")) or q.window_us
            quota = _int(r.data.get("quota_us"))
            if quota is not None:
                q.quotas[r.instance] = quota
        elif r.event == "dispatch":
            job = self.jobs.get(str(r.data.get("job")))
            if job is not None:
                job.via = _text(r.data.get("via"))
        elif r.event == "hold":
            if q.holding is None:
                q.holding = (r.session, r.t)
        elif r.event == "release" and q.holding is not None:
            sid, since = q.holding
            q.holding = None
            self._reserved(q, sid, r.t - since)
        elif r.event == "bill":
            self._bill(r)
        elif r.event.startswith("timer_"):
            self._timer(r)

    def _bill(self, r: Record) -> None:
        s = self.sessions.get(r.session or "")
        span, since = _int(r.data.get("span_us")), _int(r.data.get("from_us"))
        if s is not None:
            usage = _int(r.data.get("usage_us"))
            s.billed_us = usage if usage is not None else s.billed_us + (span or 0)
            s.span_open_since = None
        instance = r.instance or (None if s is None else s.instance)
        if instance is not None and since is not None:
            self._charges.append(ChargedSpan(instance, since, r.t))

    def _timer(self, r: Record) -> None:
        kind = str(r.data.get("timer"))
        pending = self.timers.get(kind)
        key = r.session if kind in ("ittl", "max_ttl") else _text(r.data.get("job"))
        at = _int(r.data.get("at_us"))
        if pending is None or key is None:
            return
        if r.event == "timer_set" and at is not None:
            pending[key] = at
        else:  # timer_cancel, timer_fire
            pending.pop(key, None)

    def _reserved(self, q: TracedQPU, sid: str | None, held: int) -> None:
        q.reserved_idle_us += held
        s = self.sessions.get(sid or "")
        if s is not None:
            s.reserved_idle_us += held


def read(trace: Trace | Iterable[Record]) -> Reading:
    """The reading of a whole trace (records in the order the trace has them)."""
    reading = Reading()
    for r in trace:
        reading.apply(r)
    return reading


def _mode(mode: str) -> Mode:
    return "batch" if mode == "batch" else "dedicated"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return str(value) if value is not None and value != "" else None
