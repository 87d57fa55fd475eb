"""The scheduling invariants: who may start on a QPU, in which order, and no needless idling."""

from __future__ import annotations

from qsession.runtime import Record

from ..replay import Replay
from .base import Checker


class FirstJobNormal(Checker):
    """INV-FIRST-JOB-NORMAL."""

    id = "INV-FIRST-JOB-NORMAL"
    statement = "jobs of pending or inactive sessions get no priority over the normal queue"

    def before(self, r: Record, state: Replay) -> None:
        if r.entity != "job" or r.event != "start" or r.session not in state.sessions:
            return
        s = state.sessions[r.session]
        if s.state not in ("pending", "inactive"):
            return
        self.checks += 1
        job = state.jobs[r.id]
        older = [j for j in state.queued_on(r.qpu)
                 if state.normal_eligible(j) and j.instance == job.instance
                 and j.order < job.order]
        if older:
            self.fail(r.t, f"job {r.id} of {s.state} session {s.id} started ahead of older "
                      f"normal-queue job(s) {[j.id for j in older]}", r)
        # A batch of an instance past its quota waits too: docs/semantics.md,
        # "Plans and defaults". Its queued jobs have no priority meanwhile.
        waiting = [b.id for b in state.active_batches(r.qpu) if b.queued and b.id != s.id
                   and not state.over_quota(b.instance or "default", r.t)]
        if waiting:
            self.fail(r.t, f"job {r.id} of {s.state} session {s.id} started while active "
                      f"batch(es) {waiting} had queued jobs", r)
        dispatch = state.qpu(r.qpu).last_dispatch
        if dispatch is not None and dispatch.data.get("job") == r.id and \
                dispatch.data.get("via") != "normal":
            self.fail(r.t, f"job {r.id} of {s.state} session {s.id} was dispatched via "
                      f"{dispatch.data.get('via')!r}, not through the normal queue", dispatch, r)


class Priority(Checker):
    """INV-PRIORITY."""

    id = "INV-PRIORITY"
    statement = "while a session is active no other job starts on its QPU"

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.event == "start":
            self.checks += 1
            active = state.active_dedicated(r.qpu)
            if active is not None and r.session != active.id:
                self.fail(r.t, f"job {r.id} ({'job mode' if r.session is None else r.session}) "
                          f"started while session {active.id} was active on {r.qpu}", r)


class DispatchOrder(Checker):
    """INV-DISPATCH-ORDER."""

    id = "INV-DISPATCH-ORDER"
    statement = ("an active session's jobs start in submission order; without one, the first "
                 "started batch with queued jobs is served first, FIFO within it")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity != "job" or r.event != "start" or r.id not in state.jobs:
            return
        job = state.jobs[r.id]
        active = state.active_dedicated(r.qpu)
        if active is not None:
            if job.session != active.id:
                return  # INV-PRIORITY's business
            self.checks += 1
            first = min((state.jobs[j] for j in active.queued), key=lambda j: j.order)
            if first.id != job.id:
                self.fail(r.t, f"session {active.id} started job {job.id} before its older "
                          f"queued job {first.id}", r)
            return
        batches = [b for b in state.active_batches(r.qpu)
                   if b.queued and not state.over_quota(b.instance or "default", r.t)]
        if not batches:
            return
        self.checks += 1
        # Started batches are served in the order their first jobs started.
        served = min(batches, key=lambda b: (b.started_at or 0, b.created, b.id))
        first = min((state.jobs[j] for j in served.queued), key=lambda j: j.order)
        if first.id != job.id:
            self.fail(r.t, f"job {job.id} started while batch {served.id} (started at "
                      f"{(served.started_at or 0) / 1e6:g}s, the first started batch with "
                      f"queued jobs) waits with {first.id} at its head", r)


class WorkConserving(Checker):
    """INV-WORK-CONSERVING."""

    id = "INV-WORK-CONSERVING"
    statement = ("the QPU idles only when no job is eligible or an active session holds it "
                 "within its ITTL")

    def instant_end(self, t: int, state: Replay) -> None:
        for name, q in state.qpus.items():
            if q.running is not None:
                continue
            self.checks += 1
            if not state.has_queued(name):
                continue
            active = state.active_dedicated(name)
            if active is not None and not active.queued:
                continue  # held for the active session, which has nothing queued
            eligible = [j.id for j in state.queued_on(name)
                        if (active is None or j.session == active.id)
                        and not state.over_quota(j.instance, t)]
            if eligible:
                holder = f" (session {active.id} is active)" if active else ""
                self.fail(t, f"{name} is idle while job(s) {eligible} are eligible{holder}")


class BatchNoHold(Checker):
    """INV-BATCH-NO-HOLD."""

    id = "INV-BATCH-NO-HOLD"
    statement = "a batch never keeps the QPU idle"

    def after(self, r: Record, state: Replay) -> None:
        if r.entity == "qpu" and r.event == "hold":
            self.checks += 1
            s = state.sessions.get(r.session or "")
            if s is not None and s.mode == "batch":
                self.fail(r.t, f"{r.qpu} was held idle for batch {s.id}", r)

    def instant_end(self, t: int, state: Replay) -> None:
        for name, q in state.qpus.items():
            if q.running is not None or not state.active_on(name):
                continue
            batches = state.active_batches(name)
            if not batches or state.active_dedicated(name):
                continue
            self.checks += 1
            queued = [j.id for j in state.queued_on(name)
                      if not state.over_quota(j.instance, t)] if state.has_queued(name) else []
            if queued:
                self.fail(t, f"{name} is idle with job(s) {queued} queued while batch(es) "
                          f"{[b.id for b in batches]} are active")


class Progress(Checker):
    """INV-PROGRESS."""

    id = "INV-PROGRESS"
    statement = "once submissions stop, every job reaches a final state in bounded virtual time"

    # The bound: last submission + every job's modeled run + one ITTL hold per session job.
    # On the wall clock simulation time adds to modeled time, so only settling is checked.

    def finish(self, state: Replay, settled: bool) -> None:
        last = state.last_submit
        if last is None:
            return
        self.checks += 1
        open_jobs = [j for j in state.jobs.values() if not j.is_final]
        bound = self.bound(state, last)
        if settled and open_jobs:
            self.fail(state.now, f"the run settled with job(s) never final: "
                      f"{[j.id for j in open_jobs]}")
        if state.clock == "wall":
            return  # real time: simulation time adds to modeled durations, so no fixed bound
        late = [j.id for j in state.jobs.values()
                if j.finished is not None and j.finished > bound]
        if late:
            self.fail(state.now, f"job(s) {late} ended after the progress bound "
                      f"{bound / 1e6:g}s (last submission at {last / 1e6:g}s)")
        if open_jobs and state.now > bound:
            self.fail(state.now, f"job(s) {[j.id for j in open_jobs]} still not final at "
                      f"{state.now / 1e6:g}s, past the bound {bound / 1e6:g}s")

    @staticmethod
    def bound(state: Replay, last: int) -> int:
        """Last submission + every job's run + one ITTL hold per job of each session
        (+ one fair-share window when an instance has a quota: its jobs may wait that long)."""
        runs = sum(j.duration_us or 0 for j in state.jobs.values())
        holds = sum(state.sessions[j.session].ittl_us for j in state.jobs.values()
                    if j.session in state.sessions)
        quota_wait = state.window_us if state.quotas else 0
        return last + runs + holds + quota_wait
