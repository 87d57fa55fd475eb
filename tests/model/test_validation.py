"""A malformed table or lifecycle class is rejected when it is built, with a message saying why."""

from __future__ import annotations

import pytest

from qsession.model import EventSpec, GuardSpec, Lifecycle, LifecycleTable, Row, StateSpec
from qsession.model.table import TableError

STATES = (StateSpec("a", "start"), StateSpec("b", "middle"), StateSpec("z", "end", final=True))
EVENTS = (EventSpec("go", "go", "go"), EventSpec("stop", "stop", "stop"))
GUARDS = (GuardSpec("ok", "ok", "not ok", "ok"),)


def table(rows: tuple[Row, ...], states: tuple[StateSpec, ...] = STATES,
          guards: tuple[GuardSpec, ...] = GUARDS, initial: str = "a") -> LifecycleTable:
    return LifecycleTable("thing", states, initial, EVENTS, guards, rows)


GOOD_ROWS = (Row("go", ("a",), "b"), Row("stop", ("a", "b"), "z"))


def test_a_good_table_builds() -> None:
    t = table(GOOD_ROWS)
    assert t.rows_for("a", "go") == (GOOD_ROWS[0],)
    assert set(t.forbidden_pairs()) == {("b", "go"), ("z", "go"), ("z", "stop")}


@pytest.mark.parametrize(
    ("rows", "states", "initial", "message"),
    [
        ((Row("go", ("a",), "b"),), STATES, "a", "unreachable from 'a': ['z']"),
        ((*GOOD_ROWS, Row("go", ("z",), "a")), STATES, "a", "final state(s) ['z'] have an exit"),
        ((Row("jump", ("a",), "b"),), STATES, "a", "unknown event 'jump'"),
        ((Row("go", ("q",), "b"),), STATES, "a", "leaves unknown state 'q'"),
        ((Row("go", ("a",), "q"),), STATES, "a", "enters unknown 'q'"),
        ((Row("go", ("a",), "b", conditions=("nope",)),), STATES, "a", "undeclared guard 'nope'"),
        (GOOD_ROWS, STATES, "q", "initial state 'q' is not a state"),
        (GOOD_ROWS, (*STATES, StateSpec("go", "clash")), "a", "both as state and event"),
        (GOOD_ROWS, (*STATES, StateSpec("a", "twice")), "a", "duplicate state names"),
        ((Row("go", ("a",), "b"), Row("go", ("a",), "z"), Row("stop", ("b",), "z")),
         STATES, "a", "unguarded row for 'go' in 'a' shadows"),
    ],
)
def test_malformed_tables_are_rejected(
    rows: tuple[Row, ...], states: tuple[StateSpec, ...], initial: str, message: str
) -> None:
    with pytest.raises(TableError, match=None) as info:
        table(rows, states, initial=initial)
    assert message in str(info.value)


def test_guard_without_implementation_is_rejected() -> None:
    t = table((Row("go", ("a",), "b", conditions=("ok",)), Row("stop", ("a", "b"), "z")))
    with pytest.raises(TableError, match="does not implement guard 'ok'"):
        type("Thing", (Lifecycle,), {"TABLE": t, "__slots__": ()})


def test_effect_without_implementation_is_rejected() -> None:
    t = table((Row("go", ("a",), "b", effects=("ring",)), Row("stop", ("a", "b"), "z")),
              guards=())
    with pytest.raises(TableError, match="does not implement effect 'ring'"):
        type("Thing", (Lifecycle,), {"TABLE": t, "__slots__": ()})


def test_attribute_named_like_an_event_is_rejected() -> None:
    t = table(GOOD_ROWS, guards=())

    def go(self: object) -> None:  # would shadow the 'go' trigger in transitions
        pass

    with pytest.raises(TableError, match=r"attributes named like events: \['go'\]"):
        type("Thing", (Lifecycle,), {"TABLE": t, "__slots__": (), "go": go})


def test_a_valid_custom_lifecycle_runs_on_transitions() -> None:
    t = table(GOOD_ROWS, guards=())
    thing_cls = type("Thing", (Lifecycle,), {"TABLE": t, "__slots__": ()})
    thing = thing_cls(1)
    assert thing.fire("go").dest == "b"
    assert thing.fire("stop").dest == "z"
    assert thing.is_final
    assert type(thing.machine()).__module__.startswith("transitions")
