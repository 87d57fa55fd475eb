"""The invariants as code: one named check per id, over any qsession trace.

docs/semantics.md, "Invariants" states them all.

Each invariant is a small ``Checker`` that watches the records of a trace as they are
replayed (``properties.replay``) and reports the records that break it. ``check(trace)``
runs them all; ``Monitor`` runs them incrementally on a growing trace (the stateful
tests call it after every step). ``INVARIANTS`` is the registry: id, statement, checker.

Checks happen at three moments: at a record (e.g. a job start during an active
session), at the end of an instant (after every record at that time, when the scheduler
has settled: work conservation, drained sessions), and when time passes a deadline with
no record (a missed ITTL deactivation or max-TTL expiry).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from qsession.model import (
    ACTIVE,
    CANCELLED,
    ERROR,
    QUEUED,
    RUNNING,
    JobLifecycle,
    SessionLifecycle,
    TransitionRefused,
)
from qsession.runtime.scheduler import MAX_TIME_ERROR, USER_CANCEL
from qsession.runtime.trace import Record, Trace

from .replay import SESSION_FINAL, JobView, Replay, SessionView, in_creation_order


@dataclass(frozen=True)
class Violation:
    """One breach of an invariant: which, when, why, and the records that show it."""

    invariant: str
    t: int
    message: str
    records: tuple[Record, ...] = ()

    def __str__(self) -> str:
        seqs = ", ".join(f"#{r.seq}" for r in self.records)
        return f"{self.invariant} at {self.t / 1e6:.6f}s: {self.message}" + (
            f" (records {seqs})" if seqs else "")


class Checker:
    """Base of the invariant checkers: hooks called while a trace is replayed."""

    id: ClassVar[str]
    statement: ClassVar[str]

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.checks = 0

    def fail(self, t: int, message: str, *records: Record) -> None:
        """Record a violation."""
        self.violations.append(Violation(self.id, t, message, records))

    def before(self, r: Record, state: Replay) -> None:
        """Called with each record before the state applies it."""

    def after(self, r: Record, state: Replay) -> None:
        """Called with each record after the state applied it."""

    def instant_end(self, t: int, state: Replay) -> None:
        """Called once every record at instant ``t`` has been applied."""

    def time_passes(self, t: int, state: Replay) -> None:
        """Called when time reaches ``t`` with no record in between (deadline checks)."""

    def finish(self, state: Replay, settled: bool) -> None:
        """Called at the end of the trace; ``settled`` when the run was driven to idle."""


# -- the invariants ----------------------------------------------------------------------


class ActiveOne(Checker):
    """INV-ACTIVE-ONE."""

    id = "INV-ACTIVE-ONE"
    statement = "at most one active dedicated session (not batch) per QPU at any instant"

    def after(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.dest == ACTIVE:
            self.checks += 1
            active = [s.id for s in in_creation_order(state.active_on(r.qpu))
                      if s.dedicated_active]
            if len(active) > 1:
                self.fail(r.t, f"{len(active)} dedicated sessions active on {r.qpu}: {active}", r)


class MaxTTLNoStart(Checker):
    """INV-MAXTTL-NOSTART."""

    id = "INV-MAXTTL-NOSTART"
    statement = "no job of a session starts at or after started_at + max_time"

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.event == "start" and r.session in state.sessions:
            s = state.sessions[r.session]
            self.checks += 1
            if s.started_at is not None and r.t >= s.started_at + s.max_time_us:
                self.fail(r.t, f"job {r.id} of session {s.id} started "
                          f"{(r.t - s.started_at - s.max_time_us) / 1e6:g}s after its max TTL "
                          f"(started_at + max_time = {(s.started_at + s.max_time_us) / 1e6:g}s)",
                          r)


class _EndsQueued(Checker):
    """Shared: at a session event, every job of it queued just before must end at that instant."""

    trigger: ClassVar[str]
    required: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[tuple[Record, set[str]]] = []

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.event == self.trigger and r.id in state.sessions:
            self.checks += 1
            self.pending.append((r, set(state.sessions[r.id].queued)))

    def instant_end(self, t: int, state: Replay) -> None:
        for r, queued in self.pending:
            for jid in sorted(queued):
                job = state.jobs[jid]
                if job.state != self.required or job.finished != r.t:
                    self.fail(r.t, f"job {jid} was queued when session {r.id} got "
                              f"{self.trigger}; it should be {self.required} at that instant, "
                              f"it is {job.state}", r)
        self.pending.clear()

    def finish(self, state: Replay, settled: bool) -> None:
        self.instant_end(state.now, state)


class ExpireFailsQueued(_EndsQueued):
    """INV-EXPIRE-FAILS-QUEUED."""

    id = "INV-EXPIRE-FAILS-QUEUED"
    statement = "at expiry every queued job of the session becomes ERROR at that instant"
    trigger = "max_time_reached"
    required = ERROR


class Cancel(_EndsQueued):
    """INV-CANCEL."""

    id = "INV-CANCEL"
    statement = "cancel(): every queued job of the session becomes CANCELLED at that instant"
    trigger = "cancel"
    required = CANCELLED


class RunningCompletes(Checker):
    """INV-RUNNING-COMPLETES."""

    id = "INV-RUNNING-COMPLETES"
    statement = ("a job running when its session expires or is canceled completes normally")

    def __init__(self) -> None:
        super().__init__()
        self.watch: dict[str, Record] = {}

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.event in ("max_time_reached", "cancel"):
            s = state.sessions.get(r.id)
            for jid in sorted(s.running if s else ()):
                self.watch[jid] = r
        elif r.entity == "job" and r.id in self.watch and r.dest is not None:
            cause = self.watch.pop(r.id)
            self.checks += 1
            job = state.jobs[r.id]
            reason = r.data.get("reason")
            user = isinstance(reason, str) and reason.startswith(USER_CANCEL)
            end = (None if job.started is None or job.duration_us is None
                   else job.started + job.duration_us)
            # On the wall clock a simulation slower than real time ends the run after its
            # modeled end (never before); virtual and measured time end it exactly there.
            on_time = end is not None and (r.t >= end if state.clock == "wall" else r.t == end)
            if r.event == "finish" and not on_time:
                self.fail(r.t, f"job {r.id} running at its session's {cause.event} finished at "
                          f"{r.t / 1e6:g}s, not at the end of its run", cause, r)
            elif r.event not in ("finish", "fail") and not (r.event == "cancel" and user):
                self.fail(r.t, f"job {r.id} was running when session {cause.id} got "
                          f"{cause.event}; it must run to completion, but it was {r.event}ed",
                          cause, r)


class ClosedRejects(Checker):
    """INV-CLOSED-REJECTS."""

    id = "INV-CLOSED-REJECTS"
    statement = "a session not accepting jobs creates no new job"

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.event == "create" and r.session is not None:
            self.checks += 1
            s = state.sessions.get(r.session)
            if s is not None and (not s.accepting or s.is_final):
                self.fail(r.t, f"job {r.id} was created in session {s.id}, which is {s.state} "
                          "and does not accept jobs", r)


class CloseDrains(Checker):
    """INV-CLOSE-DRAINS."""

    id = "INV-CLOSE-DRAINS"
    statement = ("after close(), queued jobs still run (until max TTL); closed exactly when "
                 "the last finishes")

    def __init__(self) -> None:
        super().__init__()
        self.reported: set[str] = set()
        self.dropped: dict[str, list[Record]] = {}

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.dest in (ERROR, CANCELLED) and r.session in state.sessions:
            s = state.sessions[r.session]
            job = state.jobs.get(r.id)
            if job is None or job.state != QUEUED or s.is_final:
                return
            reason = r.data.get("reason")
            if isinstance(reason, str) and reason.startswith(USER_CANCEL):
                return
            # A queued job of an open session ended by the scheduler itself: only wrong if
            # close() is what ended it (now, or in the close that follows at this instant).
            if not s.accepting:
                self.checks += 1
                self.fail(r.t, f"queued job {r.id} of closing session {s.id} was "
                          f"{r.event}ed; after close() queued jobs still run", r)
            else:
                self.dropped.setdefault(s.id, []).append(r)

    def after(self, r: Record, state: Replay) -> None:
        if r.entity != "session" or r.event != "close":
            return
        self.checks += 1
        dropped = [d for d in self.dropped.pop(r.id, []) if d.t == r.t]
        if dropped:
            self.fail(r.t, f"close() of session {r.id} ended its queued job(s) "
                      f"{[d.id for d in dropped]}; queued jobs must still run", *dropped, r)
        s = state.sessions[r.id]
        if r.dest == "closed" and r.source != "closed" and s.in_flight:
            self.fail(r.t, f"session {s.id} closed with {s.in_flight} job(s) queued or "
                      "running", r)

    def instant_end(self, t: int, state: Replay) -> None:
        drained = [s for s in state.closing.values() if s.in_flight == 0]
        for s in in_creation_order(drained):
            if not s.accepting and not s.is_final:
                self.checks += 1
                if s.id not in self.reported:
                    self.reported.add(s.id)
                    self.fail(t, f"session {s.id} does not accept jobs and has none queued "
                              f"or running, yet it is still {s.state} (not closed)")


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
        waiting = [b.id for b in state.active_batches(r.qpu) if b.queued and b.id != s.id]
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


class _Deadline(Checker):
    """Shared: a timer that must fire exactly at a deadline the trace implies."""

    def __init__(self) -> None:
        super().__init__()
        self.reported: set[tuple[str, int]] = set()

    def deadline(self, s: SessionView) -> int | None:
        """When the timer is due for ``s`` now (None: not running)."""
        raise NotImplementedError

    def missed(self, s: SessionView, deadline: int) -> str:
        """The message when the deadline passed with no event."""
        raise NotImplementedError

    def candidates(self, state: Replay) -> Iterable[SessionView]:
        """The sessions that can have this deadline (an index, not every session)."""
        return state.deadlines.values()

    def instant_end(self, t: int, state: Replay) -> None:
        self._missed(t, state, inclusive=True)

    def time_passes(self, t: int, state: Replay) -> None:
        self._missed(t, state, inclusive=False)

    def _missed(self, t: int, state: Replay, *, inclusive: bool) -> None:
        missed: list[tuple[SessionView, int]] = []
        for s in self.candidates(state):
            deadline = self.deadline(s)
            if deadline is None or (s.id, deadline) in self.reported:
                continue
            if deadline < t or (inclusive and deadline == t):
                missed.append((s, deadline))
        for s, deadline in sorted(missed, key=lambda m: m[0].order):
            self.checks += 1
            self.reported.add((s.id, deadline))
            self.fail(t, self.missed(s, deadline))


class ITTL(_Deadline):
    """INV-ITTL."""

    id = "INV-ITTL"
    statement = ("a session deactivates only after a full ITTL with no job queued or running, "
                 "and exactly then")

    def deadline(self, s: SessionView) -> int | None:
        """Idle since + ITTL, for an active session with nothing in flight."""
        return s.ittl_deadline

    def missed(self, s: SessionView, deadline: int) -> str:
        """Stayed active past the deadline."""
        return (f"session {s.id} stayed active past its ITTL deadline {deadline / 1e6:g}s "
                f"(idle since {s.idle_since})")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.event == "ittl_elapsed" and r.id in state.sessions:
            s = state.sessions[r.id]
            self.checks += 1
            if s.in_flight:
                self.fail(r.t, f"session {s.id} deactivated with {s.in_flight} job(s) in "
                          "flight", r)
            elif s.ittl_deadline != r.t:
                idle = "never idle" if s.idle_since is None else \
                    f"idle since {s.idle_since / 1e6:g}s"
                self.fail(r.t, f"session {s.id} deactivated at {r.t / 1e6:g}s; it was {idle} "
                          f"with an ITTL of {s.ittl_us / 1e6:g}s", r)
        elif r.entity == "job" and r.event == "create" and r.session in state.sessions:
            s = state.sessions[r.session]
            deadline = s.ittl_deadline
            if deadline is not None and r.t >= deadline:
                self.checks += 1
                self.fail(r.t, f"job {r.id} joined active session {s.id} at {r.t / 1e6:g}s, "
                          f"at or after its ITTL ran out ({deadline / 1e6:g}s)", r)


class Clock(_Deadline):
    """INV-CLOCK."""

    id = "INV-CLOCK"
    statement = "the max-TTL clock starts at the first job start and never pauses"

    def deadline(self, s: SessionView) -> int | None:
        """First start + max time, for a started session that has not ended."""
        return s.expiry_deadline

    def missed(self, s: SessionView, deadline: int) -> str:
        """Still running past max TTL."""
        return (f"session {s.id} is still {s.state} after its max TTL "
                f"({deadline / 1e6:g}s = first start + max_time)")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.event == "max_time_reached" and r.id in state.sessions:
            s = state.sessions[r.id]
            self.checks += 1
            deadline = s.expiry_deadline
            if deadline != r.t:
                expected = "never (no job started)" if deadline is None else \
                    f"at {deadline / 1e6:g}s (first start + max_time)"
                self.fail(r.t, f"session {s.id} expired at {r.t / 1e6:g}s; expected {expected}",
                          r)


class Final(Checker):
    """INV-FINAL."""

    id = "INV-FINAL"
    statement = "final session states and final job states never change"

    def before(self, r: Record, state: Replay) -> None:
        if r.event == "create" or r.entity == "qpu":
            return
        view: SessionView | JobView | None = (state.sessions.get(r.id) if r.entity == "session"
                                              else state.jobs.get(r.id))
        if view is None:
            return
        self.checks += 1
        if view.is_final:
            self.fail(r.t, f"{r.entity} {r.id} is {view.state} (final) but got {r.event} "
                      f"-> {r.dest}", r)


class Conservation(Checker):
    """INV-CONSERVATION."""

    id = "INV-CONSERVATION"
    statement = ("every job is in exactly one state; none lost or duplicated; one job at a "
                 "time per QPU")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job":
            self._job(r, state)
        elif r.entity == "session" and r.event != "create":
            self._session_count(r, state)

    def _job(self, r: Record, state: Replay) -> None:
        self.checks += 1
        if r.event == "create":
            if r.id in state.jobs:
                self.fail(r.t, f"job {r.id} created twice", r)
            return
        job = state.jobs.get(r.id)
        if job is None:
            self.fail(r.t, f"job {r.id} has an event but was never created", r)
            return
        if r.source is not None and r.source != job.state:
            self.fail(r.t, f"job {r.id} moved from {r.source}, but it was {job.state}", r)
        if r.dest == RUNNING:
            running = state.qpu(r.qpu).running
            if running is not None:
                self.fail(r.t, f"job {r.id} started on {r.qpu} while job {running} runs", r)

    def _session_count(self, r: Record, state: Replay) -> None:
        reported = r.data.get("in_flight")
        s = state.sessions.get(r.id)
        if s is None or not isinstance(reported, int):
            return
        self.checks += 1
        # Session records follow the job record of the same step, so the replayed count
        # already includes it.
        if reported != s.in_flight:
            self.fail(r.t, f"session {s.id} reports {reported} job(s) in flight but the trace "
                      f"shows {s.in_flight} ({sorted(s.queued | s.running)})", r)

    def after(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.event != "create":
            job = state.jobs.get(r.id)
            if job is not None and r.dest is not None and job.state != r.dest:
                self.fail(r.t, f"job {r.id} is {job.state} after moving to {r.dest}", r)


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


class FairShare(Checker):
    """INV-FAIR-SHARE.

    An independent reading of the fair-share rule: this checker keeps its own ledger of what each
    instance was charged (a dedicated session its active spans, each until the latest of
    deactivation, end and its running job's completion; batch and job-mode jobs their QPU
    time unless cancelled or failed by the system), counts each span's part inside the
    window (a span that straddles the window edge counts from the edge), and recomputes
    at every normal-queue dispatch the ratio and the choice. It never calls the dispatch
    rule or the fair-share ledger of the runtime.
    """

    id = "INV-FAIR-SHARE"
    statement = ("the normal queue serves the instance with the least used/allocated share, "
                 "FIFO within it")

    def __init__(self) -> None:
        super().__init__()
        self.ledger: dict[str, list[tuple[int, int]]] = {}  # in end order
        self.first: dict[str, int] = {}  # index of the first span still in the window
        self.total: dict[str, int] = {}  # length of the spans from ``first`` on
        self.longest = 0
        self.open_span: dict[str, int] = {}  # dedicated session id -> activation instant
        self.meter: dict[str, str] = {}  # job id -> its ended session, billed until it ends
        self.window: int | None = None
        self.allocations: dict[str, dict[str, float]] = {}  # qpu -> instance -> allocation
        self.quota: dict[str, int] = {}
        self.mode: dict[str, str] = {}
        self.instance: dict[str, str | None] = {}

    def _used(self, instance: str, now: int) -> int:
        """Charged time inside ``(now - window, now]``; a span across the edge counts from it."""
        window = self.window if self.window is not None else 28 * 86_400 * 1_000_000
        edge = now - window
        spans = self.ledger.get(instance, [])
        k = self.first.get(instance, 0)
        while k < len(spans) and spans[k][1] <= edge:  # wholly left the window, for good
            self.total[instance] -= spans[k][1] - spans[k][0]
            k += 1
        self.first[instance] = k
        used = self.total.get(instance, 0)
        # Spans are kept in end order: only those ending before edge + the longest span
        # can have started before the edge.
        for start, end in spans[k:]:
            if end >= edge + self.longest:
                break
            if start < edge:
                used -= edge - start
        return used

    def _charge(self, instance: str | None, start: int, end: int) -> None:
        if instance is not None and end > start:
            bisect.insort(self.ledger.setdefault(instance, []), (start, end),
                          key=lambda span: span[1])
            self.total[instance] = self.total.get(instance, 0) + end - start
            self.longest = max(self.longest, end - start)

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "qpu" and r.event == "configure" and r.instance is not None:
            alloc = r.data.get("allocation", 1.0)
            self.allocations.setdefault(r.qpu, {})[r.instance] = \
                float(alloc) if isinstance(alloc, int | float) and alloc else 1.0
            if isinstance(r.data.get("fair_share_window_us"), int):
                self.window = int(r.data["fair_share_window_us"])  # type: ignore[arg-type]
            if isinstance(r.data.get("quota_us"), int):
                self.quota[r.instance] = int(r.data["quota_us"])  # type: ignore[arg-type]
        elif r.entity == "session":
            self._session(r, state)
        elif r.entity == "job" and r.event == "start":
            self._start(r, state)
        elif r.entity == "job" and r.dest in ("DONE", "ERROR", "CANCELLED"):
            job = state.jobs.get(r.id)
            if job is None or job.state != RUNNING or job.started is None:
                return
            if r.id in self.meter:
                sid = self.meter.pop(r.id)
                self._charge(self.instance.get(sid), self.open_span.pop(sid), r.t)
                return
            session_mode = self.mode.get(job.session or "", "job")
            reason = r.data.get("reason")
            paid = r.event == "finish" or (r.event == "fail" and reason == MAX_TIME_ERROR)
            if session_mode != "dedicated" and paid:
                self._charge(job.instance, job.started, r.t)

    def _session(self, r: Record, state: Replay) -> None:
        if r.event == "create":
            self.mode[r.id] = str(r.data.get("mode", "dedicated"))
            self.instance[r.id] = r.instance
            return
        s = state.sessions.get(r.id)
        if s is None or r.dest is None or self.mode.get(r.id) != "dedicated":
            return
        if r.dest == ACTIVE and s.state != ACTIVE:
            self.open_span[r.id] = r.t
        elif s.state == ACTIVE and r.dest != ACTIVE and r.id in self.open_span:
            running = sorted(s.running)
            if r.dest in SESSION_FINAL and running:
                self.meter[running[0]] = r.id  # billed until its running job completes
            else:
                self._charge(self.instance.get(r.id), self.open_span.pop(r.id), r.t)

    def _share(self, qpu: str, instance: str) -> float:
        allocations = self.allocations.get(qpu, {})
        if not allocations:
            return 1.0
        total = sum(allocations.values())
        return allocations.get(instance, 0.0) / total if total else 0.0

    def _start(self, r: Record, state: Replay) -> None:
        dispatch = state.qpu(r.qpu).last_dispatch
        if dispatch is None or dispatch.data.get("job") != r.id or \
                dispatch.data.get("via") != "normal":
            return
        self.checks += 1
        job = state.jobs[r.id]
        heads: dict[str, JobView] = {}
        allocated = self.allocations.get(r.qpu, {}).keys()
        for queued in state.queued_on(r.qpu):
            if state.normal_eligible(queued) and queued.instance not in heads:
                heads[queued.instance] = queued
                if allocated and allocated <= heads.keys():
                    break  # every instance with a share has its head
        over = {i for i in heads if i in self.quota and self._used(i, r.t) >= self.quota[i]}
        if job.instance in over:
            self.fail(r.t, f"job {r.id} of instance {job.instance} started past its quota "
                      f"({self._used(job.instance, r.t) / 1e6:g}s used)", dispatch, r)
        ratios = {i: self._used(i, r.t) / share for i in heads
                  if (share := self._share(r.qpu, i)) > 0 and i not in over}
        reported = dispatch.data.get("share_ratio")
        mine = ratios.get(job.instance)
        if isinstance(reported, int | float) and mine is not None and \
                not math.isclose(reported, mine, rel_tol=1e-9, abs_tol=1e-6):
            self.fail(r.t, f"dispatch of {r.id} reports instance {job.instance}'s share ratio "
                      f"{reported:g}; its charged time in the window over its share is "
                      f"{mine:g} (µs over the allocated fraction)", dispatch, r)
        if not ratios:
            return
        best = min(ratios, key=lambda i: (ratios[i], heads[i].order))
        if heads[best].id != r.id:
            expected = heads[best]
            used = {i: self._used(i, r.t) / 1e6 for i in sorted(ratios)}
            self.fail(r.t, f"normal queue started {r.id} (instance {job.instance}); fair share "
                      f"picks {expected.id} (instance {expected.instance}, least "
                      f"used/allocated, FIFO within it; used in window {used})", dispatch, r)


class ModelConforms(Checker):
    """INV-MODEL-CONFORMS."""

    id = "INV-MODEL-CONFORMS"
    statement = "every state change the runtime makes is a transition the model allows"

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, SessionLifecycle] = {}
        self.jobs: dict[str, JobLifecycle] = {}

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "qpu":
            return
        if r.event == "create":
            if r.entity == "session":
                batch = r.data.get("mode") == "batch"
                self.sessions[r.id] = SessionLifecycle(r.id, "batch" if batch else "dedicated")
            else:
                self.jobs[r.id] = JobLifecycle(r.id)
            return
        self.checks += 1
        model = self.sessions.get(r.id) if r.entity == "session" else self.jobs.get(r.id)
        if model is None:
            self.fail(r.t, f"{r.entity} {r.id} has events but no create record", r)
            return
        spec_facts = model.TABLE.event(r.event).facts if r.event in model.TABLE.event_names \
            else ()
        facts = {f: r.data.get(f) for f in spec_facts}
        before = model.state
        try:
            step = model.fire(r.event, **facts)
        except (TransitionRefused, TypeError, ValueError) as err:
            self.fail(r.t, f"the model refuses {r.entity} {r.id} {r.event} in {before}: {err}", r)
            return
        if (r.source, r.dest) != (step.source, step.dest):
            self.fail(r.t, f"{r.entity} {r.id} {r.event}: trace says {r.source} -> {r.dest}, "
                      f"the model says {step.source} -> {step.dest}", r)
        if isinstance(model, SessionLifecycle):
            accepting = r.data.get("accepting_jobs")
            if isinstance(accepting, bool) and accepting != model.accepting_jobs:
                self.fail(r.t, f"session {r.id}: trace says accepting_jobs={accepting}, the "
                          f"model says {model.accepting_jobs}", r)


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


class IdleClose(_Deadline):
    """INV-IDLE-CLOSE."""

    id = "INV-IDLE-CLOSE"
    statement = ("a session with no job submitted closes exactly idle_close_timeout after "
                 "creation, and not before")

    def deadline(self, s: SessionView) -> int | None:
        """Creation + idle_close_timeout, for a pending session never used."""
        return s.idle_close_deadline

    def candidates(self, state: Replay) -> Iterable[SessionView]:
        """Pending sessions with nothing submitted (the others have no such deadline)."""
        return state.unused.values()

    def missed(self, s: SessionView, deadline: int) -> str:
        """Still open past the deadline."""
        return (f"session {s.id} had no job submitted yet is still {s.state} after its idle "
                f"close deadline {deadline / 1e6:g}s (created at {s.created / 1e6:g}s)")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.event == "idle_close_elapsed" and r.id in state.sessions:
            s = state.sessions[r.id]
            self.checks += 1
            if s.submitted:
                self.fail(r.t, f"session {s.id} was closed as unused but {s.submitted} "
                          "job(s) were submitted to it", r)
            elif s.idle_close_deadline != r.t:
                expected = "never" if s.idle_close_us is None else \
                    f"at {(s.created + s.idle_close_us) / 1e6:g}s"
                self.fail(r.t, f"session {s.id} closed as unused at {r.t / 1e6:g}s; expected "
                          f"{expected}", r)


class Usage(Checker):
    """INV-USAGE."""

    id = "INV-USAGE"
    statement = ("a dedicated session's usage_time equals its active spans, each ending at "
                 "the latest of deactivation, end and its last running job's completion; "
                 "instances are charged as fair share counts it")

    def __init__(self) -> None:
        super().__init__()
        self.bills: dict[str, int] = {}
        self.touched: set[str] = set()
        """Sessions a record named since the last instant: only their spans can have changed."""

    def after(self, r: Record, state: Replay) -> None:
        named = r.id if r.entity == "session" else r.session
        if named is not None:
            self.touched.add(named)
        if r.entity == "qpu" and r.event == "bill" and r.session in state.sessions:
            s = state.sessions[r.session]
            self.checks += 1
            self.bills[s.id] = self.bills.get(s.id, 0) + 1
            billed = r.data.get("usage_us")
            if billed != s.billed_us:
                self.fail(r.t, f"session {s.id} billed {_s(billed)} but its active spans "
                          f"(each until the latest of deactivation, end and its last running "
                          f"job's end) add up to {s.billed_us / 1e6:g}s", r)
        elif r.entity == "job" and r.dest in ("DONE", "ERROR", "CANCELLED") and \
                r.id in state.jobs and "usage_us" in r.data:
            job = state.jobs[r.id]
            self.checks += 1
            if r.data["usage_us"] != job.usage_us:
                self.fail(r.t, f"job {r.id} ({r.event}) billed {_s(r.data['usage_us'])}; "
                          f"expected {job.usage_us / 1e6:g}s (its time on the QPU, 0 if the "
                          "system failed it)", r)

    def instant_end(self, t: int, state: Replay) -> None:
        if not self.bills:
            return  # a trace without bill records (hand-written, or older): nothing to match
        touched, self.touched = self.touched, set()
        for s in in_creation_order([state.sessions[i] for i in touched if i in state.sessions]):
            if s.spans_closed != self.bills.get(s.id, 0):
                self.checks += 1
                self.fail(t, f"session {s.id} closed {s.spans_closed} active span(s) but "
                          f"was billed {self.bills.get(s.id, 0)} time(s)")
                self.bills[s.id] = s.spans_closed  # report each gap once


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


class IdsUnique(Checker):
    """INV-IDS-UNIQUE."""

    id = "INV-IDS-UNIQUE"
    statement = "every session and job id is created once and names one object"

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, Record] = {}

    def before(self, r: Record, state: Replay) -> None:
        if r.event != "create" or r.entity not in ("session", "job"):
            return
        self.checks += 1
        earlier = self.seen.get(r.id)
        if earlier is not None:
            self.fail(r.t, f"{r.entity} id {r.id} was already given to the {earlier.entity} "
                      f"created at {earlier.t / 1e6:g}s", earlier, r)
        else:
            self.seen[r.id] = r


class Time(Checker):
    """INV-TIME."""

    id = "INV-TIME"
    statement = ("time never goes back within a QPU's records; every record names objects "
                 "created earlier in the trace")

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[str, Record] = {}

    def before(self, r: Record, state: Replay) -> None:
        self.checks += 1
        previous = self.last.get(r.qpu)
        if previous is not None and r.t < previous.t:
            self.fail(r.t, f"{r.qpu}'s time went back from {previous.t / 1e6:g}s to "
                      f"{r.t / 1e6:g}s", previous, r)
        else:
            self.last[r.qpu] = r
        for kind, name in self.dangling(r, state):
            self.fail(r.t, f"{r.entity} {r.id} {r.event} names {kind} {name}, which no "
                      "earlier record created", r)

    @classmethod
    def dangling(cls, r: Record, state: Replay) -> list[tuple[str, str]]:
        """The objects ``r`` names that no earlier record created."""
        return [(kind, name) for kind, name in cls._references(r)
                if name not in (state.sessions if kind == "session" else state.jobs)]

    @staticmethod
    def _references(r: Record) -> list[tuple[str, str]]:
        """The (kind, id) of every object the record names that must already exist."""
        refs: list[tuple[str, str]] = []
        if r.entity in ("session", "job") and r.event != "create":
            refs.append((r.entity, r.id))
        if r.session is not None and not (r.entity == "session" and r.event == "create"):
            refs.append(("session", r.session))
        job = r.data.get("job")
        if r.entity == "qpu" and isinstance(job, str):
            refs.append(("job", job))
        return refs


def _s(us: object) -> str:
    return f"{us / 1e6:g}s" if isinstance(us, int) else repr(us)


# -- registry and runners ------------------------------------------------------------


@dataclass(frozen=True)
class Invariant:
    """A registry entry: the invariant id, its statement, and the checker class."""

    id: str
    statement: str
    checker: type[Checker]


CHECKERS: tuple[type[Checker], ...] = (
    ActiveOne, MaxTTLNoStart, ExpireFailsQueued, RunningCompletes, Cancel, ClosedRejects,
    CloseDrains, FirstJobNormal, Priority, ITTL, Clock, Final, Conservation, WorkConserving,
    FairShare, ModelConforms, Progress, BatchNoHold, IdleClose, Usage, Time, DispatchOrder,
    IdsUnique,
)
INVARIANTS: dict[str, Invariant] = {c.id: Invariant(c.id, c.statement, c) for c in CHECKERS}
"""Every trace invariant by id, in catalogue order."""


@dataclass
class Report:
    """The outcome of checking a trace: violations and how often each invariant was checked."""

    violations: list[Violation] = field(default_factory=list)
    checks: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no invariant was violated."""
        return not self.violations

    def by_invariant(self) -> dict[str, list[Violation]]:
        """Violations grouped by invariant id (every id present)."""
        out: dict[str, list[Violation]] = {i: [] for i in INVARIANTS}
        for v in self.violations:
            out[v.invariant].append(v)
        return out


class Monitor:
    """Checks invariants on a trace as it grows (feed it the new records after each step)."""

    def __init__(self, ids: Iterable[str] | None = None, *, clock: str = "virtual") -> None:
        chosen = list(INVARIANTS) if ids is None else list(ids)
        unknown = [i for i in chosen if i not in INVARIANTS]
        if unknown:
            raise KeyError(f"unknown invariant id(s) {unknown}; ids are {list(INVARIANTS)}")
        self.checkers = [INVARIANTS[i].checker() for i in chosen]
        # A record naming an object no record created is INV-TIME's to report; the other
        # checkers look objects up by id and are not shown it.
        self._dangling_checkers = [c for c in self.checkers if isinstance(c, Time)]
        self.state = Replay()
        self.state.clock = clock
        self._instant: int | None = None
        self.fed = 0

    def feed(self, records: Sequence[Record]) -> None:
        """Replay ``records`` (the ones not fed yet, in order)."""
        for r in records:
            self._reach(r.t)
            checkers = self._dangling_checkers if Time.dangling(r, self.state) else \
                self.checkers
            for c in checkers:
                c.before(r, self.state)
            self.state.apply(r)
            for c in checkers:
                c.after(r, self.state)
            self.fed += 1

    def sync(self, trace: Trace, now: int | None = None) -> None:
        """Feed the trace's new records; then, if given, note that time reached ``now``."""
        self.feed(trace.records[self.fed:])
        if now is not None:
            self._reach(now)

    def _reach(self, t: int) -> None:
        if self._instant is None:
            self._instant = t
            return
        if t > self._instant:
            for c in self.checkers:
                c.instant_end(self._instant, self.state)
            self.state.now = t
            for c in self.checkers:
                c.time_passes(t, self.state)
            self._instant = t

    def finish(self, settled: bool = False) -> Report:
        """Close the last instant and run end-of-trace checks; return the report."""
        if self._instant is not None:
            for c in self.checkers:
                c.instant_end(self._instant, self.state)
        for c in self.checkers:
            c.finish(self.state, settled)
        return self.report()

    def report(self) -> Report:
        """Violations and check counts so far."""
        return Report([v for c in self.checkers for v in c.violations],
                      {c.id: c.checks for c in self.checkers})


def check(trace: Trace | Iterable[Record], *, settled: bool = False,
          ids: Iterable[str] | None = None) -> Report:
    """Check every invariant (or ``ids``) over a whole trace."""
    clock = str(trace.meta.get("clock", "virtual")) if isinstance(trace, Trace) else "virtual"
    monitor = Monitor(ids, clock=clock)
    monitor.feed(list(trace))
    return monitor.finish(settled)


def check_invariant(invariant: str, trace: Trace | Iterable[Record], *,
                    settled: bool = False) -> list[Violation]:
    """The violations of one invariant over a trace (the predicate named by its id)."""
    return check(trace, settled=settled, ids=[invariant]).violations
