"""The explorer's rules: one event on real lifecycle objects, then eager dispatch.

``Rules`` fires every session and job move on real ``SessionLifecycle``/``JobLifecycle``
objects rebuilt from the abstract state, and asks the dispatch rule until the QPU is busy
or idles. ``Variant`` is the seam through which tests plant a wrong rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from qsession.model import (
    ACTIVE,
    COUPLING,
    JOB_TABLE,
    PENDING,
    QUEUED,
    SESSION_TABLE,
    Coupling,
    Decision,
    JobLifecycle,
    Mode,
    SessionLifecycle,
    Step,
    TransitionRefused,
    in_normal_queue,
    select,
)

from .state import (
    EVENT_KINDS,
    FINAL_SESSION_STATES,
    MODES,
    Event,
    JobSlot,
    SessionSlot,
    State,
    in_flight_in,
    queued_in,
    submitted_to,
    target_of,
)

DispatchRule = Callable[
    [bool, int | None, Iterable[int | None], Iterable[tuple[float, int, int]]], Decision[int]
]
"""The signature of ``model.dispatch.select`` with jobs named by submission index."""

_FACTS = {spec.name: spec.facts for spec in SESSION_TABLE.events}
"""The facts each session event takes (looked up once, not on every step)."""

# The model's word on which modes hold the QPU, asked once per mode rather than per step.
_RESERVES_QPU = {mode: SessionLifecycle("probe", mode).reserves_qpu for mode in MODES}


# -- injection point for deliberately wrong rules (tests) --------------------------------


class Variant:
    """The rules of timers and refusals the explorer applies beside the model; tests
    subclass it to plant a bug.

    Every method of this base class is the real rule of the semantics. What a session
    event does to its jobs, what a job's start or end tells its session and the batch
    order are not here: they are the model's coupling rules (``Rules(coupling=...)``).
    """

    name = "the real rules"

    def ittl_enabled(self, session: SessionSlot, in_flight: int) -> bool:
        """Whether the ITTL timer of ``session`` can fire now (only when active and idle)."""
        return session.state == ACTIVE and in_flight == 0

    def max_ttl_enabled(self, session: SessionSlot) -> bool:
        """Whether the max-TTL timer can fire now (started, never paused, until it ends)."""
        return session.started and session.state not in FINAL_SESSION_STATES

    def idle_close_enabled(self, session: SessionSlot, submitted: int) -> bool:
        """Whether the idle-close timer can fire now (pending, no job ever submitted)."""
        return session.state == PENDING and submitted == 0

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
        return queued_in(self.jobs, i)

    def in_flight(self, i: int) -> int:
        """The number of session ``i``'s jobs queued or running (the model's ``in_flight``)."""
        return in_flight_in(self.jobs, i)

    def submitted(self, i: int) -> int:
        """The number of jobs ever submitted to session ``i`` (the model's ``submitted``)."""
        return submitted_to(self.jobs, i)


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
    """The system's events on one QPU: the model's tables, its coupling rules, ``select``
    and a ``Variant`` (the timers' preconditions)."""

    def __init__(self, max_sessions: int | None = None, max_jobs: int | None = None, *,
                 dispatch: DispatchRule = select, variant: Variant = REAL_RULES,
                 coupling: Coupling = COUPLING) -> None:
        self.max_sessions = max_sessions
        self.max_jobs = max_jobs
        self.dispatch = dispatch
        self.variant = variant
        self.coupling = coupling
        self._handlers: dict[str, Callable[[_World, Event], None]] = {
            kind: getattr(self, f"_on_{kind}") for kind in EVENT_KINDS
        }

    # -- which events may happen -------------------------------------------------------

    def candidates(self, state: State) -> Iterator[Event]:
        """Events to try from ``state``, in a fixed order (user ones may still be refused)."""
        n_sessions = len(state.sessions)
        if self.max_sessions is None or n_sessions < self.max_sessions:
            for mode in MODES:
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
        self._session_event(w, target_of(event), "close", system=False)

    def _on_cancel(self, w: _World, event: Event) -> None:
        self._session_event(w, target_of(event), "cancel", system=False)

    def _on_cancel_job(self, w: _World, event: Event) -> None:
        k = target_of(event)
        w.fire_job(k, "cancel", system=False)
        if k == w.running and self.variant.frees_qpu_on_cancel():
            w.running = None
        self._job_left(w, k, "cancel")

    def _on_finish(self, w: _World, event: Event) -> None:
        self._run_ended(w, target_of(event), "finish")

    def _on_fail(self, w: _World, event: Event) -> None:
        self._run_ended(w, target_of(event), "fail")

    def _on_ittl(self, w: _World, event: Event) -> None:
        self._session_event(w, target_of(event), "ittl_elapsed", system=True)

    def _on_idle_close(self, w: _World, event: Event) -> None:
        self._session_event(w, target_of(event), "idle_close_elapsed", system=True)

    def _on_max_ttl(self, w: _World, event: Event) -> None:
        self._session_event(w, target_of(event), "max_time_reached", system=True)

    # -- consequences: the model's coupling rules ------------------------------------------

    def _session_event(self, w: _World, i: int, event: str, *, system: bool) -> Step:
        """Fire a session event with the facts it takes, then do to the session's jobs
        what the coupling rules say that event does."""
        facts: dict[str, int] = {}
        for name in _FACTS[event]:
            facts[name] = w.in_flight(i) if name == "in_flight" else w.submitted(i)
        step = w.fire_session(i, event, system=system, **facts)
        self._session_step(w, i, step)
        rule = self.coupling.session_rule(event)
        if rule.queued is not None:
            for k in w.queued(i):
                w.fire_job(k, rule.queued, system=True)
                self._job_left(w, k, rule.queued)
        r = w.running
        if rule.running is not None and r is not None and w.jobs[r].owner == i:
            self._run_ended(w, r, rule.running)
        return step

    def _run_ended(self, w: _World, k: int, event: str) -> None:
        w.fire_job(k, event, system=True)
        w.running = None
        self._job_left(w, k, event)

    def _job_left(self, w: _World, k: int, event: str) -> None:
        """Tell the job's session what the coupling rules say a job's ``event`` tells it
        (nothing once the session has ended)."""
        i = w.jobs[k].owner
        told = self.coupling.session_event_of(event)
        if i is None or told is None or w.session(i).is_final:
            return
        self._session_event(w, i, told, system=True)

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
            told = self.coupling.session_event_of("start")
            if i is not None and told is not None:
                step = self._session_event(w, i, told, system=True)
                if step.changed:
                    w.mark_started(i)

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
            # Active batches in the model's batch order (``batches`` keeps the order of
            # first starts: a batch's rank there stands for its first start's instant).
            order = self.coupling.batch_order
            active = sorted((rank, b) for rank, b in enumerate(w.batches)
                            if w.sessions[b].state == ACTIVE)
            for _, b in sorted(active, key=lambda rb: order(rb[0], rb[1], f"s{rb[1]}")):
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
