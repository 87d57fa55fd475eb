"""Declarative lifecycle tables: the one place where states, events, guards and rows are written.

A table is plain data. The transitions ``Machine`` (``model.lifecycle``), the diagram
export (``model.diagram``), the documentation and the explorer (``properties``) all read
it; none of them restates a rule.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import cast


@dataclass(frozen=True)
class StateSpec:
    """One state of a lifecycle, with what it means in words."""

    name: str
    doc: str
    final: bool = False


@dataclass(frozen=True)
class EventSpec:
    """One event: its trigger name, the verb phrase used in refusals, and the facts it needs.

    ``facts`` are the keyword arguments the caller must pass when firing the event; guards
    read them. ``phrase`` completes "session 7 is expired; cannot ...".
    """

    name: str
    phrase: str
    doc: str
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class GuardSpec:
    """A named predicate over the lifecycle object and the event's facts.

    ``refusal`` explains, after "cannot <phrase>:", why the event is refused when the
    guard does not hold; ``negated_refusal`` does the same when it is used in ``unless``.
    """

    name: str
    doc: str
    refusal: str
    negated_refusal: str


@dataclass(frozen=True)
class Row:
    """One transition: ``event`` from each of ``sources`` to ``dest`` when the guards allow.

    ``dest=None`` is an internal transition: the event is allowed and its effects run but
    the state does not change. ``conditions`` must all hold and ``unless`` must all fail.
    ``effects`` name methods of the lifecycle object run after the state changes.
    """

    event: str
    sources: tuple[str, ...]
    dest: str | None
    conditions: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    note: str = ""

    def targets(self, source: str) -> str:
        """The state this row leads to from ``source`` (itself for an internal row)."""
        return source if self.dest is None else self.dest


class TableError(ValueError):
    """A lifecycle table is malformed (unknown names, unreachable states, exits from finals)."""


@dataclass(frozen=True)
class LifecycleTable:
    """A complete lifecycle: states, events, guards and the ordered transition rows.

    Rows are tried in order for a (state, event) pair; the first whose guards hold wins.
    """

    kind: str
    states: tuple[StateSpec, ...]
    initial: str
    events: tuple[EventSpec, ...]
    guards: tuple[GuardSpec, ...]
    rows: tuple[Row, ...]
    _index: dict[tuple[str, str], tuple[Row, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )
    def __post_init__(self) -> None:
        self._check_names()
        index: dict[tuple[str, str], list[Row]] = {}
        for row in self.rows:
            for source in row.sources:
                index.setdefault((source, row.event), []).append(row)
        object.__setattr__(self, "_index", {k: tuple(v) for k, v in index.items()})
        self._check_finals()
        self._check_reachable()
        self._check_guarded_alternatives()

    # -- queries -------------------------------------------------------------------------

    # Derived once (a table is immutable): the runtime's hot paths (``Lifecycle.fire``,
    # ``is_final``) read these on every event.
    @cached_property
    def state_names(self) -> tuple[str, ...]:
        """State names in table order."""
        return tuple(s.name for s in self.states)

    @cached_property
    def event_names(self) -> tuple[str, ...]:
        """Event names in table order."""
        return tuple(e.name for e in self.events)

    @cached_property
    def final_states(self) -> frozenset[str]:
        """Names of the states with no way out."""
        return frozenset(s.name for s in self.states if s.final)

    @cached_property
    def _specs(self) -> dict[tuple[str, str], StateSpec | EventSpec | GuardSpec]:
        """Every spec by (what, name); names are unique per kind (``_check_names``)."""
        out: dict[tuple[str, str], StateSpec | EventSpec | GuardSpec] = {}
        for what, specs in (("state", self.states), ("event", self.events),
                            ("guard", self.guards)):
            for spec in specs:
                out[(what, spec.name)] = spec
        return out

    def _spec(self, what: str, name: str) -> StateSpec | EventSpec | GuardSpec:
        try:
            return self._specs[(what, name)]
        except (KeyError, TypeError):
            raise KeyError(f"{self.kind} lifecycle has no {what} {name!r}") from None

    def state(self, name: str) -> StateSpec:
        """The spec of state ``name``."""
        return cast(StateSpec, self._spec("state", name))

    def event(self, name: str) -> EventSpec:
        """The spec of event ``name``."""
        return cast(EventSpec, self._spec("event", name))

    def guard(self, name: str) -> GuardSpec:
        """The spec of guard ``name``."""
        return cast(GuardSpec, self._spec("guard", name))

    def rows_for(self, state: str, event: str) -> tuple[Row, ...]:
        """The rows that may fire ``event`` in ``state``, in priority order (empty: refused)."""
        return self._index.get((state, event), ())

    def allowed_pairs(self) -> frozenset[tuple[str, str]]:
        """Every (state, event) pair that has at least one row."""
        return frozenset(self._index)

    def forbidden_pairs(self) -> Iterator[tuple[str, str]]:
        """Every (state, event) pair with no row: the event is refused whatever the facts."""
        allowed = self.allowed_pairs()
        for state in self.state_names:
            for event in self.event_names:
                if (state, event) not in allowed:
                    yield state, event

    def edges(self) -> Iterator[tuple[str, Row, str]]:
        """Every (source, row, target) triple, expanding rows with several sources."""
        for row in self.rows:
            for source in row.sources:
                yield source, row, row.targets(source)

    # -- validation ----------------------------------------------------------------------

    def _check_names(self) -> None:
        states = self.state_names
        events = self.event_names
        guards = {g.name for g in self.guards}
        for label, names in (("state", states), ("event", events), ("guard", list(guards))):
            if len(set(names)) != len(names):
                raise TableError(f"{self.kind} table: duplicate {label} names in {names}")
        if self.initial not in states:
            raise TableError(f"{self.kind} table: initial state {self.initial!r} is not a state")
        overlap = set(states) & set(events)
        if overlap:
            raise TableError(f"{self.kind} table: names used both as state and event: {overlap}")
        for row in self.rows:
            if row.event not in events:
                raise TableError(f"{self.kind} table: row uses unknown event {row.event!r}")
            for source in row.sources:
                if source not in states:
                    raise TableError(
                        f"{self.kind} table: {row.event!r} leaves unknown state {source!r}"
                    )
            if row.dest is not None and row.dest not in states:
                raise TableError(f"{self.kind} table: {row.event!r} enters unknown {row.dest!r}")
            for name in (*row.conditions, *row.unless):
                if name not in guards:
                    raise TableError(
                        f"{self.kind} table: {row.event!r} uses undeclared guard {name!r}"
                    )

    def _check_finals(self) -> None:
        finals = self.final_states
        for row in self.rows:
            exits = finals.intersection(row.sources)
            if exits:
                raise TableError(
                    f"{self.kind} table: final state(s) {sorted(exits)} have an exit "
                    f"through {row.event!r}; final states must have none"
                )

    def _check_reachable(self) -> None:
        seen = {self.initial}
        todo = deque([self.initial])
        while todo:
            state = todo.popleft()
            for source, _row, target in self.edges():
                if source == state and target not in seen:
                    seen.add(target)
                    todo.append(target)
        missing = [s for s in self.state_names if s not in seen]
        if missing:
            raise TableError(f"{self.kind} table: states unreachable from {self.initial!r}: "
                             f"{missing}")

    def _check_guarded_alternatives(self) -> None:
        # With several rows for one (state, event), all but the last must be guarded,
        # otherwise the later rows can never fire.
        for (state, event), rows in self._index.items():
            for row in rows[:-1]:
                if not row.conditions and not row.unless:
                    raise TableError(
                        f"{self.kind} table: unguarded row for {event!r} in {state!r} "
                        "shadows the rows after it"
                    )


def expand(sources: str | Iterable[str]) -> tuple[str, ...]:
    """Normalise one state name or several into a tuple (table-writing helper)."""
    return (sources,) if isinstance(sources, str) else tuple(sources)
