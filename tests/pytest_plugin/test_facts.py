"""What users assert with: session facts at exact virtual instants, read from the trace."""

from __future__ import annotations

import pytest

from qsession.insight.metrics import compute
from qsession.properties.conditions import Condition
from qsession.properties.strategies import CIRCUITS
from qsession.pytest_plugin import session_facts, sessions
from qsession.pytest_plugin.run import start
from qsession.pytest_plugin.settings import ServiceConfig
from qsession.runtime import LocalService, SamplerV2, Session, Trace
from qsession.runtime.ibm.workload import WorkloadSpec

BELL = CIRCUITS["bell"]


def duration(trace: Trace) -> float:
    """The modeled seconds of the first job (every job here is the same Bell circuit)."""
    us = next(r.data["duration_us"] for r in trace if r.entity == "job" and r.event == "create")
    assert isinstance(us, int)
    return us / 1e6


def test_an_ittl_that_runs_out_is_billed_and_counted() -> None:
    service = LocalService(seed=1, interactive_timeout=10)
    with Session(backend=service.backend()) as session:
        sampler = SamplerV2(mode=session)
        sampler.run([BELL], shots=100).result()
        service.advance(20)  # deactivates at d + 10
        sampler.run([BELL], shots=100).result()  # reactivates at 20, done at 20 + d
    d = duration(service.trace)
    facts = session_facts(service, session)
    assert (facts.state, facts.mode, facts.activations, facts.deactivations) == (
        "closed", "dedicated", 2, 1)
    assert facts.reserved_idle == pytest.approx(10, abs=1e-9)
    assert facts.usage == pytest.approx((d + 10) + d, abs=1e-9)
    assert facts.usage == pytest.approx(session.usage(), abs=1e-9)  # the runtime agrees
    assert facts.done == facts.jobs == ("j2", "j3")
    assert facts.expired == facts.cancelled == facts.failed == ()


def test_expired_and_cancelled_jobs_are_told_apart() -> None:
    service = LocalService(seed=1)
    probe = SamplerV2(mode=service.backend()).run([BELL], shots=100)
    probe.result()
    d = duration(service.trace)
    expiring = Session(backend=service.backend(), max_time=1.5 * d)
    jobs = [SamplerV2(mode=expiring).run([BELL], shots=100) for _ in range(3)]
    service.run_until_idle()
    facts = session_facts(service.trace, expiring.session_id)  # a Trace works as well
    assert facts.state == "expired"
    assert facts.done == tuple(j.job_id() for j in jobs[:2])  # the second ran through expiry
    assert facts.expired == (jobs[2].job_id(),) and facts.cancelled == ()

    cancelled = Session(backend=service.backend())
    jobs = [SamplerV2(mode=cancelled).run([BELL], shots=100) for _ in range(3)]
    cancelled.cancel()
    service.run_until_idle()
    facts = session_facts(service, cancelled)
    assert facts.state == "canceled"
    assert facts.done == (jobs[0].job_id(),)  # it was running: it completes
    assert facts.cancelled == tuple(j.job_id() for j in jobs[1:]) and facts.expired == ()


def test_a_qpu_fault_is_a_failed_job_not_an_expired_one() -> None:
    service, _ = Condition(seed=3, fault_rate=1.0).build()
    with Session(backend=service.backend()) as session:
        job = SamplerV2(mode=session).run([BELL], shots=100)
    service.run_until_idle()
    facts = session_facts(service, session)
    assert facts.failed == (job.job_id(),) and facts.expired == ()
    assert compute(service.trace).jobs[job.job_id()].ended_by == "fail"


def test_an_unknown_session_is_a_key_error_naming_the_sessions_there_are() -> None:
    service = LocalService(seed=1)
    Session(backend=service.backend()).close()
    with pytest.raises(KeyError, match="no session 's9' in this trace; it has s1"):
        session_facts(service, "s9")


def test_sessions_leaves_the_background_tenants_out() -> None:
    spec = WorkloadSpec(tenants=1, horizon=30, backlog=0, rate=0, session_starts=(0.5,),
                        session_jobs=2)
    run = start(ServiceConfig(seed=4, seed_origin="test", clock="virtual", tenants=spec))
    service = run.service
    with Session(backend=service.backend()) as mine:
        SamplerV2(mode=mine).run([BELL], shots=100).result()
    service.advance(10)
    assert len(run.tenant_sessions) == 1
    everything = set(compute(service.trace).sessions)
    assert everything == {mine.session_id} | run.tenant_sessions
    assert [f.id for f in sessions(service)] == [mine.session_id]
    bare = LocalService(seed=1)
    with Session(backend=bare.backend()) as one, Session(backend=bare.backend()) as two:
        pass
    assert [f.id for f in sessions(bare)] == [one.session_id, two.session_id]
    service.close()
