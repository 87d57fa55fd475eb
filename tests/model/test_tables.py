"""Every row of both lifecycle tables fires as written; every pair not in a table is refused."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from qsession.model import (
    JOB_TABLE,
    SESSION_TABLE,
    JobLifecycle,
    Lifecycle,
    LifecycleTable,
    SessionLifecycle,
    TransitionRefused,
)

LIFECYCLES: list[type[Lifecycle]] = [SessionLifecycle, JobLifecycle]


def setups(cls: type[Lifecycle], state: str, event: str) -> list[tuple[Lifecycle, dict[str, Any]]]:
    """Every combination of object flags and event facts that guards can tell apart."""
    facts_names = cls.TABLE.event(event).facts
    fact_values = [dict(zip(facts_names, v, strict=True))
                   for v in itertools.product((0, 1, 3), repeat=len(facts_names))]
    flags = [True, False] if cls is SessionLifecycle else [None]
    out = []
    for flag, facts in itertools.product(flags, fact_values):
        obj = cls("t")
        obj.state = state
        if flag is not None:
            obj.accepting_jobs = flag  # type: ignore[attr-defined]
        out.append((obj, facts))
    return out


@pytest.mark.parametrize("cls", LIFECYCLES, ids=lambda c: c.TABLE.kind)
def test_every_row_fires_from_every_source(cls: type[Lifecycle]) -> None:
    table = cls.TABLE
    exercised: set[tuple[str, int]] = set()
    for source, row, target in table.edges():
        for obj, facts in setups(cls, source, row.event):
            first = obj._first_passing_row(row.event, facts)
            if first is not row:
                continue
            step = obj.fire(row.event, **facts)
            assert (step.source, step.dest) == (source, target)
            assert obj.state == target
            exercised.add((source, table.rows.index(row)))
    expected = {(s, table.rows.index(r)) for s, r, _ in table.edges()}
    assert exercised == expected


@pytest.mark.parametrize("cls", LIFECYCLES, ids=lambda c: c.TABLE.kind)
def test_every_forbidden_pair_is_refused(cls: type[Lifecycle]) -> None:
    table = cls.TABLE
    forbidden = list(table.forbidden_pairs())
    assert forbidden, "a table that allows every event everywhere is suspicious"
    for state, event in forbidden:
        for obj, facts in setups(cls, state, event):
            with pytest.raises(TransitionRefused) as info:
                obj.fire(event, **facts)
            err = info.value
            assert (err.kind, err.ident, err.state, err.event) == (table.kind, "t", state, event)
            assert str(err).startswith(f"{table.kind} t is {state}; cannot ")
            assert obj.state == state


def test_pairs_partition_the_state_event_grid() -> None:
    for table in (SESSION_TABLE, JOB_TABLE):
        allowed = table.allowed_pairs()
        forbidden = set(table.forbidden_pairs())
        assert not allowed & forbidden
        assert len(allowed) + len(forbidden) == len(table.states) * len(table.events)


def test_session_rows_match_spec_section_2() -> None:
    """The session table, restated as the lifecycle's edge set (guards ignored)."""
    edges = {(s, r.event, t) for s, r, t in SESSION_TABLE.edges() if s != t}
    assert edges == {
        ("pending", "job_started", "active"),
        ("inactive", "job_started", "active"),
        ("active", "ittl_elapsed", "inactive"),
        *((s, "close", "closed") for s in ("pending", "active", "inactive")),
        *((s, "job_ended", "closed") for s in ("pending", "active", "inactive")),
        *((s, "cancel", "canceled") for s in ("pending", "active", "inactive")),
        ("active", "max_time_reached", "expired"),
        ("inactive", "max_time_reached", "expired"),
        ("pending", "idle_close_elapsed", "closed"),  # rev. 2: an unused session closes
    }
    assert SESSION_TABLE.final_states == {"closed", "canceled", "expired"}


def test_job_rows_match_spec_section_4() -> None:
    edges = {(s, r.event, t) for s, r, t in JOB_TABLE.edges()}
    assert edges == {
        ("QUEUED", "start", "RUNNING"),
        ("RUNNING", "finish", "DONE"),
        ("RUNNING", "fail", "ERROR"),
        ("QUEUED", "expire", "ERROR"),
        ("QUEUED", "cancel", "CANCELLED"),
        ("RUNNING", "cancel", "CANCELLED"),
    }


@pytest.mark.parametrize("table", [SESSION_TABLE, JOB_TABLE], ids=lambda t: t.kind)
def test_final_states_have_no_exits(table: LifecycleTable) -> None:
    for source, _row, _target in table.edges():
        assert source not in table.final_states
