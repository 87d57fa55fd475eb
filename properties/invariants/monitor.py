"""The registry of invariants and the runners: ``check`` over a trace, ``Monitor`` as it grows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qsession.runtime import Record, Trace

from ..replay import Replay
from .accounting import FairShare, Usage
from .base import Checker, Violation
from .durability import Durable
from .integrity import Conservation, IdsUnique, Time
from .lifecycle import (
    ITTL,
    ActiveOne,
    Cancel,
    Clock,
    CloseDrains,
    ClosedRejects,
    ExpireFailsQueued,
    Final,
    IdleClose,
    MaxTTLNoStart,
    ModelConforms,
    RunningCompletes,
)
from .scheduling import (
    BatchNoHold,
    DispatchOrder,
    FirstJobNormal,
    Priority,
    Progress,
    WorkConserving,
)

if TYPE_CHECKING:
    from ..oracle import Expected


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
    IdsUnique, Durable,
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
            out.setdefault(v.invariant, []).append(v)
        return out


class Monitor:
    """Checks invariants on a trace as it grows (feed it the new records after each step).

    ``expected``: the caller's own configuration (``properties.oracle.Expected``): the
    checkers then hold the runtime to it, and a record that disagrees with it is reported.
    """

    def __init__(self, ids: Iterable[str] | None = None, *, clock: str = "virtual",
                 expected: Expected | None = None) -> None:
        chosen = list(INVARIANTS) if ids is None else list(ids)
        unknown = [i for i in chosen if i not in INVARIANTS]
        if unknown:
            raise KeyError(f"unknown invariant id(s) {unknown}; ids are {list(INVARIANTS)}")
        self.checkers = [INVARIANTS[i].checker() for i in chosen]
        # A record naming an object no record created is INV-TIME's to report; the other
        # checkers look objects up by id and are not shown it.
        self._dangling_checkers = [c for c in self.checkers if isinstance(c, Time)]
        self.state = Replay(expected)
        self.state.clock = clock
        self.expected = expected
        self.configured: list[Violation] = []
        """Records that disagree with ``expected``."""
        self._instant: int | None = None
        self.fed = 0

    def feed(self, records: Sequence[Record]) -> None:
        """Replay ``records`` (the ones not fed yet, in order)."""
        for r in records:
            self._reach(r.t)
            if self.expected is not None:
                self.configured.extend(self.expected.record_violations(r))
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
        checks = {c.id: c.checks for c in self.checkers}
        if self.expected is not None:
            checks["configuration"] = self.expected.checks
        return Report([*self.configured, *(v for c in self.checkers for v in c.violations)],
                      checks)


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
