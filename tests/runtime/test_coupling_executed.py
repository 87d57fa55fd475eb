"""The scheduler executes the model's coupling rules as data: a changed copy changes it."""

from __future__ import annotations

from helpers.rig import Rig

from qsession.model import COUPLING, EXPIRY_REASON, SESSION_CANCEL_REASON


def _cancel_with_one_running_and_one_queued(rig: Rig) -> tuple[str, str]:
    s = rig.session()
    running, queued = rig.job(s, 10), rig.job(s, 5)
    rig.at(2)
    with rig.clock.lock:
        rig.sched.cancel(s)
    return running.state, queued.state


def test_the_real_rules_cancel_the_queued_job_and_let_the_running_one_complete() -> None:
    rig = Rig()
    assert rig.sched.coupling is COUPLING
    assert _cancel_with_one_running_and_one_queued(rig) == ("RUNNING", "CANCELLED")
    ended = [r for r in rig.trace.of("job") if r.event == "cancel"]
    assert [r.data["reason"] for r in ended] == [SESSION_CANCEL_REASON]


def test_a_changed_copy_of_the_rules_is_what_runs() -> None:
    rig = Rig()
    rig.sched.coupling = COUPLING.with_session_rule(
        "cancel", queued="expire", running="cancel", reason="planted",
        name="cancel fails the queued jobs and stops the running one")
    assert _cancel_with_one_running_and_one_queued(rig) == ("CANCELLED", "ERROR")


def test_expiry_fails_the_queued_jobs_with_the_models_reason() -> None:
    rig = Rig()
    s = rig.session(max_time=20)
    running, queued = rig.job(s, 30), rig.job(s, 5)
    rig.at(25)
    assert (running.state, queued.state, queued.error) == ("RUNNING", "ERROR", EXPIRY_REASON)
