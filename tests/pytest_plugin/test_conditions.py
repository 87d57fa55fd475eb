"""Conditions for Hypothesis: a drawn condition builds the same service every time."""

from __future__ import annotations

import gc
import random
import re
import weakref

import pytest
from hypothesis import given, settings

from qsession.properties.conditions import FAULT_MESSAGE, Condition, FaultyQPU
from qsession.properties.invariants import check
from qsession.properties.strategies import CIRCUITS, conditions
from qsession.pytest_plugin import SessionCheckFailed, perturbed
from qsession.pytest_plugin.artifacts import folder_name
from qsession.pytest_plugin.settings import derive_seed
from qsession.runtime import (
    Batch,
    IBMRuntimeError,
    LocalService,
    RuntimeJobFailureError,
    SamplerV2,
    Session,
)

BELL = CIRCUITS["bell"]


def loop(condition: Condition, steps: int = 4) -> str:
    """A short session loop under ``condition``; the trace it leaves."""
    service, background = condition.build()
    with Session(backend=service.backend()) as session:
        sampler = SamplerV2(mode=session)
        for _ in range(steps):
            try:
                sampler.run([BELL], shots=100).result()
            except RuntimeJobFailureError:  # a fault, or expiry while it queued
                pass
            except IBMRuntimeError:  # the session ended: nothing more to submit
                break
            service.advance(condition.think_time)
    if background is not None:
        background.cancel()
    service.run_until_idle()
    report = check(service.trace, settled=True)
    assert report.ok, [str(v) for v in report.violations]
    return service.trace.dumps()


def test_the_same_condition_replays_exactly_tenants_and_faults_included() -> None:
    harsh = Condition(seed=11, interactive_timeout=2.0, max_time=60.0, think_time=5.0,
                      tenants=2, fault_rate=0.2)
    assert loop(harsh) == loop(harsh)
    assert loop(harsh) != loop(Condition(**{**harsh.__dict__, "seed": 12}))


def test_tenants_share_the_qpu() -> None:
    service, background = Condition(seed=5, tenants=3).build()
    assert background is not None and background.workload.jobs
    service.advance(60)
    tagged = [job for job in service.jobs() if job.tags]
    assert len(tagged) >= 6 and {tag for job in tagged for tag in job.tags} <= {
        "tenant-a", "tenant-b", "tenant-c"}


def test_a_fault_fails_just_its_job_with_the_qpu_fault_message() -> None:
    condition = Condition(seed=1, fault_rate=0.5)
    service, _ = condition.build()
    qpu = service.backend()
    assert isinstance(qpu, FaultyQPU)
    jobs = [SamplerV2(mode=qpu).run([BELL], shots=100) for _ in range(8)]
    service.run_until_idle()
    # each job's simulator seed is the service's next draw, in submission order
    draws = random.Random(condition.seed)
    expected = ["ERROR" if qpu.fails(draws.getrandbits(32)) else "DONE" for _ in jobs]
    assert [job.status() for job in jobs] == expected and len(set(expected)) == 2
    failed = jobs[expected.index("ERROR")]
    with pytest.raises(RuntimeJobFailureError, match=re.escape(FAULT_MESSAGE)):
        failed.result()


def test_faults_hit_about_their_rate_and_depend_on_the_seeds_alone() -> None:
    qpu = Condition().build()[0].backend()
    faulty = FaultyQPU("f", qpu.target, fault_rate=0.2, fault_seed=9)
    hits = [faulty.fails(seed) for seed in range(2_000)]
    assert 0.17 < sum(hits) / len(hits) < 0.23
    again = FaultyQPU("g", qpu.target, fault_rate=0.2, fault_seed=9)
    assert hits == [again.fails(seed) for seed in range(2_000)]
    other = FaultyQPU("h", qpu.target, fault_rate=0.2, fault_seed=10)
    assert hits != [other.fails(seed) for seed in range(2_000)]


@pytest.mark.parametrize("field", ["interactive_timeout", "max_time", "think_time", "tenants",
                                   "fault_rate", "plan"])
def test_an_impossible_condition_is_refused(field: str) -> None:
    bad = {"interactive_timeout": 0.0, "max_time": -1.0, "think_time": -1.0, "tenants": -1,
           "fault_rate": 1.5, "plan": "gold"}[field]
    with pytest.raises(ValueError, match="invalid condition"):
        Condition(**{field: bad})


def test_build_refuses_what_the_condition_sets() -> None:
    with pytest.raises(TypeError, match=r"the condition sets \['max_time'\]"):
        Condition().build(max_time=5)


@settings(max_examples=25, deadline=None)
@given(condition=conditions())
def test_drawn_conditions_keep_every_invariant(condition: Condition) -> None:
    loop(condition, steps=2)


def test_perturbed_fails_an_open_session_also_outside_pytest_hooks() -> None:
    with pytest.raises(SessionCheckFailed, match="Session s1 on qsession_ideal was left open"):  # noqa: SIM117
        with perturbed(Condition()) as service:
            Session(backend=service.backend())
    with perturbed(Condition(), allow_open_sessions=True) as service:
        Session(backend=service.backend())


def test_seeds_and_folder_names() -> None:
    assert derive_seed(0, "a.py::t") == derive_seed(0, "a.py::t")
    assert len({derive_seed(b, n) for b in range(5) for n in ("a::x", "a::y")}) == 10
    assert 0 <= derive_seed(123, "x") < 2**31
    assert folder_name("tests/test_a.py::test_b[x-1/2]") == "tests_test_a.py__test_b_x-1_2"
    long = folder_name("t.py::test_" + "x" * 200)
    assert len(long) == 80 and long != folder_name("t.py::test_" + "x" * 199)


def test_a_finished_example_keeps_no_service_alive() -> None:
    # Hypothesis runs hundreds of examples in one test: each example's service must be
    # freed once the next one has replaced it (only the last is kept, for the report).
    def example() -> weakref.ref[LocalService]:
        with perturbed(Condition(tenants=1)) as service, \
                Session(backend=service.backend()) as session:
            SamplerV2(mode=session).run([BELL], shots=100).result()
        return weakref.ref(service)

    first, second = example(), example()
    gc.collect()
    assert first() is None and second() is not None


def test_on_the_open_plan_a_session_is_refused_and_a_batch_capped() -> None:
    service, _ = Condition(plan="open").build()
    with pytest.raises(IBMRuntimeError, match="Open Plan users cannot submit session jobs"):
        Session(backend=service.backend())
    with Batch(backend=service.backend()) as batch:
        assert batch.details()["max_time"] == 600
