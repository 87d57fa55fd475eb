"""Billing, idle close, plans, quota and fair share on exact virtual timestamps."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from helpers.circuits import bell
from helpers.rig import Rig, times

from qsession.model import EXPIRY_REASON
from qsession.properties.invariants import check
from qsession.runtime import (
    Batch,
    IBMInputValueError,
    IBMRuntimeError,
    LocalService,
    SamplerV2,
    Session,
    Trace,
)
from qsession.runtime.engine.clock import VirtualClock, to_seconds, to_us
from qsession.runtime.engine.fairshare import FairShare
from qsession.runtime.engine.scheduler import Scheduler, SessionClosedError
from qsession.runtime.engine.settings import Instance, QPUSettings


def sec(us: int | None) -> float | None:
    return None if us is None else to_seconds(us)


def assert_invariants(trace: Trace) -> None:
    report = check(trace, settled=True)
    assert report.ok, "\n".join(map(str, report.violations))


# -- the usage meter ----------------------------------------------------------------------


def test_a_session_expired_while_its_job_runs_is_billed_until_the_job_ends() -> None:
    # IBM (guide "workload usage" / session FAQ): "usage continues to accumulate after a
    # session ends if the QPU is still running a job"; the session is billed until
    # whichever happens last. Before revision 2 this session was billed 100 s.
    rig = Rig(interactive_timeout=60)
    s = rig.session(max_time=100)
    first = rig.job(s, seconds=50)
    running = rig.job(s, seconds=102)  # 50 → 152, still running at the 100 s expiry
    queued = rig.job(s, seconds=5)
    rig.at(100)
    assert s.state == "expired" and queued.state == "ERROR" and queued.error == EXPIRY_REASON
    assert s.billed_us(rig.clock.now()) == to_us(100)
    rig.at(120)
    assert s.billed_us(rig.clock.now()) == to_us(120)  # the meter still runs
    rig.run()
    assert times(first) == (0, 0, 50) and times(running) == (0, 50, 152)
    assert s.usage_us == to_us(152) and sec(s.closed_at) == 100
    assert (first.usage_us, running.usage_us, queued.usage_us) == (to_us(50), to_us(102), 0)
    bills = [r for r in rig.trace if r.event == "bill"]
    assert [(sec(r.t), r.data["usage_us"]) for r in bills] == [(152, to_us(152))]
    assert_invariants(rig.trace)


def test_usage_sums_active_spans_held_idle_time_included() -> None:
    rig = Rig(interactive_timeout=60)
    s = rig.session()
    rig.job(s, seconds=10)          # active 0 → 10, held idle until the ITTL at 70
    rig.at(100)
    rig.job(s, seconds=5)           # reactivated at 100, 100 → 105
    rig.at(110)
    with rig.clock.lock:
        rig.sched.close(s)          # closed at 110 with nothing in flight
    assert s.usage_us == to_us(70 + 10) and s.reserved_idle_us == to_us(60 + 5)
    assert_invariants(rig.trace)


def test_a_job_failed_by_a_qpu_fault_is_billed_nothing() -> None:
    # IBM reports usage 0 for a job the system failed.
    def hang(payload: Any, seed: int | None) -> Any:
        time.sleep(0.5)

    clock, trace = VirtualClock(), Trace()
    sched = Scheduler("qpu", clock, trace, QPUSettings(), hang, execution_timeout=0.05)
    with clock.lock:
        job = sched.submit(None, instance="default", kind="null", payload=object(),
                           duration_us=to_us(8))
    assert clock.wait_for(sched.is_idle, to_us(60))
    assert job.state == "ERROR" and job.error is not None and job.error.startswith("QPU fault")
    assert (job.held_us, job.usage_us) == (to_us(8), 0)
    assert sched.fair_share.used("default", clock.now()) == 0  # and charged nothing
    finish = next(r for r in trace if r.entity == "job" and r.event == "fail")
    assert finish.data["usage_us"] == 0
    sched.shutdown()
    assert_invariants(trace)


# -- unused sessions close -----------------------------------------------------------


def test_a_never_used_session_closes_at_1800_s_and_refuses_a_late_submit() -> None:
    # IBM: "If you open a session but do not submit any jobs to it for 30 minutes, the
    # session automatically closes" (guide "Run jobs in a session").
    rig = Rig()
    unused = rig.session()
    used = rig.session()
    rig.at(1799.999999)
    rig.job(used, seconds=1)
    assert unused.state == "pending" and unused.lifecycle.accepting_jobs
    rig.at(1800)
    assert unused.state == "closed" and not unused.lifecycle.accepting_jobs
    assert sec(unused.closed_at) == 1800 and used.state == "active"
    events = rig.events("session", unused.id)
    assert events[-1] == (1800, "idle_close_elapsed", "closed")
    with pytest.raises(SessionClosedError, match="The session is closed: session s1 is closed"):
        rig.job(unused, seconds=1)
    assert len(unused.jobs) == 0
    rig.run()
    assert_invariants(rig.trace)


def test_idle_close_is_configurable_and_can_be_disabled() -> None:
    service = LocalService(seed=1, idle_close_timeout=None)
    kept = Session(service.backend())
    service.advance(10_000)
    assert kept.details()["state"] == "open"
    quick = LocalService(seed=1, idle_close_timeout=30)
    batch = Batch(quick.backend())
    quick.advance(30)
    assert batch.details()["state"] == "closed" and batch.state == "closed"
    assert batch.details()["closed_at"] == "2025-01-01T00:00:30.000000Z"
    with pytest.raises(IBMInputValueError, match="idle_close_timeout=0"):
        LocalService(idle_close_timeout=0)


# -- plans --------------------------------------------------------------------------------


def open_plan_service(**kwargs: Any) -> LocalService:
    return LocalService(seed=2, instances={"premium": 1.0, "open": {"plan": "open"}}, **kwargs)


def test_the_open_plan_refuses_a_session_as_ibm_does() -> None:
    # IBM: "Open Plan users cannot submit session jobs. Workloads must be run in job mode
    # or batch mode" (guide "Run jobs in a session").
    service = open_plan_service()
    with pytest.raises(IBMRuntimeError, match="Open Plan users cannot submit session jobs"):
        Session(service.backend(), instance="open")
    assert service.scheduler_of(service.backend()).sessions == {}  # no session was created
    assert Session(service.backend(), instance="premium").details()["max_time"] == 28_800


def test_an_open_plan_batch_is_capped_at_600_s() -> None:
    service = open_plan_service()
    batch = Batch(service.backend(), instance="open")
    assert batch.details()["max_time"] == 600
    assert Batch(service.backend(), instance="open", max_time="5m").details()["max_time"] == 300
    with pytest.raises(IBMInputValueError, match="exceeds the Open Plan's limit of 600s"):
        Batch(service.backend(), instance="open", max_time=601)
    job = SamplerV2(mode=batch).run([bell()], shots=100)
    job.result()
    service.advance(600)
    assert batch.details()["state"] == "closed" and batch.state == "expired"


def test_ittl_and_max_ttl_belong_to_the_instance() -> None:
    service = LocalService(seed=3, instances={
        "a": {"interactive_timeout": 5, "max_time": 900},
        "b": {"interactive_timeout": 90}})
    a, b = Session(service.backend(), instance="a"), Session(service.backend(), instance="b")
    assert (a.details()["interactive_timeout"], a.details()["max_time"]) == (5, 900)
    assert (b.details()["interactive_timeout"], b.details()["max_time"]) == (90, 28_800)


def test_the_quota_holds_jobs_queued_and_releases_them() -> None:
    # A Decision: past its quota an Open-Plan instance's jobs wait QUEUED (IBM does not say).
    rig = Rig(instances={"open": Instance(plan="open", quota=10)}, fair_share_window=100)
    j1 = rig.job(seconds=6)
    j2 = rig.job(seconds=6)      # starts at 6 with 6 s used (< 10)
    j3 = rig.job(seconds=1)      # 12 s used at 12: over the quota
    rig.at(102)
    # Charged (0, 6) and (6, 12); at t the window is [t - 100, t]: used(102) = 4 + 6 = 10.
    assert times(j1) == (0, 0, 6) and times(j2) == (0, 6, 12)
    assert j3.state == "QUEUED"
    rig.run()
    assert times(j3) == (0, 102.000001, 103.000001)  # the first instant used < 10 s
    hold = next(r for r in rig.trace if r.event == "quota_hold")
    assert sec(hold.t) == 12 and hold.data["until_us"] == 102_000_001
    assert "used 12s of its 10s quota" in str(hold.data["reason"])
    assert any(r.event == "quota_release" and r.t == 102_000_001 for r in rig.trace)
    assert_invariants(rig.trace)


# -- fair share across QPUs ---------------------------------------------------------


def two_qpus(**settings: Any) -> tuple[VirtualClock, Trace, Scheduler, Scheduler]:
    clock, trace = VirtualClock(), Trace()
    qs = QPUSettings(instances={"a": 1.0, "b": 1.0}, **settings)
    shared = FairShare(qs.allocations, to_us(qs.fair_share_window))
    ids = itertools.count(1)  # one id sequence per service, as LocalService does
    one = Scheduler("q1", clock, trace, qs, ids=ids, fair_share=shared)
    two = Scheduler("q2", clock, trace, qs, ids=ids, fair_share=shared)
    return clock, trace, one, two


def submit(sched: Scheduler, seconds: float, instance: str, session: Any = None) -> Any:
    with sched.clock.lock:
        return sched.submit(session, instance=instance, kind="null", payload=None,
                            duration_us=to_us(seconds))


def test_fair_share_counts_an_instances_use_on_every_qpu() -> None:
    clock, trace, one, two = two_qpus()
    submit(one, 100, "a")                  # a uses q1 from 0 to 100
    clock.advance_to(to_us(100))
    blocker = submit(two, 10, "b")         # q2 busy 100 → 110
    late_a, late_b = submit(two, 5, "a"), submit(two, 5, "b")  # a submitted first
    assert clock.wait_for(lambda: one.is_idle() and two.is_idle(), to_us(1000))
    # a has 100 s on q1, b 10 s on q2: b goes first on q2 although a queued first.
    assert times(blocker) == (100, 100, 110)
    assert times(late_b) == (100, 110, 115) and times(late_a) == (100, 115, 120)
    assert_invariants(trace)


def test_a_session_is_charged_its_held_idle_time_and_cancelled_jobs_nothing() -> None:
    clock, trace, one, two = two_qpus(interactive_timeout=60)
    with clock.lock:
        s = one.open_session("dedicated", max_time_us=to_us(3600), ittl_us=to_us(60),
                             instance="a")
    submit(one, 10, "a", s)        # active 0 → 10, then held idle until 70: charged 70 s
    stopped = submit(two, 50, "b")  # b's job on q2, cancelled by its user at 40
    clock.advance_to(to_us(40))
    with clock.lock:
        two.cancel_job(stopped)
    clock.advance_to(to_us(70))
    assert s.state == "inactive" and one.fair_share.used("a", clock.now()) == to_us(70)
    assert one.fair_share.used("b", clock.now()) == 0 and stopped.usage_us == to_us(40)
    blocker = submit(two, 10, "b")  # q2 busy 70 → 80
    late_a, late_b = submit(two, 5, "a"), submit(two, 5, "b")
    assert clock.wait_for(lambda: one.is_idle() and two.is_idle(), to_us(1000))
    # a is charged 70 s (10 s of work, 60 s held idle), b 10 s: b goes first.
    assert times(blocker) == (70, 70, 80)
    assert times(late_b) == (70, 80, 85) and times(late_a) == (70, 85, 90)
    assert_invariants(trace)


def test_replay_redoes_idle_close_quota_and_shared_fair_share() -> None:
    from qsession.runtime.engine.replay import replay

    service = LocalService(seed=5, idle_close_timeout=20, fair_share_window=3600,
                           instances={"p": 1.0, "o": {"plan": "open", "quota": 3}},
                           backends=["fake_manila", "fake_quito"])
    Session(service.backend("fake_manila"), instance="p")  # never used: closes at 20 s
    for name in ("fake_manila", "fake_quito"):
        for _ in range(2):
            SamplerV2(mode=service.backend(name), instance="o").run([bell()], shots=100)
    service.run_until_idle()
    events = {r.event for r in service.trace}
    assert {"idle_close_elapsed", "quota_hold", "quota_release", "bill"} - events == {"bill"}
    result = replay(service.trace)
    assert result.difference is None, result.difference
    assert_invariants(service.trace)


def test_session_usage_through_the_api_is_ibms_whichever_happens_last() -> None:
    # qiskit-ibm-runtime 0.51, Session.usage: "the time from when the first job starts
    # until the session goes inactive, is closed, or when its last job completes,
    # whichever happens last"; None before the session used the QPU.
    service = LocalService(seed=6)
    session = Session(service.backend(), max_time=10)
    assert session.usage() is None and session.details()["usage_time"] is None
    sampler = SamplerV2(mode=session)
    jobs = [sampler.run([bell()], shots=20_000) for _ in range(3)]  # 2 s + 20,000 shots each
    run = jobs[0].usage_estimation["quantum_seconds"]
    assert 7 < run < 7.1  # 2 s + 20,000 × (250 µs + the ~1.5 µs circuit)
    service.advance(10)              # expiry at 10 s: the second job runs until 2 × run
    assert session.state == "expired" and jobs[2].status() == "ERROR"
    assert session.usage() == 10 and jobs[1].status() == "RUNNING"
    jobs[1].wait_for_final_state()
    assert session.usage() == pytest.approx(2 * run) == session.details()["usage_time"]
    assert session.details()["closed_at"] == "2025-01-01T00:00:10.000000Z"
    assert_invariants(service.trace)
