"""What every invariant checker shares: the violation, the replay hooks, two shared shapes.

``Checker`` is watched through a trace's replay (``properties.replay``): ``before`` and
``after`` each record, ``instant_end`` once an instant has settled, ``time_passes`` when
time jumps past a deadline with no record, ``finish`` at the end of the trace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from qsession.runtime import Record

from ..replay import Replay, SessionView


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


class EndsQueued(Checker):
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


class Deadline(Checker):
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


def seconds(us: object) -> str:
    """Microseconds as seconds for a message (anything else as its repr)."""
    return f"{us / 1e6:g}s" if isinstance(us, int) else repr(us)
