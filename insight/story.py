"""The demo's story read back from its trace alone: who waited behind whom, jumps, expiry.

``read_story`` turns the records of one demo run into the session behaviours of the lifecycle as
they happened; ``figures`` gives the headline numbers from the trace's metrics. Neither
needs the emulator, so a recorded ``trace.jsonl`` tells the same story.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qsession.runtime import Record, Trace
from qsession.runtime.engine.clock import to_seconds

from .metrics import Metrics
from .reading import read


@dataclass
class JobFacts:
    """One job as the trace tells it: who, when (seconds and record order), how it ended."""

    id: str
    session: str | None
    owner: str
    created: float
    created_seq: int
    started: float | None = None
    started_seq: int | None = None
    ended: float | None = None
    ended_seq: int | None = None
    status: str = "QUEUED"
    via: str | None = None

    @property
    def wait(self) -> float | None:
        """Seconds queued before it started (None if it never started)."""
        return None if self.started is None else self.started - self.created

    def queued_at(self, seq: int) -> bool:
        """True if the job was queued just before record ``seq``."""
        return (self.created_seq < seq and (self.started_seq is None or self.started_seq > seq)
                and (self.ended_seq is None or self.ended_seq > seq))


@dataclass
class Story:
    """The session behaviours of the lifecycle as they happened in one demo trace."""

    session: str
    jobs: dict[str, JobFacts]
    first_job: str
    ahead_of_first: list[str]
    activated_at: float | None
    jumps: list[tuple[str, int]]
    """Session jobs dispatched via the session's priority, with the tenant jobs waiting then."""
    deactivations: list[tuple[float, float]]
    """(ITTL window start, ITTL elapsed) per deactivation."""
    reactivations: list[tuple[str, list[str]]]
    """(job that reactivated the session, tenant jobs that started while it queued)."""
    expiry: float | None
    expired: list[str]
    running_at_expiry: str | None
    tenant_sessions: dict[str, tuple[float, float | None]]
    """Tenant session id: (its first submission, its activation)."""

    def session_jobs(self) -> list[JobFacts]:
        """The VQE session's jobs in submission order."""
        return [j for j in self.jobs.values() if j.session == self.session]

    def tenant_jobs(self) -> list[JobFacts]:
        """Every other job (job mode and tenant sessions)."""
        return [j for j in self.jobs.values() if j.session != self.session]


def read_story(trace: Trace | Iterable[Record], session_id: str) -> Story:
    """Read the demo's behaviours for session ``session_id`` from the trace records alone."""
    records = list(trace)
    jobs = _job_facts(records)
    mine = [j for j in jobs.values() if j.session == session_id]
    first = mine[0]
    others = [j for j in jobs.values() if j.session != session_id]
    ahead = [j.id for j in others if first.started_seq is not None and j.started_seq is not None
             and first.created_seq < j.started_seq < first.started_seq]
    session_records = [r for r in records if r.entity == "session" and r.id == session_id]
    activated = next((to_seconds(r.t) for r in session_records if r.dest == "active"), None)
    jumps = [(str(r.data["job"]), sum(j.queued_at(r.seq) for j in others)) for r in records
             if r.event == "dispatch" and r.session == session_id
             and r.data.get("via") == "session"]
    ittl = _session_ittl(records, session_id)
    deactivations = [(to_seconds(r.t) - ittl, to_seconds(r.t)) for r in session_records
                     if r.event == "ittl_elapsed"]
    reactivations = []
    for r in session_records:
        if r.event == "job_started" and r.source == "inactive":
            job = next(j for j in mine if j.started_seq is not None and j.started_seq < r.seq
                       and j.started == to_seconds(r.t))
            behind = [o.id for o in others if o.started_seq is not None
                      and job.created_seq < o.started_seq < r.seq]
            reactivations.append((job.id, behind))
    expiry_rec = next((r for r in session_records if r.event == "max_time_reached"), None)
    expiry = None if expiry_rec is None else to_seconds(expiry_rec.t)
    expired = [j.id for j in mine if j.status == "ERROR" and j.started is None
               and j.ended == expiry]
    running = None
    if expiry_rec is not None:
        running = next((j.id for j in mine if j.started_seq is not None
                        and j.started_seq < expiry_rec.seq
                        and (j.ended_seq is None or j.ended_seq > expiry_rec.seq)), None)
    return Story(session_id, jobs, first.id, ahead, activated, jumps, deactivations,
                 reactivations, expiry, expired, running, _tenant_sessions(records, session_id))


def _job_facts(records: list[Record]) -> dict[str, JobFacts]:
    """Every job's facts, from the trace's one reading (its tags name its owner)."""
    return {j.id: JobFacts(j.id, j.session, j.tags or "?", to_seconds(j.created), j.created_seq,
                           _s(j.started), j.started_seq, _s(j.finished), j.finished_seq,
                           j.status, j.via)
            for j in read(records).jobs.values()}


def _s(us: int | None) -> float | None:
    return None if us is None else to_seconds(us)


def _session_ittl(records: list[Record], session_id: str) -> float:
    for r in records:
        if r.entity == "session" and r.id == session_id and r.event == "create":
            return to_seconds(int(r.data.get("interactive_timeout_us") or 0))
    return 0.0


def _tenant_sessions(records: list[Record], session_id: str) -> dict[str, tuple[float,
                                                                             float | None]]:
    out: dict[str, tuple[float, float | None]] = {}
    for r in records:
        if r.entity != "session" or r.id == session_id:
            continue
        if r.event == "submit" and r.id not in out:
            out[r.id] = (to_seconds(r.t), None)
        elif r.dest == "active" and r.source == "pending" and r.id in out:
            out[r.id] = (out[r.id][0], to_seconds(r.t))
    return out


# -- headline figures: what the terminal prints, all from metrics.compute(trace) -------------


def figures(metrics: Metrics, session_id: str) -> dict[str, float]:
    """The headline numbers the demo prints, from the metrics of its trace."""
    session = metrics.sessions[session_id]
    qpu = metrics.qpus[session.qpu]
    mine = [j for j in metrics.jobs.values() if j.session == session_id]
    others = [j for j in metrics.jobs.values() if j.session != session_id]
    waits = [j.wait for j in others if j.wait is not None]
    return {
        "qpu_utilisation": qpu.utilisation,
        "qpu_reserved_idle_fraction": qpu.reserved_idle_fraction,
        "qpu_reserved_idle_s": qpu.reserved_idle,
        "qpu_busy_s": qpu.busy,
        "qpu_span_s": qpu.span,
        "session_usage_s": session.usage_time,
        "session_quantum_s": session.job_usage,
        "session_reserved_idle_s": session.reserved_idle,
        "session_activations": float(session.activations),
        "session_deactivations": float(session.deactivations),
        "session_mean_wait_s": metrics.mean_wait(mine),
        "tenant_mean_wait_s": metrics.mean_wait(others),
        "tenant_max_wait_s": max(waits, default=0.0),
    }


