"""Bounded breadth-first exploration of the model's abstract state space, invariant by invariant.

The explorer enumerates every abstract state of one QPU reachable with at most
``max_sessions`` sessions or batches and ``max_jobs`` jobs, and checks the
invariants that apply to an abstract state on every state and every transition. It
returns, for each violated invariant, the shortest event path from the empty QPU.

Abstract state (``State``, canonical and hashable): per opened session its mode, model
state, ``accepting_jobs`` and whether it has started; per submitted job (in submission
order) its owner (a session, or job mode) and status; the QPU's running job; the order in
which batches first started (active ones are served in that order). "Held"
(idle, reserved for an active dedicated session) is derived. Events, as they appear in
paths: ``open(dedicated|batch)``, ``submit(sI|job)``, ``close(sI)``, ``cancel(sI)``,
``cancel_job(jK)`` (user), and ``finish(jK)``, ``fail(jK)``, ``ittl(sI)``, ``max_ttl(sI)``,
``idle_close(sI)`` (system); nothing else.

Abstraction (what is kept, what is dropped):

- Time is abstracted away. Timers are nondeterministic events, enabled exactly when their
  precondition holds: ``ittl(i)`` when session ``i`` is active with no job queued or
  running, ``max_ttl(i)`` once ``i`` has started and until it ends, ``idle_close(i)`` while
  ``i`` is pending and no job was ever submitted to it, ``finish``/``fail`` while a job
  runs. Every interleaving of timers and user actions is therefore explored, which
  over-approximates any concrete timing (the runtime's same-instant order, expiry
  before completion before ITTL, is one of the interleavings).
- Dispatch is eager: after every event the QPU is work-conserving, so ``select`` (the one
  dispatch rule in ``qsession.model.dispatch``) is asked until it holds or idles. This
  matches the runtime, which dispatches once an instant has settled.
- Fair share and billing are out of scope: the abstract QPU has one instance and no time,
  so the normal queue is FIFO by submission order and INV-FAIR-SHARE and INV-USAGE are not
  applicable.
- Every session and job move is fired on real ``SessionLifecycle``/``JobLifecycle``
  objects, rebuilt from the abstract state at each step: the explorer reads the model's
  tables through ``Lifecycle.fire`` and never restates a transition. A refused user action
  means the action is not enabled; a refused system step is an INV-MODEL-CONFORMS
  violation.

Tests inject deliberately wrong rules through two points only: ``dispatch=`` (a stand-in
for ``select``) and ``variant=`` (a ``Variant`` subclass); the defaults are the real rules.
"""

from __future__ import annotations

import gc
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from qsession.model import (
    ACTIVE,
    CANCELLED,
    CLOSED,
    ERROR,
    EXPIRED,
    INACTIVE,
    JOB_TABLE,
    PENDING,
    QUEUED,
    RUNNING,
    SESSION_TABLE,
    JobLifecycle,
    Mode,
    SessionLifecycle,
    Step,
    TransitionRefused,
)
from qsession.model.dispatch import Decision, in_normal_queue, select

# -- invariant ids ---------------------------------------------------------------------

_ACTIVE_ONE = "INV-ACTIVE-ONE"
_MAXTTL_NOSTART = "INV-MAXTTL-NOSTART"
_EXPIRE_FAILS_QUEUED = "INV-EXPIRE-FAILS-QUEUED"
_RUNNING_COMPLETES = "INV-RUNNING-COMPLETES"
_CANCEL = "INV-CANCEL"
_CLOSED_REJECTS = "INV-CLOSED-REJECTS"
_CLOSE_DRAINS = "INV-CLOSE-DRAINS"
_FIRST_JOB_NORMAL = "INV-FIRST-JOB-NORMAL"
_PRIORITY = "INV-PRIORITY"
_ITTL = "INV-ITTL"
_CLOCK = "INV-CLOCK"
_FINAL = "INV-FINAL"
_CONSERVATION = "INV-CONSERVATION"
_WORK_CONSERVING = "INV-WORK-CONSERVING"
_FAIR_SHARE = "INV-FAIR-SHARE"
_MODEL_CONFORMS = "INV-MODEL-CONFORMS"
_PROGRESS = "INV-PROGRESS"
_BATCH_NO_HOLD = "INV-BATCH-NO-HOLD"
_IDLE_CLOSE = "INV-IDLE-CLOSE"
_USAGE = "INV-USAGE"

APPLICABLE: dict[str, str] = {
    _ACTIVE_ONE: "every state: at most one dedicated session is active",
    _MAXTTL_NOSTART: "every job start: the job's session is not expired",
    _EXPIRE_FAILS_QUEUED: "every max_ttl(i): the session's queued jobs are ERROR, none is QUEUED",
    _RUNNING_COMPLETES: "every cancel(i)/max_ttl(i): a running job of i is still RUNNING after",
    _CANCEL: "every cancel(i): the session's queued jobs are CANCELLED, none is QUEUED",
    _CLOSED_REJECTS: "every new job: its session accepted jobs before; final ⇒ not accepting",
    _CLOSE_DRAINS: "close(i) ends no queued job; not accepting and drained ⇔ closed (every state)",
    _FIRST_JOB_NORMAL: (
        "every start of a pending/inactive/job-mode job: nothing active goes first and it is "
        "the oldest job of the FIFO normal queue"
    ),
    _PRIORITY: "every job start while a dedicated session is active: the job is that session's",
    _ITTL: "ittl(i) only when i is active and idle, always offered then; only ittl deactivates",
    _CLOCK: (
        "max_ttl(i) only once i started, always offered until it ends (inactive too); "
        "started ⇔ active or inactive"
    ),
    _FINAL: "every transition: final session and job states (and flags) never change",
    _CONSERVATION: (
        "every state: one status per job, one RUNNING at most and it is the QPU's; "
        "jobs are never lost, only submit adds one"
    ),
    _WORK_CONSERVING: (
        "every state: an idle QPU has no eligible job unless an active dedicated session with "
        "nothing queued holds it"
    ),
    _MODEL_CONFORMS: (
        "every system step (dispatch, job end, timers, queued-job endings) is accepted by the "
        "lifecycle tables; the active-batch list matches the model's states"
    ),
    _PROGRESS: (
        "every state reaches a state with every job final by system events only "
        "(computed backwards on the explored graph)"
    ),
    _BATCH_NO_HOLD: (
        "every state: the QPU is never idle with an eligible job while only batches are active"
    ),
    _IDLE_CLOSE: (
        "idle_close(i) only while i is pending with no job ever submitted, always offered "
        "then; it closes i and stops it accepting jobs"
    ),
}
"""Invariant id → how the explorer checks it on the abstract model."""

NOT_APPLICABLE: dict[str, str] = {
    _FAIR_SHARE: (
        "the abstract QPU has one instance (no usage, no rolling window), so the normal queue "
        "is plain FIFO; fair share is checked on runtime traces instead"
    ),
    _USAGE: (
        "the abstract model has no time, so there are no durations to bill; usage is checked "
        "on runtime traces instead"
    ),
}
"""Invariant id → why the abstract model cannot check it."""

_FINAL_SESSION_STATES = SESSION_TABLE.final_states
_FINAL_JOB_STATUSES = JOB_TABLE.final_states
_JOB_STATUSES = frozenset(JOB_TABLE.state_names)
_IN_FLIGHT = frozenset({QUEUED, RUNNING})
_MODES: tuple[Mode, ...] = ("dedicated", "batch")
# The model's word on which modes hold the QPU, asked once per mode rather than per step.
_RESERVES_QPU = {mode: SessionLifecycle("probe", mode).reserves_qpu for mode in _MODES}

EventKind = Literal[
    "open", "submit", "close", "cancel", "cancel_job", "finish", "fail", "ittl", "max_ttl",
    "idle_close",
]
USER_EVENTS: tuple[EventKind, ...] = ("open", "submit", "close", "cancel", "cancel_job")
"""Events a user causes; a refused one is simply not enabled."""
SYSTEM_EVENTS: tuple[EventKind, ...] = ("finish", "fail", "ittl", "max_ttl", "idle_close")
"""Events the QPU and the timers cause; INV-PROGRESS may use only these."""
EVENT_KINDS: tuple[EventKind, ...] = USER_EVENTS + SYSTEM_EVENTS
"""Every event kind."""

DispatchRule = Callable[
    [bool, int | None, Iterable[int | None], Iterable[tuple[float, int, int]]], Decision[int]
]
"""The signature of ``model.dispatch.select`` with jobs named by submission index."""

StateCheck = Callable[["State"], Iterable[tuple[str, str]]]
"""An extra check on every state: yields ``(invariant id, message)`` for each violation."""


# -- the abstract state ------------------------------------------------------------------


class SessionSlot(NamedTuple):
    """One opened session or batch: its mode, model state, accepting flag, and started flag."""

    mode: Mode
    state: str
    accepting: bool
    started: bool  # the explorer's own record that a job of it started (INV-CLOCK)


class JobSlot(NamedTuple):
    """One submitted job: its owner (a session index, None in job mode) and status."""

    owner: int | None
    status: str


class State(NamedTuple):
    """A canonical abstract state of one QPU; job ``k`` is the ``k``-th submitted."""

    sessions: tuple[SessionSlot, ...]
    jobs: tuple[JobSlot, ...]
    running: int | None
    batches: tuple[int, ...]  # batches that started, in the order their first jobs started

    def queued_of(self, i: int) -> list[int]:
        """Indices of session ``i``'s QUEUED jobs, oldest first."""
        return [k for k, job in enumerate(self.jobs) if job.owner == i and job.status == QUEUED]

    def in_flight(self, i: int) -> int:
        """The number of session ``i``'s jobs queued or running."""
        return sum(1 for job in self.jobs if job.owner == i and job.status in _IN_FLIGHT)

    def submitted(self, i: int) -> int:
        """The number of jobs ever submitted to session ``i`` (jobs are never forgotten)."""
        return sum(1 for job in self.jobs if job.owner == i)

    def active_dedicated(self) -> list[int]:
        """Indices of the active dedicated sessions (one at most, by INV-ACTIVE-ONE)."""
        return [
            i for i, s in enumerate(self.sessions) if s.mode == "dedicated" and s.state == ACTIVE
        ]

    def active_batches(self) -> list[int]:
        """Indices of the active batches, by index (``batches`` has their first-start order)."""
        return [i for i, s in enumerate(self.sessions) if s.mode == "batch" and s.state == ACTIVE]

    @property
    def held(self) -> bool:
        """True when the QPU is idle, held for an active dedicated session with nothing queued."""
        return self.running is None and any(
            not self.queued_of(i) for i in self.active_dedicated()
        )

    @property
    def all_final(self) -> bool:
        """True when every job is DONE, ERROR or CANCELLED (the INV-PROGRESS goal)."""
        return all(job.status in _FINAL_JOB_STATUSES for job in self.jobs)

    def describe(self) -> str:
        """A one-line human-readable rendering, for violation messages."""
        sessions = " ".join(
            f"s{i}:{s.mode[0]}/{s.state}{'' if s.accepting else '/closing'}"
            for i, s in enumerate(self.sessions)
        )
        jobs = " ".join(
            f"j{k}:{'job' if j.owner is None else f's{j.owner}'}/{j.status}"
            for k, j in enumerate(self.jobs)
        )
        qpu = "idle" if self.running is None else f"j{self.running}"
        return f"[{sessions or 'no sessions'} | {jobs or 'no jobs'} | qpu={qpu}]"


INITIAL = State((), (), None, ())
"""The empty QPU: no session, no job."""


class Event(NamedTuple):
    """One event of the abstract system: a kind and its target (session or job index)."""

    kind: EventKind
    target: int | None = None  # session or job index; None for open and job-mode submit
    mode: Mode | None = None  # for ``open`` only

    @property
    def label(self) -> str:
        """The human-readable form used in paths, e.g. ``submit(s0)`` or ``finish(j1)``."""
        if self.kind == "open":
            return f"open({self.mode})"
        if self.kind == "submit":
            return "submit(job)" if self.target is None else f"submit(s{self.target})"
        prefix = "j" if self.kind in ("cancel_job", "finish", "fail") else "s"
        return f"{self.kind}({prefix}{self.target})"

    @property
    def is_system(self) -> bool:
        """True for QPU and timer events (the only ones INV-PROGRESS may use)."""
        return self.kind in SYSTEM_EVENTS


# -- injection point for deliberately wrong rules (tests) --------------------------------


class Variant:
    """The rules the explorer applies beside the tables; tests subclass it to plant a bug.

    Every method of this base class is the real rule of the semantics.
    """

    name = "the real rules"

    def ittl_enabled(self, session: SessionSlot, in_flight: int) -> bool:
        """Whether the ITTL timer of ``session`` can fire now (only when active and idle)."""
        return session.state == ACTIVE and in_flight == 0

    def max_ttl_enabled(self, session: SessionSlot) -> bool:
        """Whether the max-TTL timer can fire now (started, never paused, until it ends)."""
        return session.started and session.state not in _FINAL_SESSION_STATES

    def idle_close_enabled(self, session: SessionSlot, submitted: int) -> bool:
        """Whether the idle-close timer can fire now (pending, no job ever submitted)."""
        return session.state == PENDING and submitted == 0

    def queued_at_expiry(self) -> str | None:
        """The job event for each queued job when its session expires (None: leave it)."""
        return "expire"

    def queued_at_cancel(self) -> str | None:
        """The job event for each queued job when its session is cancelled."""
        return "cancel"

    def running_at_cancel(self) -> str | None:
        """The job event for a running job when its session is cancelled (None: it runs on)."""
        return None

    def queued_at_close(self) -> str | None:
        """The job event for each queued job when its session is closed (None: they drain)."""
        return None

    def submit_when_refused(self) -> bool:
        """Whether a submit the session refuses still creates a job (it must never)."""
        return False

    def frees_qpu_on_cancel(self) -> bool:
        """Whether ``cancel_job`` on the running job frees the QPU (it must, at once)."""
        return True


REAL_RULES = Variant()
"""The unmodified rules."""


# -- one step of the system on real lifecycle objects ------------------------------------


class _ModelRefused(Exception):
    """A system step was refused by a lifecycle table: a model (or rules) bug."""


class _World:
    """A mutable copy of a ``State`` for one transition, firing events on real lifecycles.

    A session or job gets its ``SessionLifecycle``/``JobLifecycle`` (rebuilt from its
    slot) when an event is first fired on it; after every fire its slot is refreshed
    from the lifecycle object, so the slots always show the model's word.
    """

    __slots__ = ("_jobs", "_sessions", "batches", "jobs", "running", "sessions", "start")

    def __init__(self, state: State) -> None:
        self.sessions = list(state.sessions)
        self.jobs = list(state.jobs)
        self.running = state.running
        self.batches = list(state.batches)
        self.start: tuple[int, str] | None = None
        self._sessions: dict[int, SessionLifecycle] = {}
        self._jobs: dict[int, JobLifecycle] = {}

    def freeze(self) -> State:
        """The canonical abstract state of this world."""
        return State(tuple(self.sessions), tuple(self.jobs), self.running, tuple(self.batches))

    def add_session(self, mode: Mode) -> None:
        """Open a new session or batch: a fresh lifecycle decides its initial state."""
        lc = SessionLifecycle(f"s{len(self.sessions)}", mode)
        self._sessions[len(self.sessions)] = lc
        self.sessions.append(SessionSlot(lc.mode, lc.state, lc.accepting_jobs, False))

    def add_job(self, owner: int | None) -> None:
        """Create a new job: a fresh lifecycle decides its initial status."""
        lc = JobLifecycle(f"j{len(self.jobs)}")
        self._jobs[len(self.jobs)] = lc
        self.jobs.append(JobSlot(owner, lc.state))

    def session(self, i: int) -> SessionLifecycle:
        """Session ``i``'s lifecycle object, rebuilt from its slot on first use."""
        lc = self._sessions.get(i)
        if lc is None:
            slot = self.sessions[i]
            lc = SessionLifecycle(f"s{i}", slot.mode)
            lc.state = slot.state
            lc.accepting_jobs = slot.accepting
            self._sessions[i] = lc
        return lc

    def fire_session(self, i: int, event: str, *, system: bool, **facts: int) -> Step:
        """Fire ``event`` on session ``i``; a refused system step raises ``_ModelRefused``."""
        lc = self.session(i)
        step = _fire(lc, event, system, facts)
        slot = self.sessions[i]
        self.sessions[i] = SessionSlot(slot.mode, lc.state, lc.accepting_jobs, slot.started)
        return step

    def fire_job(self, k: int, event: str, *, system: bool) -> Step:
        """Fire ``event`` on job ``k``; a refused system step raises ``_ModelRefused``."""
        lc = self._jobs.get(k)
        if lc is None:
            lc = JobLifecycle(f"j{k}")
            lc.state = self.jobs[k].status
            self._jobs[k] = lc
        step = _fire(lc, event, system, {})
        self.jobs[k] = JobSlot(self.jobs[k].owner, lc.state)
        return step

    def mark_started(self, i: int) -> None:
        """Record that a job of session ``i`` started: its max-TTL clock runs from now on."""
        self.sessions[i] = self.sessions[i]._replace(started=True)

    def queued(self, i: int | None) -> list[int]:
        """Session ``i``'s QUEUED jobs, oldest first."""
        return [k for k, job in enumerate(self.jobs) if job.owner == i and job.status == QUEUED]

    def in_flight(self, i: int) -> int:
        """The number of session ``i``'s jobs queued or running (the model's ``in_flight``)."""
        return sum(1 for job in self.jobs if job.owner == i and job.status in _IN_FLIGHT)


def _fire(lc: SessionLifecycle | JobLifecycle, event: str, system: bool,
          facts: dict[str, int]) -> Step:
    if not system:
        return lc.fire(event, **facts)  # a refusal means the user action is not enabled
    try:
        return lc.fire(event, **facts)
    except TransitionRefused as refused:
        raise _ModelRefused(str(refused)) from None


class Outcome(NamedTuple):
    """What one event did: the state before dispatch, after it, and any start or refusal."""

    event: Event
    mid: State  # after the event, before dispatch (or where a refused step stopped)
    post: State | None  # after dispatch; None when the model refused a system step
    start: tuple[int, str] | None  # (job, via) started by dispatch
    refusal: str | None
    refused_in_event: bool = False  # True: ``mid`` is where the event itself stopped


class Rules:
    """The system's events on one QPU: the model's tables, ``select`` and a ``Variant``."""

    def __init__(self, max_sessions: int | None = None, max_jobs: int | None = None, *,
                 dispatch: DispatchRule = select, variant: Variant = REAL_RULES) -> None:
        self.max_sessions = max_sessions
        self.max_jobs = max_jobs
        self.dispatch = dispatch
        self.variant = variant
        self._handlers: dict[str, Callable[[_World, Event], None]] = {
            kind: getattr(self, f"_on_{kind}") for kind in EVENT_KINDS
        }

    # -- which events may happen -------------------------------------------------------

    def candidates(self, state: State) -> Iterator[Event]:
        """Events to try from ``state``, in a fixed order (user ones may still be refused)."""
        n_sessions = len(state.sessions)
        if self.max_sessions is None or n_sessions < self.max_sessions:
            for mode in _MODES:
                yield Event("open", mode=mode)
        if self.max_jobs is None or len(state.jobs) < self.max_jobs:
            for i in range(n_sessions):
                yield Event("submit", i)
            yield Event("submit")
        # System events before the other user events, so that among equally short paths
        # BFS reports the one that reads most naturally (``finish`` before ``cancel_job``).
        if state.running is not None:
            yield Event("finish", state.running)
            yield Event("fail", state.running)
        yield from self._timers(state)
        # Events with no table row from the current state are refused without a try
        # (``Lifecycle.fire`` would refuse them the same way, first thing).
        for kind in ("close", "cancel"):
            for i, slot in enumerate(state.sessions):
                if SESSION_TABLE.rows_for(slot.state, kind):
                    yield Event(kind, i)
        for k, job in enumerate(state.jobs):
            if JOB_TABLE.rows_for(job.status, "cancel"):
                yield Event("cancel_job", k)

    def _timers(self, state: State) -> Iterator[Event]:
        for i, slot in enumerate(state.sessions):
            if self.variant.ittl_enabled(slot, state.in_flight(i)):
                yield Event("ittl", i)
        for i, slot in enumerate(state.sessions):
            if self.variant.max_ttl_enabled(slot):
                yield Event("max_ttl", i)
        for i, slot in enumerate(state.sessions):
            if self.variant.idle_close_enabled(slot, state.submitted(i)):
                yield Event("idle_close", i)

    def successors(self, state: State) -> list[Outcome]:
        """Every enabled event from ``state`` and what it does, in a fixed order."""
        outcomes = []
        for event in self.candidates(state):
            outcome = self.apply(state, event)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    # -- doing one event -----------------------------------------------------------------

    def apply(self, state: State, event: Event) -> Outcome | None:
        """Do ``event`` then dispatch; None when the model refuses a user action."""
        w = _World(state)
        try:
            self._handlers[event.kind](w, event)
        except TransitionRefused:  # only a user action's own refusal escapes as this
            return None
        except _ModelRefused as refused:
            return Outcome(event, w.freeze(), None, None, str(refused), refused_in_event=True)
        mid = w.freeze()
        try:
            self._dispatch(w)
        except _ModelRefused as refused:
            return Outcome(event, mid, None, w.start, str(refused))
        # Nothing started: dispatch changed nothing, so the settled state is ``mid``.
        return Outcome(event, mid, mid if w.start is None else w.freeze(), w.start, None)

    def _on_open(self, w: _World, event: Event) -> None:
        assert event.mode is not None
        w.add_session(event.mode)

    def _on_submit(self, w: _World, event: Event) -> None:
        i = event.target
        if i is not None:
            try:
                w.fire_session(i, "submit", system=False)
            except TransitionRefused:
                if not self.variant.submit_when_refused():
                    raise
        w.add_job(i)

    def _on_close(self, w: _World, event: Event) -> None:
        i = _index(event)
        self._session_step(w, i, w.fire_session(i, "close", system=False,
                                                in_flight=w.in_flight(i)))
        bug = self.variant.queued_at_close()
        if bug is not None:
            for k in w.queued(i):
                w.fire_job(k, bug, system=True)
                self._job_left(w, k)

    def _on_cancel(self, w: _World, event: Event) -> None:
        i = _index(event)
        self._session_step(w, i, w.fire_session(i, "cancel", system=False))
        self._end_queued(w, i, self.variant.queued_at_cancel())
        on_running = self.variant.running_at_cancel()
        if on_running is not None and w.running is not None and w.jobs[w.running].owner == i:
            w.fire_job(w.running, on_running, system=True)
            w.running = None

    def _on_cancel_job(self, w: _World, event: Event) -> None:
        k = _index(event)
        w.fire_job(k, "cancel", system=False)
        if k == w.running and self.variant.frees_qpu_on_cancel():
            w.running = None
        self._job_left(w, k)

    def _on_finish(self, w: _World, event: Event) -> None:
        self._run_ended(w, _index(event), "finish")

    def _on_fail(self, w: _World, event: Event) -> None:
        self._run_ended(w, _index(event), "fail")

    def _on_ittl(self, w: _World, event: Event) -> None:
        i = _index(event)
        step = w.fire_session(i, "ittl_elapsed", system=True, in_flight=w.in_flight(i))
        self._session_step(w, i, step)

    def _on_idle_close(self, w: _World, event: Event) -> None:
        i = _index(event)
        submitted = sum(1 for job in w.jobs if job.owner == i)
        self._session_step(w, i, w.fire_session(i, "idle_close_elapsed", system=True,
                                                submitted=submitted))

    def _on_max_ttl(self, w: _World, event: Event) -> None:
        i = _index(event)
        self._session_step(w, i, w.fire_session(i, "max_time_reached", system=True))
        self._end_queued(w, i, self.variant.queued_at_expiry())

    # -- consequences (system steps) ------------------------------------------------------

    def _run_ended(self, w: _World, k: int, event: str) -> None:
        w.fire_job(k, event, system=True)
        w.running = None
        self._job_left(w, k)

    def _end_queued(self, w: _World, i: int, event: str | None) -> None:
        if event is not None:
            for k in w.queued(i):
                w.fire_job(k, event, system=True)

    def _job_left(self, w: _World, k: int) -> None:
        """Tell the job's session that one of its jobs ended (unless the session has ended)."""
        i = w.jobs[k].owner
        if i is None or w.session(i).is_final:
            return
        step = w.fire_session(i, "job_ended", system=True, in_flight=w.in_flight(i))
        self._session_step(w, i, step)

    def _session_step(self, w: _World, i: int, step: Step) -> None:
        """Record the order in which batches first started (they are served so)."""
        if not step.changed or _RESERVES_QPU[w.sessions[i].mode]:
            return
        if step.dest == ACTIVE and i not in w.batches:
            w.batches.append(i)

    # -- dispatch ------------------------------------------------------------------------

    def _dispatch(self, w: _World) -> None:
        """Ask the dispatch rule until the QPU is busy or it holds or idles."""
        while w.running is None:
            decision = self.dispatch(*self._select_inputs(w))
            if decision.action != "start" or decision.job is None:
                return
            k = decision.job
            w.start = (k, decision.via or "?")
            w.fire_job(k, "start", system=True)
            w.running = k
            i = w.jobs[k].owner
            if i is not None:
                step = w.fire_session(i, "job_started", system=True)
                if step.changed:
                    w.mark_started(i)
                self._session_step(w, i, step)

    def _select_inputs(
        self, w: _World
    ) -> tuple[bool, int | None, Iterator[int | None], Iterator[tuple[float, int, int]]]:
        active = [
            i for i, slot in enumerate(w.sessions)
            if slot.state == ACTIVE and _RESERVES_QPU[slot.mode]
        ]
        head = None
        if active:
            queued = w.queued(active[0])
            head = queued[0] if queued else None

        def batch_heads() -> Iterator[int | None]:
            for b in w.batches:  # in first-start order; only active ones have priority
                if w.sessions[b].state == ACTIVE:
                    queued = w.queued(b)
                    yield queued[0] if queued else None

        def normal_heads() -> Iterator[tuple[float, int, int]]:
            # One instance: every normal-queue job shares the ratio, so select's
            # (ratio, seq) minimum is FIFO by submission.
            for k, job in enumerate(w.jobs):
                if job.status == QUEUED and in_normal_queue(
                    None if job.owner is None else w.sessions[job.owner].state
                ):
                    yield 0.0, k, k

        return bool(active), head, batch_heads(), normal_heads()


def _index(event: Event) -> int:
    assert event.target is not None, event
    return event.target


# -- the invariants ----------------------------------------------------------------------

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
            _ACTIVE_ONE: states,
            _WORK_CONSERVING: states,
            _BATCH_NO_HOLD: states,
            _CONSERVATION: states + transitions,
            _CLOCK: states + enabled + transitions,
            _ITTL: enabled + transitions,
            _FINAL: transitions,
            _MODEL_CONFORMS: states + transitions,
            _CLOSED_REJECTS: states + kinds["submit"],
            _CLOSE_DRAINS: states + kinds["close"],
            _CANCEL: kinds["cancel"],
            _EXPIRE_FAILS_QUEUED: kinds["max_ttl"],
            _RUNNING_COMPLETES: kinds["cancel"] + kinds["max_ttl"],
            _PRIORITY: self._starts,
            _FIRST_JOB_NORMAL: self._starts,
            _MAXTTL_NOSTART: self._starts,
            _PROGRESS: self.progress_checks,
            _IDLE_CLOSE: enabled + kinds["idle_close"],
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
                found.append((_ITTL, f"s{i} is active and idle but its ITTL cannot fire"))
            if (slot.started and slot.state not in _FINAL_SESSION_STATES
                    and Event("max_ttl", i) not in offered):
                found.append((_CLOCK, f"s{i} started but its max-TTL clock cannot run out "
                                      f"while {slot.state}"))
            if (slot.state == PENDING and s.submitted(i) == 0
                    and Event("idle_close", i) not in offered):
                found.append((_IDLE_CLOSE, f"s{i} is pending and unused but can never close "
                                           "as unused"))
        return found

    def transition(self, pre: State, out: Outcome) -> Found:
        """Violations in one transition ``pre --out.event--> out.post``."""
        event = out.event
        self._transitions[event.kind] += 1
        found: Found = []
        if out.refusal is not None:
            found.append((_MODEL_CONFORMS, f"{event.label}: the model refused a system "
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
        _check_close(pre, _index(out.event), mid, found)
    elif kind in ("cancel", "max_ttl"):
        target = CANCELLED if kind == "cancel" else ERROR
        _check_queued_ended(pre, out.event, mid, target, found)
        _check_running_kept(pre, out.event, mid, found)
    elif kind == "idle_close":
        slot = mid.sessions[_index(out.event)]
        if slot.state != CLOSED or slot.accepting:
            found.append((_IDLE_CLOSE, f"after {out.event.label} s{out.event.target} is "
                                       f"{slot.state}{'' if not slot.accepting else ', accepting'}"
                                       ", not closed"))


def _check_timer_enabled(pre: State, event: Event, found: Found) -> None:
    """A timer fires only when its precondition holds in the state before."""
    if event.kind == "ittl":
        i = _index(event)
        if pre.sessions[i].state != ACTIVE or pre.in_flight(i) != 0:
            found.append((_ITTL, f"ittl(s{i}) fired while s{i} was {pre.sessions[i].state} "
                                 f"with {pre.in_flight(i)} job(s) queued or running"))
    elif event.kind == "max_ttl" and not pre.sessions[_index(event)].started:
        found.append((_CLOCK, f"max_ttl(s{event.target}) fired before any job of it started"))
    elif event.kind == "idle_close":
        i = _index(event)
        if pre.sessions[i].state != PENDING or pre.submitted(i):
            found.append((_IDLE_CLOSE, f"idle_close(s{i}) fired while s{i} was "
                                       f"{pre.sessions[i].state} with {pre.submitted(i)} "
                                       "job(s) submitted"))


def _check_active_one(s: State, found: Found) -> None:
    active = s.active_dedicated()
    if len(active) > 1:
        names = ", ".join(f"s{i}" for i in active)
        found.append((_ACTIVE_ONE, f"dedicated sessions {names} are active at once"))


def _check_batch_order(s: State, found: Found) -> None:
    started = [i for i, slot in enumerate(s.sessions) if slot.mode == "batch" and slot.started]
    if sorted(s.batches) != started or len(set(s.batches)) != len(s.batches):
        found.append((_MODEL_CONFORMS, f"the scheduler's started batches {list(s.batches)} "
                                       f"are not the model's {started}"))


def _check_conservation(s: State, found: Found) -> None:
    for k, job in enumerate(s.jobs):
        if job.status not in _JOB_STATUSES:
            found.append((_CONSERVATION, f"j{k} has no valid status ({job.status!r})"))
    running = [k for k, job in enumerate(s.jobs) if job.status == RUNNING]
    if len(running) > 1:
        found.append((_CONSERVATION, f"jobs {running} are RUNNING at once on one QPU"))
    expected = running[0] if running else None
    if s.running != expected:
        qpu = "idle" if s.running is None else f"j{s.running}"
        found.append((_CONSERVATION, f"the QPU runs {qpu} but the RUNNING jobs are {running}"))


def _check_session_flags(s: State, found: Found) -> None:
    for i, slot in enumerate(s.sessions):
        final = slot.state in _FINAL_SESSION_STATES
        if final and slot.accepting:
            found.append((_CLOSED_REJECTS, f"s{i} is {slot.state} yet accepts jobs"))
        n = s.in_flight(i)
        if not final and not slot.accepting and n == 0:
            found.append((_CLOSE_DRAINS, f"s{i} was closed and is drained but is {slot.state}"))
        if slot.state == CLOSED and n > 0:
            found.append((_CLOSE_DRAINS, f"s{i} is closed with {n} job(s) queued or running"))
        if not final and slot.started != (slot.state in (ACTIVE, INACTIVE)):
            found.append((_CLOCK, f"s{i} is {slot.state} but its max-TTL clock "
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
    found.append((_WORK_CONSERVING, f"the QPU is idle while {jobs} could start"))
    active_batches = s.active_batches()
    if active_batches and not s.active_dedicated():
        found.append((_BATCH_NO_HOLD, f"the QPU is idle for batch s{active_batches[0]} "
                                      f"while {jobs} could start"))


def _check_changed_slots(pre: State, event: Event, after: State, found: Found) -> None:
    """INV-FINAL, INV-CONSERVATION (jobs kept), INV-ITTL and INV-CLOCK on changed slots."""
    if pre.sessions != after.sessions:  # tuple comparison: C speed, identity first
        _check_changed_sessions(pre, event, after, found)
    added = len(after.jobs) - len(pre.jobs)
    if added != (1 if event.kind == "submit" else 0):
        found.append((_CONSERVATION, f"{event.label} changed the number of jobs by {added}"))
    if pre.jobs != after.jobs[: len(pre.jobs)]:
        _check_changed_jobs(pre, after, found)


def _check_changed_sessions(pre: State, event: Event, after: State, found: Found) -> None:
    if len(after.sessions) < len(pre.sessions):
        found.append((_CONSERVATION, f"{event.label} lost a session"))
    for i, (was, now) in enumerate(zip(pre.sessions, after.sessions, strict=False)):
        if was == now:
            continue
        if was.state in _FINAL_SESSION_STATES:
            found.append((_FINAL, f"s{i} left final state {was.state} for {now.state}"
                                  f"{'' if now.accepting == was.accepting else ' (accepting)'}"))
        if was.state == ACTIVE and now.state == INACTIVE and event != Event("ittl", i):
            found.append((_ITTL, f"s{i} deactivated on {event.label}, not on its ITTL"))
        if was.started and not now.started:
            found.append((_CLOCK, f"s{i}'s max-TTL clock was reset"))


def _check_changed_jobs(pre: State, after: State, found: Found) -> None:
    for k, (was, now) in enumerate(zip(pre.jobs, after.jobs, strict=False)):
        if was == now:
            continue
        if was.status in _FINAL_JOB_STATUSES:
            found.append((_FINAL, f"j{k} left final status {was.status} for {now.status}"))
        if now.owner != was.owner:
            found.append((_CONSERVATION, f"j{k} changed owner"))


def _check_new_job(pre: State, mid: State, found: Found) -> None:
    if len(mid.jobs) <= len(pre.jobs):
        return
    i = mid.jobs[-1].owner
    if i is not None and (not pre.sessions[i].accepting
                          or pre.sessions[i].state in _FINAL_SESSION_STATES):
        found.append((_CLOSED_REJECTS, f"s{i} ({pre.sessions[i].state}, not accepting) got "
                                       f"a new job j{len(mid.jobs) - 1}"))


def _check_close(pre: State, i: int, mid: State, found: Found) -> None:
    for k in pre.queued_of(i):
        if mid.jobs[k].status != QUEUED:
            found.append((_CLOSE_DRAINS, f"close(s{i}) ended queued j{k} "
                                         f"({mid.jobs[k].status}) instead of letting it run"))
    closed = mid.sessions[i].state == CLOSED
    if closed != (mid.in_flight(i) == 0):
        found.append((_CLOSE_DRAINS, f"after close(s{i}) it is {mid.sessions[i].state} with "
                                     f"{mid.in_flight(i)} job(s) queued or running"))


def _check_queued_ended(pre: State, event: Event, mid: State, target: str,
                        found: Found) -> None:
    ident = _CANCEL if event.kind == "cancel" else _EXPIRE_FAILS_QUEUED
    i = _index(event)
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
        found.append((_RUNNING_COMPLETES, f"{event.label} stopped running j{r} "
                                          f"({mid.jobs[r].status})"))


def _check_start(mid: State, k: int, found: Found) -> None:
    owner = mid.jobs[k].owner
    active = mid.active_dedicated()
    if active and owner != active[0]:
        found.append((_PRIORITY, f"j{k} started while dedicated s{active[0]} was active"))
    owner_state = None if owner is None else mid.sessions[owner].state
    if owner_state == EXPIRED:
        found.append((_MAXTTL_NOSTART, f"j{k} of expired s{owner} started"))
    if owner_state not in (None, PENDING, INACTIVE):
        return
    ahead = [f"active s{active[0]}"] if active else []
    ahead += [f"batch s{b}" for b in mid.active_batches() if mid.queued_of(b)]
    normal = _normal_queue(mid)
    if normal and normal[0] != k:
        ahead.append(f"older normal-queue j{normal[0]}")
    if ahead:
        found.append((_FIRST_JOB_NORMAL, f"j{k} ({owner_state or 'job mode'}) started ahead "
                                         f"of {', '.join(ahead)}"))


# -- exploration -------------------------------------------------------------------------


@dataclass
class Violation:
    """One violated invariant with the shortest event path that shows it."""

    invariant: str
    message: str
    path: list[str]

    def __str__(self) -> str:
        return f"{self.invariant}: {self.message}\n  path: {' → '.join(self.path) or '(start)'}"


@dataclass
class ExplorationResult:
    """What an exploration covered and found: counts, time, checks and violations."""

    max_sessions: int
    max_jobs: int
    states: int
    transitions: int
    seconds: float
    depth: int
    checks: dict[str, int]
    violations: list[Violation]  # the shortest violation of each invariant, in order found
    violation_counts: dict[str, int]
    events: dict[str, int] = field(default_factory=dict)  # transitions per event kind
    rules: str = REAL_RULES.name

    @property
    def ok(self) -> bool:
        """True when no invariant was violated."""
        return not self.violations

    @property
    def states_per_second(self) -> float:
        """Exploration throughput."""
        return self.states / self.seconds if self.seconds > 0 else float("inf")

    def violation(self, invariant: str) -> Violation | None:
        """The shortest violation of ``invariant``, if any."""
        return next((v for v in self.violations if v.invariant == invariant), None)

    def summary(self) -> str:
        """A short human-readable report."""
        head = (f"{self.max_sessions} sessions × {self.max_jobs} jobs under {self.rules}: "
                f"{self.states} states, "
                f"{self.transitions} transitions, depth {self.depth}, {self.seconds:.2f} s "
                f"({self.states_per_second:,.0f} states/s)")
        if self.ok:
            return f"{head}; no violation of {len(self.checks)} invariants"
        return "\n".join([f"{head}; {len(self.violations)} invariant(s) violated",
                          *(str(v) for v in self.violations)])


class _Graph:
    """The explored states, their BFS parents, and the reversed system-event edges."""

    def __init__(self) -> None:
        self.index: dict[State, int] = {INITIAL: 0}
        self.states: list[State] = [INITIAL]
        self.parent: list[int] = [-1]
        self.event: list[Event | None] = [None]
        self.depth: list[int] = [0]
        self.system_preds: list[list[int]] = [[]]

    def add(self, state: State, parent: int, event: Event) -> int:
        n = len(self.states)
        self.index[state] = n
        self.states.append(state)
        self.parent.append(parent)
        self.event.append(event)
        self.depth.append(self.depth[parent] + 1)
        self.system_preds.append([])
        return n

    def path(self, n: int) -> list[str]:
        labels: list[str] = []
        while n > 0:
            event = self.event[n]
            assert event is not None
            labels.append(event.label)
            n = self.parent[n]
        return labels[::-1]


class _Report:
    """Keeps the first (hence shortest, in BFS order) violation of each invariant."""

    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.first: dict[str, Violation] = {}
        self.counts: Counter[str] = Counter()

    def add(self, found: Found, node: int, then: Event | None = None) -> None:
        """Record ``found``, seen in state ``node`` (or on event ``then`` from it)."""
        for ident, message in found:
            self.counts[ident] += 1
            if ident not in self.first:
                path = self.graph.path(node)
                if then is not None:
                    path.append(then.label)
                self.first[ident] = Violation(ident, message, path)


def explore(
    max_sessions: int = 2,
    max_jobs: int = 3,
    *,
    check: StateCheck | None = None,
    on_progress: Callable[[int], None] | None = None,
    dispatch: DispatchRule = select,
    variant: Variant = REAL_RULES,
    progress_every: int = 10_000,
) -> ExplorationResult:
    """Explore every abstract state within the bounds and check the invariants on all of them.

    ``check`` adds a check on every state; ``on_progress`` is called with the number of
    states found every ``progress_every`` states. ``dispatch`` and ``variant`` replace
    the real rules, for tests that plant a bug.
    """
    began = time.perf_counter()
    rules = Rules(max_sessions, max_jobs, dispatch=dispatch, variant=variant)
    checker = Checker(check)
    graph = _Graph()
    report = _Report(graph)
    report.add(checker.state(INITIAL), 0)
    notify = None if on_progress is None else (on_progress, progress_every)
    with _cyclic_gc_paused():
        transitions = _breadth_first(rules, checker, graph, report, notify)
        _check_progress(graph, checker, report)
    if on_progress is not None:
        on_progress(len(graph.states))
    return ExplorationResult(
        max_sessions=max_sessions,
        max_jobs=max_jobs,
        states=len(graph.states),
        transitions=transitions,
        seconds=time.perf_counter() - began,
        depth=max(graph.depth),
        checks=checker.counts,
        violations=list(report.first.values()),
        violation_counts=dict(report.counts),
        events=checker.transitions_by_kind,
        rules=_rules_name(dispatch, variant),
    )


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic collector: it would rescan the ever-growing graph of state tuples
    (about 10% of the time at the default bound); exploring makes no reference cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _breadth_first(rules: Rules, checker: Checker, graph: _Graph, report: _Report,
                   notify: tuple[Callable[[int], None], int] | None) -> int:
    """Expand every state in BFS order, checking as it goes; return the transition count."""
    transitions = 0
    index, system_preds = graph.index, graph.system_preds
    todo = deque([0])
    while todo:
        n = todo.popleft()
        pre = graph.states[n]
        outcomes = rules.successors(pre)
        found = checker.enabled(pre, [o.event for o in outcomes])
        if found:
            report.add(found, n)
        transitions += len(outcomes)
        for out in outcomes:
            found = checker.transition(pre, out)
            if found:
                report.add(found, n, out.event)
            post = out.post
            if post is None:
                continue  # the model refused a system step: no successor
            m = index.get(post)
            if m is None:
                m = graph.add(post, n, out.event)
                todo.append(m)
                found = checker.state(post)
                if found:
                    report.add(found, m)
                if notify is not None and (m + 1) % notify[1] == 0:
                    notify[0](m + 1)
            if out.event.kind in SYSTEM_EVENTS:
                system_preds[m].append(n)
    return transitions


def _rules_name(dispatch: DispatchRule, variant: Variant) -> str:
    if dispatch is select:
        return variant.name
    return f"{variant.name} with dispatch {getattr(dispatch, '__name__', repr(dispatch))}"


def _check_progress(graph: _Graph, checker: Checker, report: _Report) -> None:
    """INV-PROGRESS: walk system edges backwards from the states where every job is final."""
    checker.progress_checks += len(graph.states)
    done = [s.all_final for s in graph.states]
    todo = deque(n for n, ok in enumerate(done) if ok)
    while todo:
        for p in graph.system_preds[todo.popleft()]:
            if not done[p]:
                done[p] = True
                todo.append(p)
    for n, ok in enumerate(done):  # BFS numbering: the first is a shortest path
        if not ok:
            state = graph.states[n]
            message = f"no sequence of system events ends every job from {state.describe()}"
            report.add([(_PROGRESS, message)], n)


# -- replaying a path --------------------------------------------------------------------


class ReplayError(ValueError):
    """A path names an event that is not enabled (or that the model refuses) where it occurs."""


def _step(rules: Rules, state: State, label: str) -> Outcome:
    for event in rules.candidates(state):
        if event.label == label:
            outcome = rules.apply(state, event)
            if outcome is not None:
                return outcome
    raise ReplayError(f"{label} is not enabled in {state.describe()}")


def replay(path: Iterable[str], *, dispatch: DispatchRule = select,
           variant: Variant = REAL_RULES) -> list[State]:
    """The states a path of event labels goes through, the initial state first."""
    rules = Rules(dispatch=dispatch, variant=variant)
    states = [INITIAL]
    for label in path:
        outcome = _step(rules, states[-1], label)
        if outcome.post is None:
            raise ReplayError(f"{label}: the model refused a system step: {outcome.refusal}")
        states.append(outcome.post)
    return states


def check_path(path: Iterable[str], *, dispatch: DispatchRule = select,
               variant: Variant = REAL_RULES) -> list[tuple[str, str]]:
    """Re-run a path and return every violation met on it, INV-PROGRESS at its end included."""
    rules = Rules(dispatch=dispatch, variant=variant)
    checker = Checker()
    state = INITIAL
    found = checker.state(state)
    for label in path:
        found += checker.enabled(state, rules.candidates(state))
        outcome = _step(rules, state, label)
        found += checker.transition(state, outcome)
        if outcome.post is None:
            return found
        state = outcome.post
        found += checker.state(state)
    found += checker.enabled(state, rules.candidates(state))
    if not _reaches_all_final(rules, state):
        found.append((_PROGRESS, f"no sequence of system events ends every job from "
                                 f"{state.describe()}"))
    return found


def _reaches_all_final(rules: Rules, start: State) -> bool:
    seen = {start}
    todo = deque([start])
    while todo:
        state = todo.popleft()
        if state.all_final:
            return True
        for out in rules.successors(state):
            if out.event.is_system and out.post is not None and out.post not in seen:
                seen.add(out.post)
                todo.append(out.post)
    return False
