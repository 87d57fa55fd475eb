"""Session, batch and queue scenarios on one QPU in virtual time, exact timestamps."""

from __future__ import annotations

import pytest
from helpers.rig import RigFactory, times

from qsession.model import EXPIRY_REASON, TransitionRefused
from qsession.runtime import RuntimeInvalidStateError
from qsession.runtime.engine.clock import to_seconds
from qsession.runtime.engine.scheduler import SessionClosedError


def sec(us: int | None) -> float:
    assert us is not None
    return to_seconds(us)


def test_first_session_job_waits_behind_earlier_normal_jobs(make_rig: RigFactory) -> None:
    rig = make_rig()
    a = rig.job(seconds=10)
    b = rig.job(seconds=10)
    s = rig.session()
    first = rig.job(s, seconds=5)
    rig.run()
    assert times(a) == rig.approx(0, 0, 10)
    assert times(b) == rig.approx(0, 10, 20)
    assert times(first) == rig.approx(0, 20, 25)
    assert s.started_at == s.activated_at
    assert sec(s.started_at) == rig.approx(20)


def test_second_job_runs_right_after_the_first_ahead_of_the_queue(make_rig: RigFactory) -> None:
    rig = make_rig()
    s = rig.session()
    j1 = rig.job(s, seconds=5)
    rig.at(1)
    n1 = rig.job(seconds=10)  # a normal job arrives while the session's first job runs
    rig.wait(j1)
    assert rig.now() == rig.approx(5)
    j2 = rig.job(s, seconds=5)  # submitted at once (no think time)
    rig.run()
    assert times(j2) == rig.approx(5, 5, 10)
    # The normal job waited for the session's second job and for the ITTL hold (60 s).
    assert times(n1) == rig.approx(1, 70, 80)


def test_ittl_hold_then_deactivation_at_last_finish_plus_ittl(make_virtual_rig: RigFactory) -> None:
    rig = make_virtual_rig(interactive_timeout=60)
    s = rig.session()
    j = rig.job(s, seconds=5)
    rig.at(2)
    n = rig.job(seconds=3)
    rig.at(64.999999)
    assert s.state == "active" and n.state == "QUEUED" and rig.sched.holding is s
    rig.at(65)
    assert s.state == "inactive" and rig.sched.holding is None
    rig.run()
    assert times(n) == rig.approx(2, 65, 68)
    assert (s.deactivations, s.usage_us, s.reserved_idle_us) == (1, 65_000_000, 60_000_000)
    assert times(j)[2] == 5


def test_inside_the_window_priority_at_the_boundary_none(make_virtual_rig: RigFactory) -> None:
    rig = make_virtual_rig(interactive_timeout=60)
    s = rig.session()
    rig.job(s, seconds=5)
    rig.at(1)
    rig.job(seconds=100)  # background
    rig.at(64.999999)
    inside = rig.job(s, seconds=1)
    assert inside.state == "RUNNING" and rig.now() == 64.999999
    rig.run()
    t = rig.sched
    assert t.is_idle()

    rig2 = make_virtual_rig(interactive_timeout=60)
    s2 = rig2.session()
    rig2.job(s2, seconds=5)
    rig2.at(1)
    bg = rig2.job(seconds=100)
    rig2.at(65)  # exactly last finish + ITTL: deactivated, background job started
    late = rig2.job(s2, seconds=1)
    assert s2.state == "inactive" and bg.state == "RUNNING"
    rig2.run()
    assert times(late) == rig.approx(65, 165, 166)  # went through the normal queue
    assert s2.state == "active"  # reactivated when it started


def test_reactivation_through_the_normal_queue(make_rig: RigFactory) -> None:
    rig = make_rig(interactive_timeout=10)
    s = rig.session()
    rig.job(s, seconds=5)
    rig.at(20)  # deactivated at 15
    assert s.state == "inactive"
    n1 = rig.job(seconds=10)
    j = rig.job(s, seconds=5)  # queues behind n1 like any job
    rig.run()
    assert times(n1) == rig.approx(20, 20, 30)
    assert times(j) == rig.approx(20, 30, 35)
    assert s.state == "active" and sec(s.activated_at) == rig.approx(30)
    assert sec(s.started_at) == rig.approx(0)
    assert [e for _, e, _ in rig.events("session", s.id)].count("job_started") == 2


def test_max_ttl_clock_starts_at_first_start_and_never_pauses(make_virtual_rig: RigFactory) -> None:
    rig = make_virtual_rig(interactive_timeout=10)
    rig.job(seconds=50)
    s = rig.session(max_time=100)
    rig.job(s, seconds=5)  # starts at 50: max TTL at 150
    rig.at(120)  # inactive since 65
    assert s.state == "inactive"
    rig.at(150)
    assert s.state == "expired" and s.closed_at == 150_000_000


def test_expiry_fails_queued_jobs_and_lets_the_running_one_finish(make_rig: RigFactory) -> None:
    rig = make_rig()
    s = rig.session(max_time=100)
    jobs = [rig.job(s, seconds=40) for _ in range(4)]
    other = rig.job(seconds=1)
    rig.run()
    assert [j.state for j in jobs] == ["DONE", "DONE", "DONE", "ERROR"]
    assert times(jobs[2]) == rig.approx(0, 80, 120)  # running at 100: runs to completion
    assert times(jobs[3]) == rig.approx(0, None, 100)
    assert jobs[3].error == EXPIRY_REASON
    assert s.state == "expired" and sec(s.closed_at) == rig.approx(100)
    assert times(other) == rig.approx(0, 120, 121)
    with pytest.raises(SessionClosedError, match=r"The session is closed: session s\d+ is expired"):
        rig.job(s)


def test_no_job_starts_at_the_max_ttl_instant(make_rig: RigFactory) -> None:
    rig = make_rig()
    s = rig.session(max_time=10)
    a = rig.job(s, seconds=10)  # ends exactly at the max-TTL instant
    b = rig.job(s, seconds=1)
    rig.run()
    assert times(a) == rig.approx(0, 0, 10) and a.state == "DONE"
    assert b.state == "ERROR" and times(b) == rig.approx(0, None, 10)


def test_cancel_cancels_queued_and_lets_running_complete(make_rig: RigFactory) -> None:
    rig = make_rig()
    s = rig.session()
    running = rig.job(s, seconds=10)
    queued = [rig.job(s, seconds=10) for _ in range(2)]
    rig.at(3)
    rig.sched.cancel(s)
    assert s.state == "canceled" and not s.lifecycle.accepting_jobs
    assert [j.state for j in queued] == ["CANCELLED", "CANCELLED"]
    assert all(times(j) == rig.approx(0, None, 3) for j in queued)
    assert queued[0].error is None
    rig.run()
    assert times(running) == rig.approx(0, 0, 10) and running.state == "DONE"


def test_close_drains_with_priority_then_closes_without_ittl(make_rig: RigFactory) -> None:
    rig = make_rig()
    s = rig.session()
    jobs = [rig.job(s, seconds=10) for _ in range(3)]
    rig.at(1)
    bg = rig.job(seconds=5)
    rig.sched.close(s)
    assert s.state == "active" and not s.lifecycle.accepting_jobs
    with pytest.raises(SessionClosedError):
        rig.job(s)
    rig.run()
    assert [times(j) for j in jobs] == [rig.approx(0, 0, 10), rig.approx(0, 10, 20),
                                        rig.approx(0, 20, 30)]
    assert s.state == "closed" and sec(s.closed_at) == rig.approx(30)
    assert times(bg) == rig.approx(1, 30, 35)  # no ITTL hold after the last job of a closed session


def test_close_with_nothing_queued_closes_at_once(make_rig: RigFactory) -> None:
    rig = make_rig()
    s = rig.session()
    rig.at(4)
    rig.sched.close(s)
    assert s.state == "closed" and sec(s.closed_at) == rig.approx(4)
    t = rig.session()
    rig.job(t, seconds=5)
    rig.at(10)  # its job ran 4..9: active and holding the QPU within its ITTL
    assert rig.sched.holding is t
    rig.sched.close(t)
    assert t.state == "closed" and rig.sched.holding is None


def test_closed_pending_session_drains_through_normal_queue(make_rig: RigFactory) -> None:
    rig = make_rig()
    bg = rig.job(seconds=10)
    s = rig.session()
    j = rig.job(s, seconds=5)
    rig.sched.close(s)
    assert s.state == "pending"
    rig.run()
    assert times(bg) == rig.approx(0, 0, 10) and times(j) == rig.approx(0, 10, 15)
    assert s.state == "closed" and sec(s.closed_at) == rig.approx(15)


def test_batch_never_holds_the_qpu_but_goes_first_once_started(make_rig: RigFactory) -> None:
    rig = make_rig(batch_interactive_timeout=1)
    b = rig.session("batch")
    b1 = rig.job(b, seconds=5)
    n1 = rig.job(seconds=5)
    b2 = rig.job(b, seconds=5)
    rig.run()
    # b1 activates the batch; b2 then goes ahead of the earlier normal job n1.
    assert times(b1) == rig.approx(0, 0, 5)
    assert times(b2) == rig.approx(0, 5, 10)
    assert times(n1) == rig.approx(0, 10, 15)
    assert rig.sched.holding is None
    assert b.state == "inactive" and b.deactivations == 1  # 1 s after its last job, at 11
    deactivations = [t for t, e, _ in rig.events("session", b.id) if e == "ittl_elapsed"]
    assert deactivations == [rig.approx(11)]


def test_batch_idle_gap_lets_normal_jobs_run(make_virtual_rig: RigFactory) -> None:
    rig = make_virtual_rig()
    b = rig.session("batch")
    rig.job(b, seconds=5)
    rig.at(0.5)
    n = rig.job(seconds=5)
    rig.at(5.5)  # the batch is active (ITTL 1 s) but has nothing queued: n ran at 5
    assert times(n) == rig.approx(0.5, 5, None)


def test_batch_jobs_wait_while_a_dedicated_session_is_active(make_rig: RigFactory) -> None:
    rig = make_rig(interactive_timeout=60)
    s = rig.session()
    rig.job(s, seconds=5)
    b = rig.session("batch")
    bj = rig.job(b, seconds=5)
    rig.run()
    assert times(bj) == rig.approx(0, 65, 70)


def test_two_sessions_contend_one_active_at_a_time(make_rig: RigFactory) -> None:
    rig = make_rig(interactive_timeout=10)
    a, b = rig.session(), rig.session()
    a1 = rig.job(a, seconds=5)
    b1 = rig.job(b, seconds=5)
    rig.wait(a1)
    a2 = rig.job(a, seconds=5)  # inside a's window: runs before b1
    rig.run()
    assert times(a1) == rig.approx(0, 0, 5) and times(a2) == rig.approx(5, 5, 10)
    assert times(b1) == rig.approx(0, 20, 25)  # after a's ITTL ran out at 20
    assert a.state == "inactive" and b.state == "active"  # run() stops at 25, when idle


def test_fair_share_serves_the_least_used_instance_first(make_rig: RigFactory) -> None:
    rig = make_rig(instances={"a": 1.0, "b": 1.0})
    a_jobs = [rig.job(seconds=10, instance="a") for _ in range(3)]
    b_jobs = [rig.job(seconds=10, instance="b") for _ in range(2)]
    rig.run()
    starts = sorted([(times(j)[1], name) for name, js in (("a", a_jobs), ("b", b_jobs))
                     for j in js])
    # a first (FIFO tie-break at equal use), then b (a has used 10 s), then alternate.
    assert [n for _, n in starts] == ["a", "b", "a", "b", "a"]
    assert [times(j)[1] for j in a_jobs] == rig.approx(0, 20, 40)


def test_fair_share_respects_allocations(make_rig: RigFactory) -> None:
    rig = make_rig(instances={"big": 3.0, "small": 1.0})
    big = [rig.job(seconds=10, instance="big") for _ in range(4)]
    small = [rig.job(seconds=10, instance="small") for _ in range(2)]
    rig.run()
    order = sorted([(times(j)[1], "big") for j in big] + [(times(j)[1], "small") for j in small])
    assert [n for _, n in order] == ["big", "small", "big", "big", "big", "small"]


def test_a_failing_execution_fails_only_its_job(make_rig: RigFactory) -> None:
    def executor(payload: object, seed: int | None) -> object:
        if payload == "bad":
            raise RuntimeError("Aer: circuit too wide")
        return {"ok": payload}

    rig = make_rig(executor=executor)
    s = rig.session()
    bad = rig.job(s, seconds=2, payload="bad")
    good = rig.job(s, seconds=2, payload="good")
    rig.run()
    assert bad.state == "ERROR" and bad.error == "RuntimeError: Aer: circuit too wide"
    assert times(bad) == rig.approx(0, 0, 2)
    assert good.state == "DONE" and good.result == {"ok": "good"}


def test_job_cancel_queued_running_and_final(make_rig: RigFactory) -> None:
    rig = make_rig()
    s = rig.session()
    a = rig.job(s, seconds=10)
    b = rig.job(s, seconds=10)
    rig.at(4)
    rig.sched.cancel_job(a)  # running: stopped, QPU freed, usage until now
    assert a.state == "CANCELLED" and sec(a.usage_us) == rig.approx(4)
    assert times(b) == rig.approx(0, 4, None)
    with pytest.raises(RuntimeInvalidStateError, match="already CANCELLED"):
        rig.sched.cancel_job(a)
    rig.sched.cancel_job(b)
    assert s.state == "active" and s.ittl_timer is not None  # idle now: ITTL counts from 4


def test_cancelling_the_last_job_of_a_closed_session_closes_it(make_rig: RigFactory) -> None:
    rig = make_rig()
    bg = rig.job(seconds=10)
    s = rig.session()
    j = rig.job(s, seconds=5)
    rig.sched.close(s)
    rig.sched.cancel_job(j)
    assert s.state == "closed" and bg.state == "RUNNING"


def test_every_state_change_went_through_the_model(make_virtual_rig: RigFactory) -> None:
    rig = make_virtual_rig()
    s = rig.session()
    rig.job(s)
    rig.run()
    s.lifecycle.fire("cancel")  # the model lets a test move it; the scheduler then refuses
    with pytest.raises(TransitionRefused):
        s.lifecycle.fire("job_started")


def test_started_batches_are_served_in_first_start_order(make_virtual_rig: RigFactory) -> None:
    rig = make_virtual_rig(batch_interactive_timeout=1)
    b1, b2 = rig.session("batch"), rig.session("batch")
    rig.job(b1, seconds=5)  # b1 starts first, at 0; inactive at 6
    rig.at(7)
    b2_jobs = [rig.job(b2, seconds=5) for _ in range(3)]  # b2 starts at 7
    rig.at(8)
    b1_next = [rig.job(b1, seconds=5) for _ in range(2)]  # through the normal queue
    rig.at(22.5)  # b2 drained at 22; b1 reactivated then; b2 still within its ITTL
    late = rig.job(b2, seconds=5)
    rig.run()
    assert times(b2_jobs[-1]) == (7, 17, 22)
    assert times(b1_next[0]) == (8, 22, 27)  # b1 reactivated through the normal queue
    # Both batches active with a job queued at 27: b1 started first, so it goes first.
    assert times(b1_next[1]) == (8, 27, 32)
    assert times(late) == (22.5, 32, 37)
