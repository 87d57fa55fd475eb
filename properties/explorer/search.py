"""Breadth-first search of the abstract state space, its result, and replaying a path.

``explore`` expands every state within the bounds in BFS order (so the first violation of
each invariant found has a shortest path), then checks INV-PROGRESS backwards over the
system-event edges. ``replay`` and ``check_path`` re-run a path of event labels.
"""

from __future__ import annotations

import gc
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from qsession.model import (
    COUPLING,
    Coupling,
    select,
)

from .checks import PROGRESS, Checker, Found, StateCheck
from .rules import REAL_RULES, DispatchRule, Outcome, Rules, Variant
from .state import INITIAL, SYSTEM_EVENTS, Event, State


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
    coupling: Coupling = COUPLING,
    progress_every: int = 10_000,
) -> ExplorationResult:
    """Explore every abstract state within the bounds and check the invariants on all of them.

    ``check`` adds a check on every state; ``on_progress`` is called with the number of
    states found every ``progress_every`` states. ``dispatch``, ``variant`` and
    ``coupling`` replace the real rules, for tests that plant a bug.
    """
    began = time.perf_counter()
    rules = Rules(max_sessions, max_jobs, dispatch=dispatch, variant=variant,
                  coupling=coupling)
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
        rules=_rules_name(dispatch, variant, coupling),
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


def _rules_name(dispatch: DispatchRule, variant: Variant, coupling: Coupling) -> str:
    names = [part for part in (variant.name, coupling.name) if part != REAL_RULES.name]
    name = " and ".join(names) or REAL_RULES.name
    if dispatch is select:
        return name
    return f"{name} with dispatch {getattr(dispatch, '__name__', repr(dispatch))}"


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
            report.add([(PROGRESS, message)], n)


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
           variant: Variant = REAL_RULES, coupling: Coupling = COUPLING) -> list[State]:
    """The states a path of event labels goes through, the initial state first."""
    rules = Rules(dispatch=dispatch, variant=variant, coupling=coupling)
    states = [INITIAL]
    for label in path:
        outcome = _step(rules, states[-1], label)
        if outcome.post is None:
            raise ReplayError(f"{label}: the model refused a system step: {outcome.refusal}")
        states.append(outcome.post)
    return states


def check_path(path: Iterable[str], *, dispatch: DispatchRule = select,
               variant: Variant = REAL_RULES,
               coupling: Coupling = COUPLING) -> list[tuple[str, str]]:
    """Re-run a path and return every violation met on it, INV-PROGRESS at its end included."""
    rules = Rules(dispatch=dispatch, variant=variant, coupling=coupling)
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
        found.append((PROGRESS, f"no sequence of system events ends every job from "
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
