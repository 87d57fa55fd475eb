"""The session and job lifecycles in use: guards, flags, refusals and their messages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qsession.model import JobLifecycle, SessionLifecycle, TransitionRefused


def test_a_session_from_creation_to_drained_close() -> None:
    s = SessionLifecycle(7)
    assert (s.state, s.accepting_jobs, s.reserves_qpu) == ("pending", True, True)
    s.fire("submit")
    assert s.fire("job_started").dest == "active"
    assert s.fire("job_ended", in_flight=0).dest == "active"
    assert s.fire("ittl_elapsed", in_flight=0).dest == "inactive"
    s.fire("submit")
    assert s.fire("job_started").dest == "active"
    step = s.fire("close", in_flight=1)
    assert (step.source, step.dest, step.changed) == ("active", "active", False)
    assert not s.accepting_jobs
    assert s.fire("job_ended", in_flight=0).dest == "closed"
    assert s.is_final


def test_submit_after_close_names_session_state_and_reason() -> None:
    s = SessionLifecycle(7)
    s.fire("close", in_flight=2)
    with pytest.raises(TransitionRefused) as info:
        s.fire("submit")
    assert str(info.value) == (
        "session 7 is pending; cannot submit a job: it no longer accepts jobs (close() was called)"
    )


@pytest.mark.parametrize(
    ("setup", "state"),
    [
        ([("close", {"in_flight": 0})], "closed"),
        ([("cancel", {})], "canceled"),
        ([("job_started", {}), ("max_time_reached", {})], "expired"),
    ],
)
def test_submit_to_a_final_session_is_refused(setup: list[tuple[str, dict[str, int]]],
                                              state: str) -> None:
    s = SessionLifecycle(3)
    for event, facts in setup:
        s.fire(event, **facts)
    assert s.state == state and not s.accepting_jobs
    with pytest.raises(TransitionRefused, match=f"^session 3 is {state}; cannot submit a job$"):
        s.fire("submit")


def test_ittl_cannot_elapse_with_jobs_in_flight() -> None:
    s = SessionLifecycle(1)
    s.fire("job_started")
    with pytest.raises(TransitionRefused, match="cannot deactivate: it has jobs queued or running"):
        s.fire("ittl_elapsed", in_flight=1)
    assert s.state == "active"


def test_a_pending_session_cannot_expire() -> None:
    s = SessionLifecycle(1)
    with pytest.raises(TransitionRefused, match="session 1 is pending; cannot expire"):
        s.fire("max_time_reached")


def test_facts_are_checked() -> None:
    s = SessionLifecycle(1)
    with pytest.raises(TypeError, match="takes in_flight; got none"):
        s.fire("close")
    with pytest.raises(TypeError, match="takes no facts"):
        s.fire("cancel", in_flight=1)
    with pytest.raises(ValueError, match="in_flight must be a count"):
        s.fire("close", in_flight=-1)
    with pytest.raises(TransitionRefused, match="unknown event 'explode'"):
        s.fire("explode")


def test_can_fire_and_allowed_events_change_nothing() -> None:
    s = SessionLifecycle(1)
    assert s.can_fire("close", in_flight=0)
    assert not s.can_fire("ittl_elapsed", in_flight=0)
    assert s.allowed_events(in_flight=0) == ["submit", "job_started", "job_ended", "close",
                                             "cancel"]
    assert s.allowed_events() == ["submit", "job_started", "cancel"]
    assert (s.state, s.accepting_jobs) == ("pending", True)


def test_batch_shares_the_table_but_does_not_reserve() -> None:
    b = SessionLifecycle(2, mode="batch")
    assert not b.reserves_qpu
    assert b.fire("job_started").dest == "active"
    with pytest.raises(ValueError, match="mode must be 'dedicated' or 'batch'"):
        SessionLifecycle(2, mode="exclusive")  # type: ignore[arg-type]


def test_job_cancel_of_a_final_job_is_refused() -> None:
    j = JobLifecycle(9)
    j.fire("start")
    j.fire("fail")
    with pytest.raises(TransitionRefused, match=r"^job 9 is ERROR; cannot cancel$"):
        j.fire("cancel")


def test_a_running_job_cannot_be_expired() -> None:
    j = JobLifecycle(9)
    j.fire("start")
    with pytest.raises(TransitionRefused, match="job 9 is RUNNING; cannot expire"):
        j.fire("expire")


def test_importing_the_model_imports_no_qiskit() -> None:
    code = ("import sys, qsession.model; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('qiskit', 'qiskit_aer', "
            "'numpy', 'transitions')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
