"""``service.jobs()`` filters and order, job tags, inputs, deletion, usage and instances.

IBM's semantics (qiskit_runtime_service.py, runtime_job_v2.py in qiskit-ibm-runtime 0.51):
newest first, ``limit=10`` by default, ``job_tags`` matches jobs carrying all the tags,
creation bounds inclusive, tags validated as "a list of strings".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from helpers.circuits import bell, isa

from qsession.runtime import (
    QPU,
    Batch,
    EstimatorV2,
    IBMInputValueError,
    IBMRuntimeError,
    LocalService,
    RuntimeJobNotFound,
    SamplerV2,
    Session,
)


@pytest.fixture
def service() -> LocalService:
    """Two QPUs, two instances, 13 jobs at known virtual instants (one per second)."""
    svc = LocalService(seed=3, backends=[QPU.ideal("alpha", 4), QPU.ideal("beta", 4)],
                       instances={"team-a": 1.0, "team-b": 1.0})
    alpha, beta = svc.backend("alpha"), svc.backend("beta")
    circuit_a, circuit_b = isa(bell(), alpha), isa(bell(), beta)
    for i in range(12):
        qpu, circuit = (alpha, circuit_a) if i % 3 else (beta, circuit_b)
        sampler = SamplerV2(mode=qpu, instance="team-b" if i == 5 else None)
        sampler.options.environment.job_tags = ["even" if i % 2 == 0 else "odd", f"n{i}"]
        sampler.run([circuit], shots=10)
        svc.advance(1)
    svc.run_until_idle()
    return svc


def ids(jobs: list) -> list[str]:
    return [j.job_id() for j in jobs]


def test_default_is_the_ten_newest_first(service: LocalService) -> None:
    everything = service.jobs(limit=None, descending=False)
    assert len(everything) == 12
    created = [j.creation_date for j in everything]
    assert created == sorted(created)
    assert ids(service.jobs()) == ids(everything[::-1][:10])
    assert ids(service.jobs(limit=3, skip=2)) == ids(everything[::-1][2:5])
    assert ids(service.jobs(limit=2, descending=False)) == ids(everything[:2])
    assert service.jobs(skip=20) == []
    with pytest.raises(IBMInputValueError, match="limit must be an integer >= 0"):
        service.jobs(limit=-1)
    with pytest.raises(IBMInputValueError, match="skip must be an integer >= 0"):
        service.jobs(skip=1.5)  # type: ignore[arg-type]


def test_each_filter(service: LocalService) -> None:
    every = service.jobs(limit=None)
    assert {j.backend().name for j in service.jobs(limit=None, backend_name="beta")} == {"beta"}
    assert len(service.jobs(limit=None, backend_name="beta")) == 4  # i = 0, 3, 6, 9
    with pytest.raises(Exception, match="no backend named 'gamma'"):
        service.jobs(backend_name="gamma")
    assert [j.instance for j in service.jobs(instance="team-b")] == ["team-b"]
    assert len(service.jobs(limit=None, instance="team-a")) == 11
    assert len(service.jobs(limit=None, program_id="sampler")) == 12
    assert service.jobs(program_id="estimator") == []
    odd = service.jobs(limit=None, job_tags=["odd"])
    assert len(odd) == 6 and all("odd" in j.tags for j in odd)
    assert [j.tags for j in service.jobs(job_tags=["odd", "n5"])] == [["odd", "n5"]]
    assert service.jobs(job_tags=["odd", "n4"]) == []  # all tags must match
    with pytest.raises(IBMInputValueError, match="job_tags needs to be a list of strings"):
        service.jobs(job_tags="odd")  # type: ignore[arg-type]
    # creation bounds, inclusive: jobs were created at epoch + 0 s, 1 s, ..., 11 s
    epoch = service.clock.epoch
    window = service.jobs(limit=None, created_after=epoch + timedelta(seconds=3),
                          created_before=epoch + timedelta(seconds=5))
    assert [j.creation_date - epoch for j in window] == [timedelta(seconds=s) for s in (5, 4, 3)]
    naive = (epoch + timedelta(seconds=10)).replace(tzinfo=None)  # naive = UTC
    assert len(service.jobs(created_after=naive)) == 2
    # pending: every job is final now; a new queued one is the only pending job
    assert service.jobs(pending=True) == []
    assert len(service.jobs(limit=None, pending=False)) == len(every)
    fresh = SamplerV2(mode=service.backend("alpha")).run(
        [isa(bell(), service.backend("alpha"))], shots=10)
    assert ids(service.jobs(pending=True)) == [fresh.job_id()]


def test_session_filter_and_primitive_ids() -> None:
    svc = LocalService(seed=1)
    qpu = svc.backend()
    circuit = isa(bell(), qpu)
    plain = SamplerV2(mode=qpu).run([circuit], shots=5)
    with Session(backend=qpu) as session:
        s1 = SamplerV2(mode=session).run([circuit], shots=5)
        measured_free = isa(bell(False), qpu)
        e1 = EstimatorV2(mode=session).run([(measured_free, _zz(measured_free))])
    with Batch(backend=qpu) as batch:
        b1 = SamplerV2(mode=batch).run([circuit], shots=5)
    svc.run_until_idle()
    assert ids(svc.jobs(session_id=session.session_id)) == [e1.job_id(), s1.job_id()]
    assert ids(svc.jobs(session_id=batch.session_id)) == [b1.job_id()]
    assert [j.primitive_id for j in svc.jobs(session_id=session.session_id)] == [
        "estimator", "sampler"]
    assert plain.session_id is None and plain.program_id == "sampler"


def _zz(isa_circuit: Any) -> Any:
    from qiskit.quantum_info import SparsePauliOp

    return SparsePauliOp("ZZ").apply_layout(isa_circuit.layout)


def test_tags_inputs_properties_and_backend(service: LocalService) -> None:
    job = service.jobs(limit=1)[0]
    assert sorted(job.tags) == ["even", "n10"] or sorted(job.tags) == ["n11", "odd"]
    assert job.update_tags(["x", "y", "x"]) == ["x", "y"]
    assert job.tags == ["x", "y"]
    assert ids(service.jobs(job_tags=["x"])) == [job.job_id()]
    with pytest.raises(IBMInputValueError, match="job_tags needs to be a list of strings"):
        job.update_tags("x")  # type: ignore[arg-type]
    inputs = job.inputs
    assert inputs["version"] == 2 and len(inputs["pubs"]) == 1
    assert inputs["options"]["environment"]["job_tags"] == ["odd", "n11"]
    assert job.backend() is service.backend("alpha")
    assert job.properties() == job.backend().properties()
    assert job.private is False


def test_delete_job(service: LocalService) -> None:
    newest = service.jobs(limit=1)[0]
    service.delete_job(newest.job_id())
    with pytest.raises(RuntimeJobNotFound, match="Job not found"):
        service.job(newest.job_id())
    assert newest.job_id() not in ids(service.jobs(limit=None))
    assert len(service.jobs(limit=None)) == 11
    with pytest.raises(RuntimeJobNotFound):
        service.delete_job(newest.job_id())
    qpu = service.backend("alpha")
    queued = SamplerV2(mode=qpu).run([isa(bell(), qpu)], shots=5)
    with pytest.raises(IBMRuntimeError, match="only a final job can be deleted"):
        service.delete_job(queued.job_id())


def test_usage_instances_and_channel(service: LocalService) -> None:
    usage = service.usage()
    assert usage["instance_id"] == "team-a"
    # 11 team-a jobs, each held its QPU for its modeled duration
    held = sum(j.usage() for j in service.jobs(limit=None, instance="team-a"))
    assert usage["usage_consumed_seconds"] == pytest.approx(held)
    assert usage["usage_limit_reached"] is False
    assert [i["crn"] for i in service.instances()] == ["team-a", "team-b"]
    assert service.active_instance() == "team-a"
    assert service.channel == "local"
    from qsession.runtime import QiskitRuntimeService

    assert QiskitRuntimeService(channel="ibm_quantum_platform").channel == "ibm_quantum_platform"
