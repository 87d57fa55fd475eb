"""The platform's workloads at one instant, read from a trace: sessions, jobs and QPU queues.

This is the view model of the live page (``qsession serve`` at ``/``). Every value comes
from the trace's one reading (``insight.reading``): states, timers, durations, and what
was billed and charged as the runtime recorded it. The order of a QPU's queue is found by
asking the model's own rules again and again — the dispatch rule
(``qsession.model.dispatch.select``) picks a job, the coupling rules
(``qsession.model.coupling``) say what its start and end tell its session and in which
order started batches go — with fair-share ratios from the runtime's ``FairShare`` fed
with the spans the trace records as charged.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from qsession.model import (
    ACTIVE,
    COUPLING,
    FINAL_STATUSES,
    QUEUED,
    RUNNING,
    SESSION_TABLE,
    SessionLifecycle,
    TransitionRefused,
    in_normal_queue,
    select,
)
from qsession.runtime import Record, Trace
from qsession.runtime.engine.fairshare import FairShare

from .reading import Reading, TracedJob, TracedSession

_SESSION_FINAL = SESSION_TABLE.final_states


@dataclass
class SessionRow:
    """A session or batch as the Workloads table shows it (times in seconds)."""

    id: str
    qpu: str
    instance: str | None
    mode: str
    state: str
    accepting: bool
    created: float
    activations: int = 0
    usage: float = 0.0
    jobs: list[str] = field(default_factory=list)
    ittl_at: float | None = None
    max_ttl_at: float | None = None
    to_ittl: float | None = None
    to_max_ttl: float | None = None
    started_at: float | None = None

    @property
    def is_final(self) -> bool:
        """True once closed, canceled or expired."""
        return self.state in _SESSION_FINAL


@dataclass
class JobRow:
    """A job as the Workloads table shows it (times in seconds; ``run`` so far while running)."""

    id: str
    qpu: str
    session: str | None
    instance: str | None
    status: str
    seq: int
    created: float
    duration: float | None
    started: float | None = None
    finished: float | None = None
    reason: str | None = None
    via: str | None = None
    ends_at: float | None = None
    usage: float | None = None

    @property
    def is_final(self) -> bool:
        """True once DONE, ERROR or CANCELLED."""
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class QueueEntry:
    """One queued job in the order the dispatch rule would start them, with why."""

    position: int
    job: str
    session: str | None
    instance: str | None
    via: str
    reason: str
    after_hold: bool = False


@dataclass
class QPURow:
    """One QPU now: the running job, the session holding it idle, its queue in order."""

    name: str
    running: str | None = None
    running_via: str | None = None
    running_ends_at: float | None = None
    holder: str | None = None
    held_since: float | None = None
    hold_ends_at: float | None = None
    hold_ends_by: str | None = None
    queue: list[QueueEntry] = field(default_factory=list)
    queued: int = 0
    """Jobs queued now (the queue shown may be only the first of them)."""
    ratios: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)


@dataclass
class Workloads:
    """Everything the page shows at ``now`` (seconds since the trace's epoch)."""

    now: float
    sessions: dict[str, SessionRow]
    jobs: dict[str, JobRow]
    qpus: dict[str, QPURow]
    records: int

    def job_reason(self, job: JobRow) -> str:
        """Why a job is where it is: its queue place, how it was started, or how it ended."""
        if job.status == QUEUED:
            queue = self.qpus[job.qpu].queue
            for entry in queue:
                if entry.job == job.id:
                    return f"#{entry.position} in queue: {entry.reason}"
            return f"queued, after the first {len(queue)} places" if queue else "queued"
        if job.status == RUNNING:
            return f"running (started from the {job.via} queue)" if job.via else "running"
        return job.reason or ""


def _s(us: int | None) -> float | None:
    return None if us is None else us / 1e6


def workloads(trace: Trace | Iterable[Record], now_us: int | None = None) -> Workloads:
    """The workloads after every record of ``trace``, at ``now_us`` (default: the last record)."""
    feed = WorkloadsFeed().feed(trace)
    return feed.workloads(now_us if now_us is not None else feed.last_t)


class WorkloadsFeed:
    """The workloads of a growing trace, kept up to date record by record.

    ``workloads()`` reads a whole trace once; a live view feeds the new records on each
    look (``feed``) and asks only for what it shows: a page of rows (``page``), each
    QPU with the head of its queue (``qpu_rows``). The records are folded once, into the
    trace's reading (``insight.reading``: states, timers, holds, what was billed and
    charged); beside it the feed keeps only what a look needs to be cheap — the rows as
    shown, counts per state, the order of the tables, each QPU's queued jobs per session
    and per instance, and the fair-share ledger fed with the charged spans as they are
    recorded — so a look costs what it shows, not the length of the trace.
    """

    def __init__(self) -> None:
        self.sessions: dict[str, SessionRow] = {}
        self.jobs: dict[str, JobRow] = {}
        self.records = 0
        self.last_t = 0
        self.session_counts: Counter[tuple[str | None, str]] = Counter()
        """Sessions per (instance, state): what a filtered table's total is summed from."""
        self.job_counts: Counter[tuple[str | None, str]] = Counter()
        """Jobs per (instance, status)."""
        self.reading = Reading()
        """The trace's one reading, kept up to date."""
        self._names: dict[str, None] = {}  # QPUs in order of first appearance
        self._charged = 0  # the reading's charged spans already in ``_fair``
        self._fair = FairShare({}, self.reading.window_us)
        self._session_order: dict[str | None, list[str]] = {None: []}
        self._job_order: dict[str | None, list[str]] = {None: []}
        self._live: dict[str, dict[str, SessionRow]] = {}  # non-final sessions per QPU
        self._queued: dict[str, dict[str, JobRow]] = {}  # per QPU, in submission order
        self._running: dict[str, str] = {}  # the job each QPU runs
        self._session_queued: dict[str, dict[str, JobRow]] = {}
        self._loose_queued: dict[tuple[str, str | None], dict[str, JobRow]] = {}

    # -- feeding ------------------------------------------------------------------------

    def feed(self, records: Iterable[Record]) -> WorkloadsFeed:
        """Apply ``records`` (the trace's next ones, in order); returns itself."""
        for r in records:
            self.add(r)
        return self

    def add(self, r: Record) -> None:
        """Apply one record: fold it into the reading, then bring the indexes along."""
        self.records += 1
        self.last_t = max(self.last_t, r.t)
        reading = self.reading
        reading.apply(r)
        if r.qpu not in self._names:
            self._names[r.qpu] = None
            self._live[r.qpu] = {}
            self._queued[r.qpu] = {}
        if r.entity == "session":
            self._session(reading.sessions[r.id])
        elif r.entity == "job":
            self._job(reading.jobs[r.id])
        elif r.event == "configure" and r.instance is not None:
            q = reading.qpus[r.qpu]
            self._fair.window_us = reading.window_us
            self._fair.add({r.instance: q.allocations[r.instance]})
        elif r.event == "dispatch":
            job = self.jobs.get(str(r.data.get("job")))
            if job is not None:
                job.via = reading.jobs[job.id].via
        charges = reading.charges  # what the runtime recorded as charged, as it ends
        for span in charges[self._charged:]:
            if span.instance in self._fair.allocations:
                self._fair.record(span.instance, span.start, span.end)
        self._charged = len(charges)

    def _session(self, traced: TracedSession) -> None:
        row = self.sessions.get(traced.id)
        if row is None:
            row = self.sessions[traced.id] = SessionRow(
                traced.id, traced.qpu, traced.instance, traced.mode, traced.state,
                traced.accepting, traced.created / 1e6)
            self._session_order[None].append(row.id)
            self._session_order.setdefault(row.instance, []).append(row.id)
            self.session_counts[(row.instance, row.state)] += 1
            self._live[row.qpu][row.id] = row
        if traced.state != row.state:
            self.session_counts[(row.instance, row.state)] -= 1
            self.session_counts[(row.instance, traced.state)] += 1
            row.state = traced.state
            if row.is_final:
                self._live[row.qpu].pop(row.id, None)
        row.accepting = traced.accepting

    def _job(self, traced: TracedJob) -> None:
        job = self.jobs.get(traced.id)
        if job is None:
            job = self.jobs[traced.id] = JobRow(
                traced.id, traced.qpu, traced.session, traced.instance, traced.status,
                traced.order, traced.created / 1e6, _s(traced.runs_for_us))
            if job.session in self.sessions:
                self.sessions[job.session].jobs.append(job.id)
            self._job_order[None].append(job.id)
            self._job_order.setdefault(job.instance, []).append(job.id)
            self.job_counts[(job.instance, job.status)] += 1
            if job.status == QUEUED:
                self._enqueue(job)
        job.started = _s(traced.started)
        status = traced.status
        if status == RUNNING:
            self._running[job.qpu] = job.id
        elif job.status == RUNNING and self._running.get(job.qpu) == job.id:
            del self._running[job.qpu]
        if status != job.status:
            self.job_counts[(job.instance, job.status)] -= 1
            self.job_counts[(job.instance, status)] += 1
            if job.status == QUEUED:
                self._dequeue(job)
            job.status = status
        if traced.is_final and job.finished is None:
            job.finished = _s(traced.finished)
            job.reason = traced.reason or _ended(traced.ended_by, traced.status)

    def _enqueue(self, job: JobRow) -> None:
        self._queued[job.qpu][job.id] = job
        if job.session is not None:
            self._session_queued.setdefault(job.session, {})[job.id] = job
        else:
            self._loose_queued.setdefault((job.qpu, job.instance), {})[job.id] = job

    def _dequeue(self, job: JobRow) -> None:
        self._queued[job.qpu].pop(job.id, None)
        if job.session is not None:
            self._session_queued.get(job.session, {}).pop(job.id, None)
        else:
            self._loose_queued.get((job.qpu, job.instance), {}).pop(job.id, None)

    # -- looking ------------------------------------------------------------------------

    def session_row(self, sid: str, now_us: int) -> SessionRow:
        """Session ``sid`` with its meter, activations and countdowns brought to ``now_us``."""
        row = self.sessions[sid]
        traced = self.reading.sessions[sid]
        row.activations = traced.activations
        end = max(now_us, self.reading.qpus[row.qpu].last)
        row.usage = traced.usage_us(end) / 1e6  # as billed; an open span until now
        row.started_at = _s(traced.started_at)
        timers = self.reading.timers
        if row.is_final:  # no countdown runs for an ended session
            row.ittl_at = row.max_ttl_at = row.to_ittl = row.to_max_ttl = None
        else:
            row.ittl_at = _s(timers["ittl"].get(sid))
            row.max_ttl_at = _s(timers["max_ttl"].get(sid))
            row.to_ittl = (None if row.ittl_at is None
                           else max(0.0, row.ittl_at - now_us / 1e6))
            row.to_max_ttl = (None if row.max_ttl_at is None
                              else max(0.0, row.max_ttl_at - now_us / 1e6))
        return row

    def job_row(self, jid: str) -> JobRow:
        """Job ``jid`` with its billed usage (once final) and when a running one ends."""
        job = self.jobs[jid]
        if job.is_final:  # what the runtime billed (0: failed by it, or never ran)
            job.usage = (self.reading.jobs[jid].usage_us or 0) / 1e6
        finish = self.reading.timers["finish"].get(job.id)
        job.ends_at = _s(finish) if job.status == RUNNING else None
        return job

    def page(self, kind: Literal["sessions", "jobs"], keep: Callable[[Any], bool], *,
             instance: str | None = None, offset: int = 0, limit: int | None = None,
             now_us: int | None = None) -> list[Any]:
        """Rows newest first that ``keep`` accepts, ``offset`` of them skipped, ``limit``
        at most: costs the rows passed over, not the table (``instance`` narrows the scan
        to one instance's rows)."""
        order = (self._session_order if kind == "sessions" else self._job_order)
        ids = order.get(instance, []) if instance is not None else order[None]
        rows = self.sessions if kind == "sessions" else self.jobs
        now = self.last_t if now_us is None else now_us
        out: list[Any] = []
        skipped = 0
        for ident in reversed(ids):
            row = rows[ident]
            if not keep(row):
                continue
            if skipped < offset:
                skipped += 1
                continue
            out.append(self.session_row(ident, now) if kind == "sessions"
                       else self.job_row(ident))
            if limit is not None and len(out) >= limit:
                break
        return out

    def qpu_rows(self, now_us: int, *, queue_limit: int | None = None) -> dict[str, QPURow]:
        """Each QPU now: what runs, who holds it, the fair shares, and the first
        ``queue_limit`` jobs of its queue in dispatch order (``queued`` says how many wait)."""
        fair = self._fair_share()
        qpus: dict[str, QPURow] = {}
        for name in self._names:
            q = qpus[name] = QPURow(name)
            q.queued = len(self._queued[name])
        for name, jid in self._running.items():
            job = self.job_row(jid)
            q = qpus[name]
            q.running, q.running_via, q.running_ends_at = job.id, job.via, job.ends_at
        for name, q in qpus.items():
            holding = self.reading.qpus[name].holding
            if holding is not None:
                holder, since = holding
                q.holder, q.held_since = holder, since / 1e6
                if holder in self.sessions:
                    row = self.session_row(holder, now_us)
                    # Held at most until its ITTL runs out (or max TTL strikes first).
                    ends = [(t, why) for t, why in ((row.ittl_at, "ITTL"),
                                                    (row.max_ttl_at, "max TTL"))
                            if t is not None]
                    if ends:
                        q.hold_ends_at, q.hold_ends_by = min(ends)
            q.ratios = {i: fair.ratio(i, now_us) for i in fair.share}
            q.used = {i: fair.used(i, now_us) / 1e6 for i in fair.share}
            q.shares = dict(fair.share)
            q.queue = self._queue_order(name, q, queue_limit)
        return qpus

    def _fair_share(self) -> FairShare:
        """The one ledger for the service (an instance's use counts on every QPU)."""
        qpus = self.reading.qpus
        if all(qpus[name].allocations for name in self._names):
            return self._fair
        # A hand-written trace that configures no allocation: equal ones, from its jobs.
        fair = FairShare({}, self.reading.window_us)
        for name in self._names:
            fair.add(qpus[name].allocations or _instances(self.jobs, name))
        for span in self.reading.charges:
            if span.instance in fair.allocations:
                fair.record(span.instance, span.start, span.end)
        return fair

    def workloads(self, now_us: int) -> Workloads:
        """Every row and every QPU with its whole queue, at ``now_us``."""
        sessions = {sid: self.session_row(sid, now_us) for sid in self.sessions}
        jobs = {jid: self.job_row(jid) for jid in self.jobs}
        return Workloads(now_us / 1e6, sessions, jobs, self.qpu_rows(now_us), self.records)

    def _queue_order(self, qpu: str, row: QPURow, limit: int | None) -> list[QueueEntry]:
        """The queued jobs of ``qpu`` in the order ``select`` would start them from now on
        (at most ``limit``).

        The running job ends first; then the rule is asked again and again, each pick runs
        and ends, and the sessions move as the model's table moves them (``job_started``,
        ``job_ended``, and ``ittl_elapsed`` when the rule holds the QPU for a session with
        nothing queued). Fair-share ratios stay those of now, and no max TTL strikes on the
        way: the order is what the rule says if nothing else happens. Queues are read
        lazily, so the first ``limit`` places cost about ``limit`` steps.
        """
        here = list(self._live[qpu].values())
        lives = {s.id: _lifecycle(s) for s in here}
        taken: set[str] = set()
        activated: set[str] = set()  # left the normal queue on the way
        own = {s.id: _Head(iter(self._session_queued.get(s.id, {}).values()),
                           lambda j: j.id not in taken) for s in here}
        # Started batches in the model's batch order (as the scheduler keeps them).
        order = {s.id: COUPLING.batch_order(_us(s.started_at), _us(s.created), s.id)
                 for s in here}
        waiting: dict[str | None, list[Iterable[JobRow]]] = {}
        for (name, instance), loose in self._loose_queued.items():
            if name == qpu and loose:
                waiting.setdefault(instance, []).append(loose.values())
        for s in here:
            if in_normal_queue(lives[s.id].state) and self._session_queued.get(s.id):
                waiting.setdefault(s.instance, []).append(
                    self._session_queued[s.id].values())

        def in_normal(j: JobRow) -> bool:
            return j.id not in taken and (j.session is None or j.session not in activated)

        normal = {i: _Head(heapq.merge(*queues, key=_seq), in_normal)
                  for i, queues in waiting.items()}

        def fire(sid: str | None, event: str, **facts: int) -> str | None:
            """Fire ``event`` on the session's model copy; its new state if it changed."""
            life = lives.get(sid or "")
            if life is None:
                return None
            try:
                step = life.fire(event, **facts)
            except TransitionRefused:  # a trace the model would not have produced
                return None
            if step.dest in _SESSION_FINAL:
                lives.pop(step.ident)
            return step.dest if step.changed else None

        def told(job: JobRow, job_event: str) -> str | None:
            """Tell the job's session what the coupling rules say ``job_event`` tells it."""
            event = COUPLING.session_event_of(job_event)
            if job.session is None or job.session not in own or event is None:
                return None
            facts = {"in_flight": own[job.session].left()} if event == "job_ended" else {}
            return fire(job.session, event, **facts)

        def ran(job: JobRow) -> None:
            told(job, "finish")

        running = self.jobs.get(row.running or "")
        if running is not None:
            ran(running)
        out: list[QueueEntry] = []
        held: str | None = None
        while limit is None or len(out) < limit:
            active = [s for s in here if s.id in lives and lives[s.id].state == ACTIVE]
            dedicated = next((s for s in active if lives[s.id].reserves_qpu), None)
            batches = sorted((s for s in active if not lives[s.id].reserves_qpu),
                             key=lambda s: order[s.id])
            heads = ((row.ratios.get(i or "", 0.0), head.seq, head)
                     for i, q in normal.items() if (head := q.peek()) is not None)
            decision = select(
                dedicated is not None,
                None if dedicated is None else own[dedicated.id].peek(),
                (own[b.id].peek() for b in batches),
                heads,
            )
            if decision.action == "hold" and dedicated is not None:
                held = dedicated.id  # its ITTL runs out with nothing queued: inactive
                fire(dedicated.id, "ittl_elapsed", in_flight=0)
                continue
            if decision.action != "start" or decision.job is None:
                return out
            job = decision.job
            out.append(QueueEntry(len(out) + 1, job.id, job.session, job.instance,
                                  decision.via or "", _reason(decision.via, job, row, held),
                                  held is not None))
            taken.add(job.id)
            if told(job, "start") == ACTIVE and job.session is not None:
                # Activated: its other jobs leave the normal queue for its own.
                if self.sessions[job.session].started_at is None:  # first starts from now on
                    order[job.session] = COUPLING.batch_order(_LATER + len(out), 0, job.session)
                activated.add(job.session)
            ran(job)
        return out


def _seq(job: JobRow) -> int:
    return job.seq


class _Head:
    """A queue read lazily: its first job that ``ok`` still accepts."""

    __slots__ = ("_cur", "_it", "_ok")

    def __init__(self, it: Iterator[JobRow] | Iterable[JobRow],
                 ok: Callable[[JobRow], bool]) -> None:
        self._it = iter(it)
        self._ok = ok
        self._cur: JobRow | None = None

    def peek(self) -> JobRow | None:
        """The first job still waiting here, or None."""
        cur = self._cur
        while cur is None or not self._ok(cur):
            cur = next(self._it, None)
            if cur is None:
                self._cur = None
                return None
        self._cur = cur
        return cur

    def left(self) -> int:
        """Whether a job still waits here (1) or not (0): the model's ``in_flight`` fact."""
        return 0 if self.peek() is None else 1


def _instances(jobs: dict[str, JobRow], qpu: str) -> dict[str, float]:
    """Equal allocations when the trace configures none (a hand-written trace)."""
    names = {j.instance for j in jobs.values() if j.qpu == qpu and j.instance is not None}
    return dict.fromkeys(sorted(names), 1.0) or {"-": 1.0}


def _ended(event: str | None, status: str) -> str:
    if event == "finish" and status == "DONE":
        return "completed"
    return event or status


_LATER = 2**62
"""A first start the prediction makes: later than any instant a trace has."""


def _us(seconds: float | None) -> int:
    return 0 if seconds is None else round(seconds * 1e6)


def _lifecycle(row: SessionRow) -> SessionLifecycle:
    """A model copy of a session in the state the trace shows, for the prediction."""
    life = SessionLifecycle(row.id, "batch" if row.mode == "batch" else "dedicated")
    life.state = row.state
    life.accepting_jobs = row.accepting
    return life


def _reason(via: str | None, job: JobRow, row: QPURow, held: str | None) -> str:
    if via == "session":
        reason = f"the active session {job.session} holds the QPU: its jobs go first"
    elif via == "batch":
        reason = f"started batch {job.session} goes before the normal queue"
    else:
        name = job.instance or ""
        reason = (f"normal queue: instance {name} used {row.used.get(name, 0.0):.3f} s "
                  f"of its {row.shares.get(name, 0.0):.0%} share in the window "
                  "(least served first, FIFO on ties)")
    if held is not None:
        reason += f"; after {held}'s hold ends"
    return reason
