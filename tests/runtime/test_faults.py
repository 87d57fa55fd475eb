"""QPU faults: a failing, hanging or dying execution fails its job only; nothing is lost."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from helpers.circuits import bell
from qiskit.circuit import QuantumCircuit

from qsession.properties.invariants import check
from qsession.runtime import QPU, LocalService, RuntimeJobFailureError, SamplerV2, Session


def circuit(name: str) -> QuantumCircuit:
    qc = bell()  # ISA on the ideal QPU: the service refuses others
    qc.name = name
    return qc


class FaultyQPU(QPU):
    """An ideal QPU whose execution misbehaves for circuits named after a fault."""

    def execute(self, prepared: Any, seed: int | None) -> Any:
        name = prepared.pubs[0].circuit.name
        if name == "raises":
            raise RuntimeError("Aer: simulation failed")
        if name == "hangs":
            time.sleep(3)
        if name == "slow":
            time.sleep(0.3)  # slower than real time, within the 0.5 s execution timeout
        if name == "exits":
            raise SystemExit("worker thread exiting")
        if name == "breaks-worker":
            scheduler = self.service.scheduler_of(self)
            scheduler._pool.shutdown(wait=False)
        return super().execute(prepared, seed)


def faulty_service(clock: str = "virtual", **kwargs: Any) -> tuple[LocalService, QPU]:
    base = QPU.ideal("faulty", num_qubits=3)
    qpu = FaultyQPU("faulty", base.target)
    service = LocalService(seed=1, backends=[qpu], clock=clock,  # type: ignore[arg-type]
                           execution_timeout=0.5, **kwargs)
    return service, qpu


@pytest.mark.parametrize(
    ("fault", "message"),
    [("raises", "RuntimeError: Aer: simulation failed"),
     ("hangs", "did not finish within 0.5 s of wall time"),
     ("exits", "SystemExit: worker thread exiting")],
)
def test_a_fault_fails_its_job_and_the_qpu_goes_on(fault: str, message: str) -> None:
    service, qpu = faulty_service()
    other = Session(qpu)
    with Session(qpu) as session:
        sampler = SamplerV2(mode=session)
        bad = sampler.run([circuit(fault)], shots=100)
        good = sampler.run([circuit("ok")], shots=100)
        background = SamplerV2(mode=other).run([circuit("ok")], shots=100)
        with pytest.raises(RuntimeJobFailureError, match=message):
            bad.result()
        assert message in (bad.error_message() or "")
        assert good.result()[0].data.meas.num_shots == 100
    background.result()
    other.close()
    service.run_until_idle()
    report = check(service.trace, settled=True)
    assert report.ok, [str(v) for v in report.violations]
    assert [j.status() for j in service.all_jobs()] == ["ERROR", "DONE", "DONE"]


def test_a_broken_worker_pool_is_replaced() -> None:
    _, qpu = faulty_service()
    sampler = SamplerV2(mode=qpu)
    first = sampler.run([circuit("breaks-worker")], shots=10)
    second = sampler.run([circuit("ok")], shots=10)
    assert first.result()[0].data.meas.num_shots == 10
    assert second.result()[0].data.meas.num_shots == 10


@pytest.mark.wall
def test_a_hang_in_real_time_is_abandoned_and_the_qpu_freed() -> None:
    service, qpu = faulty_service("wall", speed=50)
    try:
        sampler = SamplerV2(mode=qpu)
        hung = sampler.run([circuit("hangs")], shots=10)
        after = sampler.run([circuit("ok")], shots=10)
        with pytest.raises(RuntimeJobFailureError, match="did not finish within"):
            hung.result(timeout=600)
        assert after.result(timeout=600)[0].data.meas.num_shots == 10
        assert check(service.trace).ok
    finally:
        service.close()


@pytest.mark.wall
def test_a_simulation_slower_than_real_time_ends_its_run_late_but_normally() -> None:
    """Canceling a session whose job outlasts its modeled run: the job still finishes."""
    service, qpu = faulty_service("wall", speed=50)
    try:
        session = Session(qpu, max_time="100h")
        job = SamplerV2(mode=session).run([circuit("slow")], shots=10)
        service.clock.wait_for(lambda: job.status() == "RUNNING", timeout_us=600_000_000)
        session.cancel()
        assert job.result(timeout=600)[0].data.meas.num_shots == 10
        assert job.status() == "DONE"
        trace = service.trace
        mine = trace.of("job", job.job_id())
        duration = next(r.data["duration_us"] for r in mine if r.event == "create")
        start = next(r for r in mine if r.dest == "RUNNING")
        finish = next(r for r in mine if r.event == "finish")
        assert isinstance(duration, int)
        modeled_end = start.t + duration
        assert finish.t > modeled_end  # 0.3 s of wall time is 15 model seconds at 50x
        # usage: the time it really held the QPU, more than the modeled run
        assert job.usage() == (finish.t - start.t) / 1e6 > job.usage_estimation["quantum_seconds"]
        assert check(trace, settled=True).ok
        # The wall clock allows a late end, never an early one.
        early = [dataclasses.replace(r, t=modeled_end - 1) if r is finish else r
                 for r in trace.records]
        wall = type(trace)(meta=trace.meta)
        wall.records = early
        report = check(wall)
        # Moving the end also leaves the recorded usage (the job's and its session's bill)
        # longer than the run the trace now shows: INV-USAGE sees that too; and the moved
        # record now stands before earlier-timed records of its QPU: INV-TIME.
        assert {v.invariant for v in report.violations} == {"INV-RUNNING-COMPLETES",
                                                            "INV-USAGE", "INV-TIME"}
        assert report.violations[0].invariant == "INV-RUNNING-COMPLETES"
    finally:
        service.close()
