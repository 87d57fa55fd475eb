"""The bounded explorer: the real rules keep every invariant; planted bugs are found, shortest."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

import pytest

from qsession.model import COUPLING, DONE, INACTIVE, Coupling
from qsession.model.dispatch import Decision, select
from qsession.properties.explorer import (
    APPLICABLE,
    EVENT_KINDS,
    NOT_APPLICABLE,
    DispatchRule,
    ExplorationResult,
    ReplayError,
    SessionSlot,
    State,
    Variant,
    check_path,
    explore,
    replay,
)

CATALOGUE_IDS = {
    "INV-ACTIVE-ONE",
    "INV-MAXTTL-NOSTART",
    "INV-EXPIRE-FAILS-QUEUED",
    "INV-RUNNING-COMPLETES",
    "INV-CANCEL",
    "INV-CLOSED-REJECTS",
    "INV-CLOSE-DRAINS",
    "INV-FIRST-JOB-NORMAL",
    "INV-PRIORITY",
    "INV-ITTL",
    "INV-CLOCK",
    "INV-FINAL",
    "INV-CONSERVATION",
    "INV-WORK-CONSERVING",
    "INV-FAIR-SHARE",
    "INV-MODEL-CONFORMS",
    "INV-PROGRESS",
    "INV-BATCH-NO-HOLD",
    "INV-IDLE-CLOSE",
    "INV-USAGE",
}

# Pinned sizes of the abstract state space: a change in the model's semantics (or in the
# abstraction) moves them, and must be looked at. The idle close (rev. 2) added transitions
# (364,040 → 379,882; 1,326 → 1,364) but no state: a pending session closed unused is
# the state close() of an unused pending session already reached.
DEFAULT_STATES, DEFAULT_TRANSITIONS, DEFAULT_DEPTH = 103_767, 379_882, 10
SMALL_STATES, SMALL_TRANSITIONS = 571, 1_364


@pytest.fixture(scope="module")
def default() -> ExplorationResult:
    """The default bound (2 sessions × 3 jobs), explored once for the whole module."""
    return explore()


# -- the real rules ----------------------------------------------------------------------


@pytest.mark.heavy  # the exhaustive exploration
def test_default_bound_has_no_violation(default: ExplorationResult) -> None:
    assert default.ok, default.summary()
    assert (default.max_sessions, default.max_jobs) == (2, 3)
    assert default.states == DEFAULT_STATES
    assert default.transitions == DEFAULT_TRANSITIONS
    assert default.depth == DEFAULT_DEPTH
    assert default.violation_counts == {}
    print(default.summary())  # shown with -s: states, transitions, seconds, states/s


@pytest.mark.heavy  # the exhaustive exploration
def test_every_applicable_invariant_is_checked(default: ExplorationResult) -> None:
    assert set(default.checks) == set(APPLICABLE)
    assert all(n > 0 for n in default.checks.values()), default.checks
    assert default.checks["INV-PROGRESS"] == default.states
    assert default.checks["INV-FINAL"] == default.transitions


@pytest.mark.heavy  # the exhaustive exploration
def test_every_event_kind_occurs(default: ExplorationResult) -> None:
    assert set(default.events) == set(EVENT_KINDS)
    assert all(n > 0 for n in default.events.values()), default.events
    assert sum(default.events.values()) == default.transitions


def test_invariant_catalogue_is_covered_exactly() -> None:
    assert set(APPLICABLE) | set(NOT_APPLICABLE) == CATALOGUE_IDS
    assert not set(APPLICABLE) & set(NOT_APPLICABLE)
    assert set(NOT_APPLICABLE) == {"INV-FAIR-SHARE", "INV-USAGE"}
    assert all(APPLICABLE.values()) and all(NOT_APPLICABLE.values())


def test_small_bound_is_fast_and_stable() -> None:
    began = time.perf_counter()
    result = explore(1, 2)
    assert time.perf_counter() - began < 1.0
    assert result.ok, result.summary()
    assert (result.states, result.transitions) == (SMALL_STATES, SMALL_TRANSITIONS)


def test_exploration_is_deterministic() -> None:
    first, second = explore(1, 2, dispatch=_no_priority), explore(1, 2, dispatch=_no_priority)
    assert [(v.invariant, v.message, v.path) for v in first.violations] == [
        (v.invariant, v.message, v.path) for v in second.violations
    ]
    assert (first.states, first.transitions) == (second.states, second.transitions)


def test_progress_callback_sees_growing_counts() -> None:
    seen: list[int] = []
    result = explore(1, 2, on_progress=seen.append, progress_every=100)
    assert seen == sorted(seen)
    assert seen[-1] == result.states
    assert len(seen) >= result.states // 100


def test_extra_check_finds_a_shortest_witness() -> None:
    # A reachability question asked as a check: the shortest way to finish two jobs.
    def two_done(state: State) -> Iterable[tuple[str, str]]:
        if sum(job.status == DONE for job in state.jobs) >= 2:
            yield "GOAL", "two jobs are DONE"

    result = explore(1, 2, check=two_done)
    witness = result.violation("GOAL")
    assert witness is not None
    assert witness.path == ["submit(job)", "submit(job)", "finish(j0)", "finish(j1)"]


# -- replay ------------------------------------------------------------------------------


def test_replay_walks_the_real_rules() -> None:
    path = ["open(dedicated)", "submit(s0)", "finish(j0)", "ittl(s0)"]
    states = replay(path)
    assert len(states) == len(path) + 1
    last = states[-1]
    assert last.sessions == (SessionSlot("dedicated", INACTIVE, True, True),)
    assert [job.status for job in last.jobs] == [DONE]
    assert last.running is None and not last.held
    assert states[3].held  # idle and active: the QPU is reserved within the ITTL
    assert check_path(path) == []


def test_replay_refuses_events_that_are_not_enabled() -> None:
    with pytest.raises(ReplayError, match=r"submit\(s0\) is not enabled"):
        replay(["submit(s0)"])
    with pytest.raises(ReplayError, match=r"is not enabled"):
        replay(["open(dedicated)", "close(s0)", "submit(s0)"])  # INV-CLOSED-REJECTS
    with pytest.raises(ReplayError, match=r"ittl\(s0\) is not enabled"):
        replay(["open(dedicated)", "submit(s0)", "ittl(s0)"])  # a job still runs


# -- proof of teeth: planted bugs --------------------------------------------------------


def _no_priority(active: bool, head: int | None, batches: Iterable[int | None],
                 normal: Iterable[tuple[float, int, int]]) -> Decision[int]:
    """Bug: the active dedicated session gets no priority (and no hold)."""
    return select(False, head, batches, normal)


def _batch_holds(active: bool, head: int | None, batches: Iterable[int | None],
                 normal: Iterable[tuple[float, int, int]]) -> Decision[int]:
    """Bug: an active batch with nothing queued holds the QPU like a dedicated session."""
    heads = list(batches)
    if not active and None in heads:
        return Decision("hold")
    return select(active, head, heads, normal)


def _normal_lifo(active: bool, head: int | None, batches: Iterable[int | None],
                 normal: Iterable[tuple[float, int, int]]) -> Decision[int]:
    """Bug: the normal queue is served newest first."""
    decision = select(active, head, batches, [])
    waiting = list(normal)
    if decision.action != "idle" or not waiting:
        return decision
    return Decision("start", max(waiting)[2], "normal")


def _no_normal(active: bool, head: int | None, batches: Iterable[int | None],
               normal: Iterable[tuple[float, int, int]]) -> Decision[int]:
    """Bug: the normal queue is never served."""
    return select(active, head, batches, [])


# Wrong coupling rules are planted as data: a changed copy of the model's COUPLING.
_QUEUED_SURVIVE_EXPIRY = COUPLING.with_session_rule(
    "max_time_reached", name="queued jobs stay QUEUED at expiry")
_CANCEL_STOPS_RUNNING = COUPLING.with_session_rule(
    "cancel", queued="cancel", running="cancel", name="cancel() also cancels the running job")
_CLOSE_CANCELS_QUEUED = COUPLING.with_session_rule(
    "close", queued="cancel", name="close() cancels the queued jobs")
_CANCEL_FAILS_QUEUED = COUPLING.with_session_rule(
    "cancel", queued="expire", name="cancel() marks queued jobs ERROR")
_BATCHES_LATEST_FIRST = replace(
    COUPLING, batch_order=lambda started, created, ident: (-started, -created, ident),
    name="the latest started batch is served first")


class _ITTLIgnoresWork(Variant):
    name = "ITTL fires while jobs are queued or running"

    def ittl_enabled(self, session: SessionSlot, in_flight: int) -> bool:
        return session.state == "active"


class _SubmitAfterClose(Variant):
    name = "a refused submit still creates a job"

    def submit_when_refused(self) -> bool:
        return True


class _ClockPausesWhileInactive(Variant):
    name = "the max-TTL clock pauses while inactive"

    def max_ttl_enabled(self, session: SessionSlot) -> bool:
        return session.state == "active"


class _ClockRunsFromCreation(Variant):
    name = "the max-TTL clock starts at creation"

    def max_ttl_enabled(self, session: SessionSlot) -> bool:
        return session.state in ("pending", "active", "inactive")


class _CancelJobKeepsQPU(Variant):
    name = "cancelling the running job does not free the QPU"

    def frees_qpu_on_cancel(self) -> bool:
        return False


class _IdleCloseAfterUse(Variant):
    name = "an unused-session close also closes sessions with jobs"

    def idle_close_enabled(self, session: SessionSlot, submitted: int) -> bool:
        return session.state == "pending"


class _IdleCloseNever(Variant):
    name = "an unused session never closes"

    def idle_close_enabled(self, session: SessionSlot, submitted: int) -> bool:
        return False


Bug = tuple[str, DispatchRule, Variant, Coupling, tuple[int, int], str, int]
_REAL = Variant()

BUGS: list[Bug] = [
    # name, dispatch, variant, coupling, bound, invariant, shortest path length
    ("priority ignored", _no_priority, _REAL, COUPLING, (1, 2), "INV-PRIORITY", 4),
    ("batch holds the QPU", _batch_holds, _REAL, COUPLING, (1, 2), "INV-BATCH-NO-HOLD", 4),
    ("normal queue LIFO", _normal_lifo, _REAL, COUPLING, (0, 3), "INV-FIRST-JOB-NORMAL", 4),
    ("normal queue starved", _no_normal, _REAL, COUPLING, (1, 2), "INV-PROGRESS", 1),
    ("queued kept at expiry", select, _REAL, _QUEUED_SURVIVE_EXPIRY, (1, 2),
     "INV-EXPIRE-FAILS-QUEUED", 4),
    ("cancel stops running", select, _REAL, _CANCEL_STOPS_RUNNING, (1, 2),
     "INV-RUNNING-COMPLETES", 3),
    ("ITTL with work", select, _ITTLIgnoresWork(), COUPLING, (1, 2), "INV-ITTL", 3),
    ("close cancels queued", select, _REAL, _CLOSE_CANCELS_QUEUED, (1, 2),
     "INV-CLOSE-DRAINS", 4),
    ("submit after close", select, _SubmitAfterClose(), COUPLING, (1, 2),
     "INV-CLOSED-REJECTS", 3),
    ("clock pauses", select, _ClockPausesWhileInactive(), COUPLING, (1, 2), "INV-CLOCK", 4),
    ("clock from creation", select, _ClockRunsFromCreation(), COUPLING, (1, 1), "INV-CLOCK", 2),
    ("cancel fails queued", select, _REAL, _CANCEL_FAILS_QUEUED, (1, 2), "INV-CANCEL", 4),
    ("QPU kept after job cancel", select, _CancelJobKeepsQPU(), COUPLING, (0, 1),
     "INV-CONSERVATION", 2),
    # open(dedicated) → open(dedicated) → submit(s0) → submit(s1): s1 pending with a job
    ("idle close after use", select, _IdleCloseAfterUse(), COUPLING, (2, 2),
     "INV-IDLE-CLOSE", 4),
    ("idle close never", select, _IdleCloseNever(), COUPLING, (1, 0), "INV-IDLE-CLOSE", 1),
]


@pytest.mark.parametrize(("dispatch", "variant", "coupling", "bound", "invariant", "length"),
                         [bug[1:] for bug in BUGS], ids=[bug[0] for bug in BUGS])
def test_planted_bug_is_found_with_a_shortest_path(
    dispatch: DispatchRule, variant: Variant, coupling: Coupling, bound: tuple[int, int],
    invariant: str, length: int,
) -> None:
    result = explore(*bound, dispatch=dispatch, variant=variant, coupling=coupling)
    found = result.violation(invariant)
    assert found is not None, result.summary()
    assert len(found.path) == length, found
    # The path replays, under the same rules, to the same violation.
    assert invariant in {ident for ident, _ in check_path(found.path, dispatch=dispatch,
                                                          variant=variant, coupling=coupling)}


def test_the_explorer_executes_the_models_batch_order() -> None:
    # Two batches started one after the other, then one job queued in each: the real
    # order serves the first started first; a coupling whose batch order is reversed
    # serves the latest started first.
    path = ["open(batch)", "open(batch)", "submit(s0)", "submit(s1)", "finish(j0)",
            "submit(s0)", "submit(s1)", "finish(j1)"]
    real = replay(path)[-1]
    reversed_order = replay(path, coupling=_BATCHES_LATEST_FIRST)[-1]
    assert real.batches == reversed_order.batches == (0, 1)
    assert real.running == 2  # s0's job: s0 started first
    assert reversed_order.running == 3  # s1's job


def test_priority_bug_counterexample() -> None:
    found = explore(1, 2, dispatch=_no_priority).violation("INV-PRIORITY")
    assert found is not None
    assert found.path == ["open(dedicated)", "submit(s0)", "submit(job)", "finish(j0)"]
    assert "j1 started while dedicated s0 was active" in found.message
    assert check_path(found.path) == []  # the same events under the real rules are fine


def test_cancel_bug_counterexample() -> None:
    found = explore(1, 2, coupling=_CANCEL_STOPS_RUNNING).violation("INV-RUNNING-COMPLETES")
    assert found is not None
    assert found.path == ["open(dedicated)", "submit(s0)", "cancel(s0)"]
    states = replay(found.path, coupling=_CANCEL_STOPS_RUNNING)
    assert states[-1].jobs[0].status == "CANCELLED"
    assert replay(found.path)[-1].jobs[0].status == "RUNNING"


def test_model_refusal_is_reported_and_not_replayable() -> None:
    result = explore(1, 1, variant=_ClockRunsFromCreation())
    refused = result.violation("INV-MODEL-CONFORMS")
    assert refused is not None
    assert refused.path == ["open(dedicated)", "max_ttl(s0)"]
    assert "pending; cannot expire" in refused.message
    with pytest.raises(ReplayError, match="refused a system step"):
        replay(refused.path, variant=_ClockRunsFromCreation())
