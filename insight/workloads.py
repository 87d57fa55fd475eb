"""The platform's workloads at one instant, read from a trace: sessions, jobs and QPU queues.

This is the view model of the live page (``qsession serve`` at ``/``). Every value comes
from the trace's records: states from their ``dest``, timers from ``timer_set`` /
``timer_cancel`` / ``timer_fire``, durations from the job ``create`` records. The order
of a QPU's queue is found by asking the model's own dispatch rule
(``qsession.model.dispatch.select``) again and again, taking out each job it picks, with
fair-share ratios from the runtime's ``FairShare`` fed with the trace's finished runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qsession.model import ACTIVE, FINAL_STATUSES, QUEUED, RUNNING, SESSION_TABLE
from qsession.model.dispatch import in_normal_queue, select
from qsession.model.lifecycle import TransitionRefused
from qsession.model.session import SessionLifecycle
from qsession.runtime.fairshare import FairShare
from qsession.runtime.trace import Record, Trace

from .metrics import compute

_SESSION_FINAL = SESSION_TABLE.final_states
DEFAULT_WINDOW_US = 28 * 86_400 * 1_000_000


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
            for entry in self.qpus[job.qpu].queue:
                if entry.job == job.id:
                    return f"#{entry.position} in queue: {entry.reason}"
            return "queued"
        if job.status == RUNNING:
            return f"running (started from the {job.via} queue)" if job.via else "running"
        return job.reason or ""


def _s(us: int | None) -> float | None:
    return None if us is None else us / 1e6


@dataclass
class _Timers:
    ittl: dict[str, int] = field(default_factory=dict)
    max_ttl: dict[str, int] = field(default_factory=dict)
    finish: dict[str, int] = field(default_factory=dict)

    def apply(self, r: Record) -> None:
        kind = r.data.get("timer")
        at = r.data.get("at_us")
        key = r.session if kind in ("ittl", "max_ttl") else r.data.get("job")
        table = {"ittl": self.ittl, "max_ttl": self.max_ttl, "finish": self.finish}.get(
            str(kind))
        if table is None or not isinstance(key, str):
            return
        if r.event == "timer_set" and isinstance(at, int):
            table[key] = at
        else:  # timer_cancel, timer_fire
            table.pop(key, None)


def workloads(trace: Trace | Iterable[Record], now_us: int | None = None) -> Workloads:
    """The workloads after every record of ``trace``, at ``now_us`` (default: the last record)."""
    records = list(trace)
    now = now_us if now_us is not None else (records[-1].t if records else 0)
    metrics = compute(records)
    sessions: dict[str, SessionRow] = {}
    jobs: dict[str, JobRow] = {}
    qpus: dict[str, QPURow] = {}
    timers = _Timers()
    allocations: dict[str, dict[str, float]] = {}
    windows: dict[str, int] = {}
    holds: dict[str, tuple[str | None, int]] = {}
    charges: list[tuple[str, int, int]] = []  # fair-share spans, in the order they ended
    for r in records:
        qpus.setdefault(r.qpu, QPURow(r.qpu))
        if r.entity == "qpu":
            if r.event == "configure" and r.instance is not None:
                allocations.setdefault(r.qpu, {})[r.instance] = float(
                    r.data.get("allocation", 1.0) or 1.0)
                window = r.data.get("fair_share_window_us")
                if isinstance(window, int):
                    windows[r.qpu] = window
            elif r.event == "dispatch" and isinstance(r.data.get("job"), str):
                job_id = str(r.data["job"])
                if job_id in jobs:
                    jobs[job_id].via = str(r.data.get("via") or "") or None
            elif r.event == "hold":
                holds.setdefault(r.qpu, (r.session, r.t))
            elif r.event == "release":
                holds.pop(r.qpu, None)
            elif r.event.startswith("timer_"):
                timers.apply(r)
            elif r.event == "bill" and r.instance is not None:
                since = r.data.get("from_us")
                if isinstance(since, int):  # a dedicated session's billed active span
                    charges.append((r.instance, since, r.t))
        elif r.entity == "session":
            _session(r, sessions)
        else:
            _job(r, jobs, sessions)
            charge = _charge(r, jobs[r.id], sessions)
            if charge is not None:
                charges.append(charge)
    for sid, row in sessions.items():
        m = metrics.sessions.get(sid)
        if m is not None:
            row.activations = m.activations
            usage = m.usage_time
            # The meter still runs at the trace's end (metrics stops it there): a dedicated
            # session that is active, or that ended while its job runs, is billed
            # on until now.
            metered = row.state == ACTIVE or (row.is_final and any(
                jobs[j].status == RUNNING for j in row.jobs if j in jobs))
            if metered and row.mode == "dedicated":
                usage += max(0, now - round(metrics.qpus[row.qpu].end * 1e6)) / 1e6
            row.usage = usage
            row.started_at = m.started
        if not row.is_final:
            row.ittl_at = _s(timers.ittl.get(sid))
            row.max_ttl_at = _s(timers.max_ttl.get(sid))
            row.to_ittl = None if row.ittl_at is None else max(0.0, row.ittl_at - now / 1e6)
            row.to_max_ttl = (None if row.max_ttl_at is None
                              else max(0.0, row.max_ttl_at - now / 1e6))
    for job in jobs.values():
        if job.is_final and job.id in metrics.jobs:
            job.usage = metrics.jobs[job.id].usage  # what the runtime billed (0: failed by it)
        if job.status == RUNNING:
            job.ends_at = _s(timers.finish.get(job.id))
            q = qpus[job.qpu]
            q.running, q.running_via, q.running_ends_at = job.id, job.via, job.ends_at
    # One ledger for the service: an instance's use counts on every QPU.
    fair = FairShare({}, max(windows.values(), default=DEFAULT_WINDOW_US))
    for name in qpus:
        fair.add(allocations.get(name) or _instances(jobs, name))
    for instance, start, end in charges:
        if instance in fair.allocations:
            fair.record(instance, start, end)
    for name, q in qpus.items():
        if name in holds:
            holder, since = holds[name]
            q.holder, q.held_since = holder, since / 1e6
            if holder in sessions:
                # Held at most until its ITTL runs out (or max TTL strikes first).
                ends = [(t, why) for t, why in ((sessions[holder].ittl_at, "ITTL"),
                                                (sessions[holder].max_ttl_at, "max TTL"))
                        if t is not None]
                if ends:
                    q.hold_ends_at, q.hold_ends_by = min(ends)
        q.ratios = {i: fair.ratio(i, now) for i in fair.share}
        q.used = {i: fair.used(i, now) / 1e6 for i in fair.share}
        q.shares = dict(fair.share)
        q.queue = _queue_order(name, sessions, jobs, q)
    return Workloads(now / 1e6, sessions, jobs, qpus, len(records))


def _instances(jobs: dict[str, JobRow], qpu: str) -> dict[str, float]:
    """Equal allocations when the trace configures none (a hand-written trace)."""
    names = {j.instance for j in jobs.values() if j.qpu == qpu and j.instance is not None}
    return dict.fromkeys(sorted(names), 1.0) or {"-": 1.0}


def _charge(r: Record, job: JobRow, sessions: dict[str, SessionRow]
            ) -> tuple[str, int, int] | None:
    """The fair-share span a job's end record charges, if any (read from the record).

    A job that ran and ended billed (``usage_us`` > 0; a system failure bills 0) charges
    its instance the time it held the QPU, unless a user cancelled it or it ran in a
    dedicated session (the session's ``bill`` records charge its active spans instead).
    """
    if r.source != RUNNING or r.dest not in FINAL_STATUSES or r.event == "cancel":
        return None
    if job.started is None or job.instance is None:
        return None
    if job.session is not None and job.session in sessions and (
            sessions[job.session].mode == "dedicated"):
        return None
    usage = r.data.get("usage_us")
    if isinstance(usage, int) and usage <= 0:
        return None
    return job.instance, round(job.started * 1e6), r.t


def _session(r: Record, sessions: dict[str, SessionRow]) -> None:
    row = sessions.get(r.id)
    if row is None:
        row = sessions[r.id] = SessionRow(r.id, r.qpu, r.instance,
                                          str(r.data.get("mode", "dedicated")),
                                          r.dest or "pending", True, r.t / 1e6)
    if r.dest is not None:
        row.state = r.dest
    accepting = r.data.get("accepting_jobs")
    if isinstance(accepting, bool):
        row.accepting = accepting


def _job(r: Record, jobs: dict[str, JobRow], sessions: dict[str, SessionRow]) -> None:
    job = jobs.get(r.id)
    if job is None:
        duration = r.data.get("duration_us")
        limit = r.data.get("time_limit_us")
        runs = duration if isinstance(duration, int) else None
        if runs is not None and isinstance(limit, int):
            runs = min(runs, limit)
        job = jobs[r.id] = JobRow(r.id, r.qpu, r.session, r.instance, r.dest or QUEUED,
                                  len(jobs), r.t / 1e6, _s(runs))
        if r.session in sessions:
            sessions[r.session].jobs.append(r.id)
    if r.event == "start":
        job.started = r.t / 1e6
    if r.dest is not None:
        job.status = r.dest
        if r.dest in FINAL_STATUSES and job.finished is None:
            job.finished = r.t / 1e6
            reason = r.data.get("reason")
            job.reason = str(reason) if reason else _ended(r.event, job)


def _ended(event: str, job: JobRow) -> str:
    if event == "finish" and job.status == "DONE":
        return "completed"
    return event


def _queue_order(qpu: str, sessions: dict[str, SessionRow], jobs: dict[str, JobRow],
                 row: QPURow) -> list[QueueEntry]:
    """The queued jobs of ``qpu`` in the order ``select`` would start them from now on.

    The running job ends first; then the rule is asked again and again, each pick runs
    and ends, and the sessions move as the model's table moves them (``job_started``,
    ``job_ended``, and ``ittl_elapsed`` when the rule holds the QPU for a session with
    nothing queued). Fair-share ratios stay those of now, and no max TTL strikes on the
    way: the order is what the rule says if nothing else happens.
    """
    queued = sorted((j for j in jobs.values() if j.qpu == qpu and j.status == QUEUED),
                    key=lambda j: j.seq)
    here = [s for s in sessions.values() if s.qpu == qpu and not s.is_final]
    lives = {s.id: _lifecycle(s) for s in here}
    own: dict[str, list[JobRow]] = {s.id: [j for j in queued if j.session == s.id]
                                    for s in here}
    # Started batches in the order their first jobs started (as the scheduler keeps them).
    order = {s.id: (s.started_at or 0.0, s.created, s.id) for s in here}
    normal: dict[str | None, list[JobRow]] = {}
    for j in queued:
        if in_normal_queue(None if j.session is None else lives[j.session].state):
            normal.setdefault(j.instance, []).append(j)

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

    def ran(job: JobRow) -> None:
        if job.session is not None and job.session in own:
            fire(job.session, "job_ended", in_flight=len(own[job.session]))

    running = jobs.get(row.running or "")
    if running is not None:
        ran(running)
    out: list[QueueEntry] = []
    held: str | None = None
    while True:
        active = [s for s in here if s.id in lives and lives[s.id].state == ACTIVE]
        dedicated = next((s for s in active if s.mode == "dedicated"), None)
        batches = sorted((s for s in active if s.mode == "batch"), key=lambda s: order[s.id])
        decision = select(
            dedicated is not None,
            None if dedicated is None or not own[dedicated.id] else own[dedicated.id][0],
            (own[b.id][0] if own[b.id] else None for b in batches),
            ((row.ratios.get(i or "", 0.0), q[0].seq, q[0]) for i, q in normal.items() if q),
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
        for q in (own.get(job.session or ""), normal.get(job.instance)):
            if q and job in q:
                q.remove(job)
        if fire(job.session, "job_started") == ACTIVE and job.session is not None:
            # Activated: its other jobs leave the normal queue for its own.
            if sessions[job.session].started_at is None:  # first activation: served last
                order[job.session] = (float("inf"), len(out), job.session)
            for q in normal.values():
                q[:] = [j for j in q if j.session != job.session]
        ran(job)


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
