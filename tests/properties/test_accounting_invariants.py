"""The accounting invariants fail on hand-written bad traces (tests/data) and pass good ones.

Each bad trace breaks one rule the way a plausible scheduler bug would; the
checks over reported values (details(), usage(), run_until_idle()) are given the values
an API would report beside a correct trace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qsession.properties import durations
from qsession.properties.invariants import Monitor, check
from qsession.properties.mutants import MUTANTS
from qsession.properties.reported import reported, run_until_idle_stop
from qsession.runtime import Trace

DATA = Path(__file__).parent.parent / "data"


@pytest.mark.parametrize(("name", "invariant", "needle"), [
    # a's 0-6 s span straddles the 10 s window's edge at 14 s: 2 s count, not 6.
    ("bad_fair_share_window", "INV-FAIR-SHARE", "fair share picks j4"),
    # s1's 4 s of active time belong to instance a; the dispatch says a used nothing.
    ("bad_charged_instance", "INV-FAIR-SHARE", "reports instance a's share ratio 0"),
    ("bad_batch_order", "INV-DISPATCH-ORDER", "batch s1 (started at 0s"),
    ("bad_ids", "INV-IDS-UNIQUE", "job id s1 was already given to the session"),
])
def test_each_bad_trace_breaks_exactly_its_invariant(name: str, invariant: str,
                                                      needle: str) -> None:
    report = check(Trace.read(DATA / f"{name}.jsonl"), settled=True)
    assert {v.invariant for v in report.violations} == {invariant}
    assert any(needle in str(v) for v in report.violations), [str(v) for v in report.violations]


def test_the_good_usage_trace_holds() -> None:
    assert check(Trace.read(DATA / "good_usage_after_close.jsonl"), settled=True).ok


def _replayed(name: str) -> Monitor:
    monitor = Monitor()
    monitor.feed(list(Trace.read(DATA / f"{name}.jsonl")))
    return monitor


def test_reported_usage_must_stop_when_the_session_is_billed() -> None:
    # Closed at 2 s while j1 ran: billed until j1 completed at 4 s, and not a µs more.
    state = _replayed("good_usage_after_close").state
    at_10s = 10_000_000
    ok = {"s1": {"usage_time": 4.0, "usage": 4.0, "state": "closed", "active_timeout": 50}}
    job = {"j1": {"usage": 4.0, "partial": 4.0}}
    assert reported(state, at_10s, ok, job) == []
    grew = {"s1": {**ok["s1"], "usage_time": 10.0}}
    found = reported(state, at_10s, grew, job)
    assert [v.invariant for v in found] == ["INV-REPORTED"]
    assert "usage_time=10.0" in found[0].message and "4s" in found[0].message


def test_reported_active_timeout_counts_from_the_first_start() -> None:
    state = _replayed("good_usage_after_close").state
    wrong = {"s1": {"active_timeout": 60}}  # counted from creation would be the same here
    assert reported(state, 10_000_000, wrong, {})[0].message.startswith(
        "session s1 reports active_timeout=60")


def test_reported_job_usage_is_its_time_on_the_qpu() -> None:
    state = _replayed("good_usage_after_close").state
    queue_time = {"j1": {"usage": 4.5, "partial": 4.0}}
    assert [v.invariant for v in reported(state, 10_000_000, {}, queue_time)] == \
        ["INV-REPORTED"]


def test_run_until_idle_stops_when_the_last_job_ends() -> None:
    state = _replayed("good_usage_after_close").state
    assert run_until_idle_stop(state, called_at=1_000_000, returned_at=4_000_000) == []
    assert run_until_idle_stop(state, called_at=5_000_000, returned_at=5_000_000) == []
    late = run_until_idle_stop(state, called_at=1_000_000, returned_at=60_000_000)
    assert [v.invariant for v in late] == ["INV-RUN-UNTIL-IDLE"]
    assert "should have stopped at 4s" in late[0].message


def test_durations_take_the_longer_branch_and_loop_the_body() -> None:
    # x on q0 (35 ns), then if c0: x q0 (35 ns) else cx 0-1 (300 + 7 ns); then a 2-round
    # loop of sx on q2 (3 × 36 ns each): critical path 35 + 307 on q0/q1, 216 on q2.
    program = [("x", 0), ("if", 0, [("x", 0)], [("cx", 0, 1)]), ("for", 2, [("sx", 2)])]
    assert durations.expected_seconds(program) == pytest.approx(342e-9)
    assert durations.mismatch(program) is None
    summed = next(m for m in MUTANTS if m.name == "branches-summed")
    with summed.applied():
        problem = durations.mismatch(program)
    assert problem is not None and "INV-DURATION" in problem
