"""Bounded breadth-first exploration of the model's abstract state space, invariant by invariant.

The explorer enumerates every abstract state of one QPU reachable with at most
``max_sessions`` sessions or batches and ``max_jobs`` jobs, and checks the invariants that
apply to an abstract state on every state and every transition. It returns, for each
violated invariant, the shortest event path from the empty QPU.

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

The package: ``state`` (the abstract state and events), ``rules`` (one event on real
lifecycles, then dispatch), ``checks`` (the invariants on states and transitions),
``search`` (breadth-first exploration, replaying a path).
"""

from __future__ import annotations

from .checks import APPLICABLE, NOT_APPLICABLE, Checker, Found, StateCheck
from .rules import REAL_RULES, DispatchRule, Outcome, Rules, Variant
from .search import ExplorationResult, ReplayError, Violation, check_path, explore, replay
from .state import (
    EVENT_KINDS,
    INITIAL,
    SYSTEM_EVENTS,
    USER_EVENTS,
    Event,
    EventKind,
    JobSlot,
    SessionSlot,
    State,
)

__all__ = [
    "APPLICABLE", "EVENT_KINDS", "INITIAL", "NOT_APPLICABLE", "REAL_RULES", "SYSTEM_EVENTS",
    "USER_EVENTS", "Checker", "DispatchRule", "Event", "EventKind", "ExplorationResult",
    "Found", "JobSlot", "Outcome", "ReplayError", "Rules", "SessionSlot", "State",
    "StateCheck", "Variant", "Violation", "check_path", "explore", "replay",
]
