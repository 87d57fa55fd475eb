"""Run a lifecycle table on a real ``transitions`` machine, refusing what the table refuses.

One ``Machine`` is built per table (lazily, once) and shared by every lifecycle object of
that kind. Objects are not registered with the machine: events are fired through
``machine.events[name].trigger(obj, ...)``, which keeps a lifecycle object small (no
bound trigger methods) and avoids ``Machine.add_model``'s linear membership check, which
made registering 20,000 objects cost ~0.3 ms each (``qsession docs design "The model"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .table import LifecycleTable, Row, TableError

if TYPE_CHECKING:
    from transitions import Event, EventData, Machine

_Trigger = tuple[frozenset[str], "Event | None"]
"""Per event: the names of the facts it takes, and the machine's ``Event`` (None: no row)."""


class TransitionRefused(Exception):
    """The model refused an event: the message names the object, its state and the event."""

    def __init__(self, kind: str, ident: str, state: str, event: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.ident = ident
        self.state = state
        self.event = event


@dataclass(frozen=True, slots=True)
class Step:
    """What one fired event did: the object, the event, and the states before and after."""

    kind: str
    ident: str
    event: str
    source: str
    dest: str

    @property
    def changed(self) -> bool:
        """True when the state changed (False for an internal transition)."""
        return self.source != self.dest


def machine_arguments(table: LifecycleTable, *, effects: bool = True) -> dict[str, Any]:
    """The table as ``transitions`` machine arguments: states, transitions, initial state.

    The run-time machine and the diagram export both build from this, so they cannot
    disagree; ``effects=False`` leaves out the ``after`` callbacks (a diagram runs none).
    """
    states = [{"name": s.name, "final": s.final} for s in table.states]
    transitions = [
        {
            "trigger": row.event,
            "source": list(row.sources),
            "dest": row.dest,
            "conditions": list(row.conditions),
            "unless": list(row.unless),
            **({"after": list(row.effects)} if effects else {}),
        }
        for row in table.rows
    ]
    return {"states": states, "transitions": transitions, "initial": table.initial,
            "auto_transitions": False}


def _build_machine(table: LifecycleTable) -> Machine:
    # Imported here so that ``import qsession.model`` stays cheap until a machine is needed.
    from transitions import Machine

    return Machine(model=None, send_event=True, ignore_invalid_triggers=False,
                   **machine_arguments(table))


class Lifecycle:
    """Base of every lifecycle object: a state, an identity, and ``fire``.

    Subclasses set ``TABLE`` and implement the table's guards and effects as methods.
    Guards receive the transitions ``EventData``; the caller's facts are in its kwargs.
    """

    TABLE: ClassVar[LifecycleTable]
    _machine: ClassVar[Machine | None] = None
    _triggers: ClassVar[dict[str, _Trigger] | None] = None

    __slots__ = ("ident", "state")

    def __init__(self, ident: object) -> None:
        self.ident = str(ident)
        self.state: str = self.TABLE.initial

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TABLE" in cls.__dict__:
            cls._validate_callbacks()
            cls._machine = None
            cls._triggers = None

    @classmethod
    def _validate_callbacks(cls) -> None:
        table = cls.TABLE
        for guard in table.guards:
            if not callable(getattr(cls, guard.name, None)):
                raise TableError(f"{cls.__name__} does not implement guard {guard.name!r}")
        for row in table.rows:
            for effect in row.effects:
                if not callable(getattr(cls, effect, None)):
                    raise TableError(f"{cls.__name__} does not implement effect {effect!r}")
        clashes = [e for e in table.event_names if hasattr(cls, e)]
        if clashes:
            # transitions would silently skip binding a trigger named like an attribute.
            raise TableError(f"{cls.__name__} has attributes named like events: {clashes}")

    @classmethod
    def machine(cls) -> Machine:
        """The shared transitions machine for this table (built on first use)."""
        if cls._machine is None:
            cls._machine = _build_machine(cls.TABLE)
        return cls._machine

    @classmethod
    def _build_triggers(cls) -> dict[str, _Trigger]:
        """Each event's facts and the shared machine's ``Event`` that fires it, looked up
        once rather than on every ``fire`` (the machine is built here if need be)."""
        events = cls.machine().events
        triggers = {spec.name: (frozenset(spec.facts), events.get(spec.name))
                    for spec in cls.TABLE.events}
        cls._triggers = triggers
        return triggers

    # -- firing --------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """The lifecycle kind, e.g. ``session`` or ``job``."""
        return self.TABLE.kind

    @property
    def is_final(self) -> bool:
        """True in a state with no way out."""
        return self.state in self.TABLE.final_states

    def fire(self, event: str, **facts: Any) -> Step:
        """Fire ``event`` with its facts; return the step, or raise ``TransitionRefused``."""
        # The hot path of the whole runtime: one dict lookup answers "is it an event of this
        # table, with exactly its facts?", and the transitions Event is already at hand.
        trigger = (self._triggers or self._build_triggers()).get(event)
        if trigger is None or facts.keys() != trigger[0]:
            self._check_facts(event, facts)  # raises: an unknown event, or the wrong facts
        table = self.TABLE
        source = self.state
        if trigger is None or trigger[1] is None or not table.rows_for(source, event):
            raise self._refusal(event, None)
        if not trigger[1].trigger(self, **facts):
            raise self._refusal(event, facts)
        return Step(table.kind, self.ident, event, source, self.state)

    def can_fire(self, event: str, **facts: Any) -> bool:
        """True when ``fire(event, **facts)`` would succeed (nothing changes)."""
        self._check_facts(event, facts)
        return self._first_passing_row(event, facts) is not None

    def allowed_events(self, **facts: Any) -> list[str]:
        """Events with a row from the current state whose guards hold for ``facts``.

        Only the facts an event declares are passed to its guards; events whose facts are
        missing from ``facts`` are skipped.
        """
        allowed = []
        for spec in self.TABLE.events:
            if not all(f in facts for f in spec.facts):
                continue
            own = {f: facts[f] for f in spec.facts}
            if self._first_passing_row(spec.name, own) is not None:
                allowed.append(spec.name)
        return allowed

    def _event_data(self, facts: dict[str, Any]) -> EventData:
        from transitions import EventData

        return EventData(None, None, self.machine(), self, (), facts)

    def _first_passing_row(self, event: str, facts: dict[str, Any]) -> Row | None:
        data = self._event_data(facts)
        for row in self.TABLE.rows_for(self.state, event):
            if all(getattr(self, g)(data) for g in row.conditions) and not any(
                getattr(self, g)(data) for g in row.unless
            ):
                return row
        return None

    def _check_facts(self, event: str, facts: dict[str, Any]) -> None:
        try:
            spec = self.TABLE.event(event)
        except KeyError:
            raise TransitionRefused(
                self.kind, self.ident, self.state, event,
                f"{self.kind} {self.ident}: unknown event {event!r}; "
                f"events are {', '.join(self.TABLE.event_names)}",
            ) from None
        if set(facts) != set(spec.facts):
            need = ", ".join(spec.facts) or "no facts"
            raise TypeError(
                f"{self.kind} event {event!r} takes {need}; got {sorted(facts) or 'none'}"
            )

    def _refusal(self, event: str, facts: dict[str, Any] | None) -> TransitionRefused:
        phrase = self.TABLE.event(event).phrase
        head = f"{self.kind} {self.ident} is {self.state}; cannot {phrase}"
        if facts is None:
            return TransitionRefused(self.kind, self.ident, self.state, event, head)
        data = self._event_data(facts)
        reasons: list[str] = []
        for row in self.TABLE.rows_for(self.state, event):
            for g in row.conditions:
                if not getattr(self, g)(data):
                    reasons.append(self.TABLE.guard(g).refusal)
            for g in row.unless:
                if getattr(self, g)(data):
                    reasons.append(self.TABLE.guard(g).negated_refusal)
        why = "; ".join(dict.fromkeys(reasons))
        message = f"{head}: {why}" if why else head
        return TransitionRefused(self.kind, self.ident, self.state, event, message)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ident} {self.state}>"
