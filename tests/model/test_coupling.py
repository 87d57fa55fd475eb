"""The coupling rules and the charge rule as the model states them (docs/semantics.md)."""

from __future__ import annotations

import pytest

from qsession.model import (
    CHARGE_RULES,
    COUPLING,
    EXPIRY_REASON,
    JOB_TABLE,
    SESSION_TABLE,
    batch_order,
    bills_active_spans,
    job_charge,
    span_runs_on,
)
from qsession.model.charges import EndCause


def test_what_each_session_event_does_to_its_jobs() -> None:
    # docs/semantics.md, "The rules in words": close drains, cancel cancels the queued
    # jobs, expiry fails them; a running job always runs to completion.
    assert [(e, COUPLING.session_rule(e).queued, COUPLING.session_rule(e).running)
            for e in ("close", "cancel", "max_time_reached")] == [
        ("close", None, None), ("cancel", "cancel", None), ("max_time_reached", "expire", None)]
    assert COUPLING.session_rule("max_time_reached").reason == EXPIRY_REASON
    for event in ("submit", "ittl_elapsed", "idle_close_elapsed", "job_started", "job_ended"):
        rule = COUPLING.session_rule(event)
        assert (rule.event, rule.queued, rule.running) == (event, None, None)


def test_every_job_event_tells_its_session_and_every_name_is_a_table_event() -> None:
    assert COUPLING.session_event_of("start") == "job_started"
    assert {e: COUPLING.session_event_of(e) for e in ("finish", "fail", "cancel", "expire")} \
        == dict.fromkeys(("finish", "fail", "cancel", "expire"), "job_ended")
    assert COUPLING.session_event_of("create") is None
    assert set(COUPLING.on_job) == set(JOB_TABLE.event_names)
    for rule in COUPLING.on_session.values():
        assert rule.event in SESSION_TABLE.event_names
        assert {rule.queued, rule.running} - {None} <= set(JOB_TABLE.event_names)


def test_a_changed_copy_plants_a_rule_and_leaves_the_real_ones_alone() -> None:
    bug = COUPLING.with_session_rule("close", queued="cancel", name="close cancels")
    assert bug.session_rule("close").queued == "cancel" and bug.name == "close cancels"
    assert COUPLING.session_rule("close").queued is None
    with pytest.raises(TypeError):
        COUPLING.on_session["close"] = bug.session_rule("close")  # type: ignore[index]


def test_started_batches_go_by_their_first_start() -> None:
    assert sorted([("b", 5, 1), ("a", 5, 0), ("c", 2, 9)],
                  key=lambda b: batch_order(b[1], b[2], b[0])) == [
        ("c", 2, 9), ("a", 5, 0), ("b", 5, 1)]


@pytest.mark.parametrize(("cause", "mode", "usage", "charged"), [
    ("completed", None, 10, 10),
    ("completed", "batch", 10, 10),
    ("completed", "dedicated", 10, 0),  # the session's bill records charge its spans
    ("time_limit", None, 10, 10),
    ("execution_error", None, 10, 0),
    ("execution_error", "batch", 10, 0),
    ("system_fault", None, 0, 0),  # IBM reports usage 0 for a system failure
    ("user_cancel", None, 10, 0),
])
def test_what_a_job_end_bills_and_charges(cause: EndCause, mode: str | None, usage: int,
                                          charged: int) -> None:
    got = job_charge(cause, 10, mode)  # type: ignore[arg-type]
    assert (got.usage_us, got.charged_us) == (usage, charged)


def test_every_cause_has_one_rule_and_a_job_event_that_ends_it() -> None:
    causes = [rule.cause for rule in CHARGE_RULES]
    assert len(causes) == len(set(causes)) == 5
    assert all(rule.event in JOB_TABLE.event_names for rule in CHARGE_RULES)


def test_a_dedicated_sessions_span_outlives_its_end_while_its_job_runs() -> None:
    assert bills_active_spans("dedicated") and not bills_active_spans("batch")
    assert not bills_active_spans(None)
    assert span_runs_on(True, True)
    assert not span_runs_on(True, False) and not span_runs_on(False, True)
