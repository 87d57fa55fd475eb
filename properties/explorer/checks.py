"""The invariants the explorer checks on abstract states and transitions, and which it cannot.

An independent reading of the semantics: the checks look only at states and events, never
at the rules that produced them (``rules``), so a wrong rule shows up as a violation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from qsession.model import (
    ACTIVE,
    CANCELLED,
    CLOSED,
    ERROR,
    EXPIRED,
    INACTIVE,
    PENDING,
    QUEUED,
    RUNNING,
)

from .rules import Outcome
from .state import (
    FINAL_JOB_STATUSES,
    FINAL_SESSION_STATES,
    JOB_STATUSES,
    Event,
    State,
    target_of,
)

ACTIVE_ONE = "INV-ACTIVE-ONE"
MAXTTL_NOSTART = "INV-MAXTTL-NOSTART"
EXPIRE_FAILS_QUEUED = "INV-EXPIRE-FAILS-QUEUED"
RUNNING_COMPLETES = "INV-RUNNING-COMPLETES"
CANCEL = "INV-CANCEL"
CLOSED_REJECTS = "INV-CLOSED-REJECTS"
CLOSE_DRAINS = "INV-CLOSE-DRAINS"
FIRST_JOB_NORMAL = "INV-FIRST-JOB-NORMAL"
PRIORITY = "INV-PRIORITY"
ITTL = "INV-ITTL"
CLOCK = "INV-CLOCK"
FINAL = "INV-FINAL"
CONSERVATION = "INV-CONSERVATION"
WORK_CONSERVING = "INV-WORK-CONSERVING"
FAIR_SHARE = "INV-FAIR-SHARE"
MODEL_CONFORMS = "INV-MODEL-CONFORMS"
PROGRESS = "INV-PROGRESS"
BATCH_NO_HOLD = "INV-BATCH-NO-HOLD"
IDLE_CLOSE = "INV-IDLE-CLOSE"
USAGE = "INV-USAGE"

APPLICABLE: dict[str, str] = {
    ACTIVE_ONE: "every state: at most one dedicated session is active",
    MAXTTL_NOSTART: "every job start: the job's session is not expired",
    EXPIRE_FAILS_QUEUED: "every max_ttl(i): the session's queued jobs are ERROR, none is QUEUED",
    RUNNING_COMPLETES: "every cancel(i)/max_ttl(i): a running job of i is still RUNNING after",
    CANCEL: "every cancel(i): the session's queued jobs are CANCELLED, none is QUEUED",
    CLOSED_REJECTS: "every new job: its session accepted jobs before; final ⇒ not accepting",
    CLOSE_DRAINS: "close(i) ends no queued job; not accepting and drained ⇔ closed (every state)",
    FIRST_JOB_NORMAL: (
        "every start of a pending/inactive/job-mode job: nothing active goes first and it is "
        "the oldest job of the FIFO normal queue"
    ),
    PRIORITY: "every job start while a dedicated session is active: the job is that session's",
    ITTL: "ittl(i) only when i is active and idle, always offered then; only ittl deactivates",
    CLOCK: (
        "max_ttl(i) only once i started, always offered until it ends (inactive too); "
        "started ⇔ active or inactive"
    ),
    FINAL: "every transition: final session and job states (and flags) never change",
    CONSERVATION: (
        "every state: one status per job, one RUNNING at most and it is the QPU's; "
        "jobs are never lost, only submit adds one"
    ),
    WORK_CONSERVING: (
        "every state: an idle QPU has no eligible job unless an active dedicated session with "
        "nothing queued holds it"
    ),
    MODEL_CONFORMS: (
        "every system step (dispatch, job end, timers, queued-job endings) is accepted by the "
        "lifecycle tables; the active-batch list matches the model's states"
    ),
    PROGRESS: (
        "every state reaches a state with every job final by system events only "
        "(computed backwards on the explored graph)"
    ),
    BATCH_NO_HOLD: (
        "every state: the QPU is never idle with an eligible job while only batches are active"
    ),
    IDLE_CLOSE: (
        "idle_close(i) only while i is pending with no job ever submitted, always offered "
        "then; it closes i and stops it accepting jobs"
    ),
}
"""Invariant id → how the explorer checks it on the abstract model."""

NOT_APPLICABLE: dict[str, str] = {
    FAIR_SHARE: (
        "the abstract QPU has one instance (no usage, no rolling window), so the normal queue "
        "is plain FIFO; fair share is checked on runtime traces instead"
    ),
    USAGE: (
        "the abstract model has no time, so there are no durations to bill; usage is checked "
        "on runtime traces instead"
    ),
}
"""Invariant id → why the abstract model cannot check it."""

StateCheck = Callable[["State"], Iterable[tuple[str, str]]]
"""An extra check on every state: yields ``(invariant id, message)`` for each violation."""


Found = list[tuple[str, str]]
"""Violations as ``(invariant id, message)`` pairs."""


class Checker:
    """The abstract invariants, with a count of how often each was checked."""

    def __init__(self, extra: StateCheck | None = None) -> None:
        self.extra = extra
        self.progress_checks = 0
        self._states = 0
        self._enabled = 0
        self._transitions: Counter[str] = Counter()  # by event kind
        self._starts = 0

    @property
    def transitions_by_kind(self) -> dict[str, int]:
        """How many transitions of each event kind were checked."""
        return dict(self._transitions)

    @property
    def counts(self) -> dict[str, int]:
        """How many times each invariant was checked (a state, a transition, a start, ...)."""
        states, enabled, kinds = self._states, self._enabled, self._transitions
        transitions = kinds.total()
        return dict(sorted({
            ACTIVE_ONE: states,
            WORK_CONSERVING: states,
            BATCH_NO_HOLD: states,
            CONSERVATION: states + transitions,
            CLOCK: states + enabled + transitions,
            ITTL: enabled + transitions,
            FINAL: transitions,
            MODEL_CONFORMS: states + transitions,
            CLOSED_REJECTS: states + kinds["submit"],
            CLOSE_DRAINS: states + kinds["close"],
            CANCEL: kinds["cancel"],
            EXPIRE_FAILS_QUEUED: kinds["max_ttl"],
            RUNNING_COMPLETES: kinds["cancel"] + kinds["max_ttl"],
            PRIORITY: self._starts,
            FIRST_JOB_NORMAL: self._starts,
            MAXTTL_NOSTART: self._starts,
            PROGRESS: self.progress_checks,
            IDLE_CLOSE: enabled + kinds["idle_close"],
        }.items()))

    def state(self, s: State) -> Found:
        """Violations in one reachable (settled, dispatched) state."""
        self._states += 1
        found: Found = []
        _check_active_one(s, found)
        _check_conservation(s, found)
        _check_batch_order(s, found)
        _check_session_flags(s, found)
        _check_work_conserving(s, found)
        if self.extra is not None:
            found.extend(self.extra(s))
        return found

    def enabled(self, s: State, events: Iterable[Event]) -> Found:
        """Violations in the set of timer events offered in ``s`` (INV-ITTL, INV-CLOCK)."""
        self._enabled += 1
        offered = set(events)
        found: Found = []
        for i, slot in enumerate(s.sessions):
            if (slot.state == ACTIVE and s.in_flight(i) == 0
                    and Event("ittl", i) not in offered):
                found.append((ITTL, f"s{i} is active and idle but its ITTL cannot fire"))
            if (slot.started and slot.state not in FINAL_SESSION_STATES
                    and Event("max_ttl", i) not in offered):
                found.append((CLOCK, f"s{i} started but its max-TTL clock cannot run out "
                                      f"while {slot.state}"))
            if (slot.state == PENDING and s.submitted(i) == 0
                    and Event("idle_close", i) not in offered):
                found.append((IDLE_CLOSE, f"s{i} is pending and unused but can never close "
                                           "as unused"))
        return found

    def transition(self, pre: State, out: Outcome) -> Found:
        """Violations in one transition ``pre --out.event--> out.post``."""
        event = out.event
        self._transitions[event.kind] += 1
        found: Found = []
        if out.refusal is not None:
            found.append((MODEL_CONFORMS, f"{event.label}: the model refused a system "
                                           f"step: {out.refusal}"))
        after = out.post if out.post is not None else out.mid
        _check_changed_slots(pre, event, after, found)
        _check_event(pre, out, found)
        if out.start is not None:
            self._starts += 1
            _check_start(out.mid, out.start[0], found)
        return found


def _check_event(pre: State, out: Outcome, found: Found) -> None:
    kind, mid = out.event.kind, out.mid
    _check_timer_enabled(pre, out.event, found)
    if out.refused_in_event:
        return  # the event stopped half-way: its effects are not there to check
    if kind == "submit":
        _check_new_job(pre, mid, found)
    elif kind == "close":
        _check_close(pre, target_of(out.event), mid, found)
    elif kind in ("cancel", "max_ttl"):
        target = CANCELLED if kind == "cancel" else ERROR
        _check_queued_ended(pre, out.event, mid, target, found)
        _check_running_kept(pre, out.event, mid, found)
    elif kind == "idle_close":
        slot = mid.sessions[target_of(out.event)]
        if slot.state != CLOSED or slot.accepting:
            found.append((IDLE_CLOSE, f"after {out.event.label} s{out.event.target} is "
                                       f"{slot.state}{'' if not slot.accepting else ', accepting'}"
                                       ", not closed"))


def _check_timer_enabled(pre: State, event: Event, found: Found) -> None:
    """A timer fires only when its precondition holds in the state before."""
    if event.kind == "ittl":
        i = target_of(event)
        if pre.sessions[i].state != ACTIVE or pre.in_flight(i) != 0:
            found.append((ITTL, f"ittl(s{i}) fired while s{i} was {pre.sessions[i].state} "
                                 f"with {pre.in_flight(i)} job(s) queued or running"))
    elif event.kind == "max_ttl" and not pre.sessions[target_of(event)].started:
        found.append((CLOCK, f"max_ttl(s{event.target}) fired before any job of it started"))
    elif event.kind == "idle_close":
        i = target_of(event)
        if pre.sessions[i].state != PENDING or pre.submitted(i):
            found.append((IDLE_CLOSE, f"idle_close(s{i}) fired while s{i} was "
                                       f"{pre.sessions[i].state} with {pre.submitted(i)} "
                                       "job(s) submitted"))


def _check_active_one(s: State, found: Found) -> None:
    active = s.active_dedicated()
    if len(active) > 1:
        names = ", ".join(f"s{i}" for i in active)
        found.append((ACTIVE_ONE, f"dedicated sessions {names} are active at once"))


def _check_batch_order(s: State, found: Found) -> None:
    started = [i for i, slot in enumerate(s.sessions) if slot.mode == "batch" and slot.started]
    if sorted(s.batches) != started or len(set(s.batches)) != len(s.batches):
        found.append((MODEL_CONFORMS, f"the scheduler's started batches {list(s.batches)} "
                                       f"are not the model's {started}"))


def _check_conservation(s: State, found: Found) -> None:
    for k, job in enumerate(s.jobs):
        if job.status not in JOB_STATUSES:
            found.append((CONSERVATION, f"j{k} has no valid status ({job.status!r})"))
    running = [k for k, job in enumerate(s.jobs) if job.status == RUNNING]
    if len(running) > 1:
        found.append((CONSERVATION, f"jobs {running} are RUNNING at once on one QPU"))
    expected = running[0] if running else None
    if s.running != expected:
        qpu = "idle" if s.running is None else f"j{s.running}"
        found.append((CONSERVATION, f"the QPU runs {qpu} but the RUNNING jobs are {running}"))


def _check_session_flags(s: State, found: Found) -> None:
    for i, slot in enumerate(s.sessions):
        final = slot.state in FINAL_SESSION_STATES
        if final and slot.accepting:
            found.append((CLOSED_REJECTS, f"s{i} is {slot.state} yet accepts jobs"))
        n = s.in_flight(i)
        if not final and not slot.accepting and n == 0:
            found.append((CLOSE_DRAINS, f"s{i} was closed and is drained but is {slot.state}"))
        if slot.state == CLOSED and n > 0:
            found.append((CLOSE_DRAINS, f"s{i} is closed with {n} job(s) queued or running"))
        if not final and slot.started != (slot.state in (ACTIVE, INACTIVE)):
            found.append((CLOCK, f"s{i} is {slot.state} but its max-TTL clock "
                                  f"{'runs' if slot.started else 'has not started'}"))


def _eligible(s: State) -> list[int]:
    """Queued jobs the dispatch order lets a free QPU start (an oracle apart from ``select``)."""
    active = s.active_dedicated()
    if active:
        return s.queued_of(active[0])
    eligible = [k for b in s.active_batches() for k in s.queued_of(b)]
    return sorted(eligible + _normal_queue(s))


def _normal_queue(s: State) -> list[int]:
    """The FIFO normal queue: queued jobs of job mode and of pending or inactive sessions."""
    return [
        k for k, job in enumerate(s.jobs)
        if job.status == QUEUED
        and (job.owner is None or s.sessions[job.owner].state in (PENDING, INACTIVE))
    ]


def _check_work_conserving(s: State, found: Found) -> None:
    if s.running is not None:
        return
    eligible = _eligible(s)
    if not eligible:
        return
    jobs = ", ".join(f"j{k}" for k in eligible)
    found.append((WORK_CONSERVING, f"the QPU is idle while {jobs} could start"))
    active_batches = s.active_batches()
    if active_batches and not s.active_dedicated():
        found.append((BATCH_NO_HOLD, f"the QPU is idle for batch s{active_batches[0]} "
                                      f"while {jobs} could start"))


def _check_changed_slots(pre: State, event: Event, after: State, found: Found) -> None:
    """INV-FINAL, INV-CONSERVATION (jobs kept), INV-ITTL and INV-CLOCK on changed slots."""
    if pre.sessions != after.sessions:  # tuple comparison: C speed, identity first
        _check_changed_sessions(pre, event, after, found)
    added = len(after.jobs) - len(pre.jobs)
    if added != (1 if event.kind == "submit" else 0):
        found.append((CONSERVATION, f"{event.label} changed the number of jobs by {added}"))
    if pre.jobs != after.jobs[: len(pre.jobs)]:
        _check_changed_jobs(pre, after, found)


def _check_changed_sessions(pre: State, event: Event, after: State, found: Found) -> None:
    if len(after.sessions) < len(pre.sessions):
        found.append((CONSERVATION, f"{event.label} lost a session"))
    for i, (was, now) in enumerate(zip(pre.sessions, after.sessions, strict=False)):
        if was == now:
            continue
        if was.state in FINAL_SESSION_STATES:
            found.append((FINAL, f"s{i} left final state {was.state} for {now.state}"
                                  f"{'' if now.accepting == was.accepting else ' (accepting)'}"))
        if was.state == ACTIVE and now.state == INACTIVE and event != Event("ittl", i):
            found.append((ITTL, f"s{i} deactivated on {event.label}, not on its ITTL"))
        if was.started and not now.started:
            found.append((CLOCK, f"s{i}'s max-TTL clock was reset"))


def _check_changed_jobs(pre: State, after: State, found: Found) -> None:
    for k, (was, now) in enumerate(zip(pre.jobs, after.jobs, strict=False)):
        if was == now:
            continue
        if was.status in FINAL_JOB_STATUSES:
            found.append((FINAL, f"j{k} left final status {was.status} for {now.status}"))
        if now.owner != was.owner:
            found.append((CONSERVATION, f"j{k} changed owner"))


def _check_new_job(pre: State, mid: State, found: Found) -> None:
    if len(mid.jobs) <= len(pre.jobs):
        return
    i = mid.jobs[-1].owner
    if i is not None and (not pre.sessions[i].accepting
                          or pre.sessions[i].state in FINAL_SESSION_STATES):
        found.append((CLOSED_REJECTS, f"s{i} ({pre.sessions[i].state}, not accepting) got "
                                       f"a new job j{len(mid.jobs) - 1}"))


def _check_close(pre: State, i: int, mid: State, found: Found) -> None:
    for k in pre.queued_of(i):
        if mid.jobs[k].status != QUEUED:
            found.append((CLOSE_DRAINS, f"close(s{i}) ended queued j{k} "
                                         f"({mid.jobs[k].status}) instead of letting it run"))
    closed = mid.sessions[i].state == CLOSED
    if closed != (mid.in_flight(i) == 0):
        found.append((CLOSE_DRAINS, f"after close(s{i}) it is {mid.sessions[i].state} with "
                                     f"{mid.in_flight(i)} job(s) queued or running"))


def _check_queued_ended(pre: State, event: Event, mid: State, target: str,
                        found: Found) -> None:
    ident = CANCEL if event.kind == "cancel" else EXPIRE_FAILS_QUEUED
    i = target_of(event)
    for k in pre.queued_of(i):
        if mid.jobs[k].status != target:
            found.append((ident, f"{event.label} left queued j{k} {mid.jobs[k].status}, "
                                 f"not {target}"))
    for k in mid.queued_of(i):
        found.append((ident, f"after {event.label} j{k} is still QUEUED"))


def _check_running_kept(pre: State, event: Event, mid: State, found: Found) -> None:
    r = pre.running
    if r is None or pre.jobs[r].owner != event.target or pre.jobs[r].status != RUNNING:
        return
    if mid.running != r or mid.jobs[r].status != RUNNING:
        found.append((RUNNING_COMPLETES, f"{event.label} stopped running j{r} "
                                          f"({mid.jobs[r].status})"))


def _check_start(mid: State, k: int, found: Found) -> None:
    owner = mid.jobs[k].owner
    active = mid.active_dedicated()
    if active and owner != active[0]:
        found.append((PRIORITY, f"j{k} started while dedicated s{active[0]} was active"))
    owner_state = None if owner is None else mid.sessions[owner].state
    if owner_state == EXPIRED:
        found.append((MAXTTL_NOSTART, f"j{k} of expired s{owner} started"))
    if owner_state not in (None, PENDING, INACTIVE):
        return
    ahead = [f"active s{active[0]}"] if active else []
    ahead += [f"batch s{b}" for b in mid.active_batches() if mid.queued_of(b)]
    normal = _normal_queue(mid)
    if normal and normal[0] != k:
        ahead.append(f"older normal-queue j{normal[0]}")
    if ahead:
        found.append((FIRST_JOB_NORMAL, f"j{k} ({owner_state or 'job mode'}) started ahead "
                                         f"of {', '.join(ahead)}"))
