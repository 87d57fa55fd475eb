"""IBM's executor primitives in process: ``qsession.runtime.executor_sampler.Sampler``,
``.executor_estimator.Estimator``, ``Executor`` and ``options_models`` (client 0.50+).

The programs are the ones tests/server/test_executor.py runs through the real client over
HTTP (tests/helpers/executor_programs.py), here with qsession's names. Virtual time:
every timestamp is exact.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers.executor_programs import (
    api_of,
    bell,
    duration,
    expiry_and_cancel,
    hand_built_program,
    isa,
    primitives_in,
    seconds,
    times,
)
from qiskit.primitives import PrimitiveResult

from qsession.runtime import (
    Executor,
    IBMInputValueError,
    LocalService,
    QuantumProgram,
    QuantumProgramResult,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
)
from qsession.runtime.executor_sampler import Sampler
from qsession.runtime.options_models import ExecutorOptions, SamplerOptions

API = api_of("qsession.runtime")


@pytest.fixture
def service() -> LocalService:
    return LocalService(seed=5)


@pytest.mark.parametrize("twirl", [False, True], ids=["plain", "twirled"])
@pytest.mark.parametrize("mode", ["session", "batch", "job"])
def test_sampler_and_estimator_in_each_mode(service: LocalService, mode: str,
                                            twirl: bool) -> None:
    qpu = service.backend()
    out = primitives_in(API, qpu, service.run_until_idle, mode, twirl)
    sampled, estimated = out["jobs"]
    assert set(out["counts"]) == {"00", "11"}  # an ideal QPU: a Bell pair, nothing else
    # Twirled: IBM's TwirlingOptions split 100 shots into 2 randomizations of 64 shots.
    assert sum(out["counts"].values()) == (128 if twirl else 100)
    assert out["evs"] == pytest.approx(1.0, abs=1e-9)  # ZZ of a Bell pair, ideal
    assert isinstance(out["sampler_metadata"]["executor"].chunk_timing, list)
    for job in (sampled, estimated):
        assert job.primitive_id == job.program_id == "executor" and job.status() == "DONE"
    # Both jobs were submitted at 0 and ran back to back (one QPU, FIFO).
    d1, d2 = duration(sampled), duration(estimated)
    assert times(sampled) == (0.0, 0.0, d1)
    assert times(estimated) == (0.0, d1, round(d1 + d2, 6))
    expected_session = None if mode == "job" else out["holder"].session_id
    assert sampled.session_id == estimated.session_id == expected_session
    if mode != "job":
        details = out["holder"].details()
        assert details["mode"] == ("dedicated" if mode == "session" else "batch")
        assert details["state"] == "closed"
        assert seconds(details["closed_at"]) == round(d1 + d2, 6)


def test_twirling_multiplies_executions_by_randomizations(service: LocalService) -> None:
    """Executions = shots × parameter sets × randomizations, one sub-job per pub."""
    qpu = service.backend()
    circuit = isa(qpu, bell())
    timing = qpu.timing
    seconds = timing.circuit_seconds(circuit, qpu.target)
    plain = Sampler(mode=qpu, options={"twirling": {"enable_gates": False,
                                                    "enable_measure": False}})
    job = plain.run([circuit], shots=100)
    assert job.usage_estimation["quantum_seconds"] == timing.job_microseconds(
        [(seconds, 100)]) / 1e6
    twirled = Sampler(mode=qpu, options={"twirling": {"enable_gates": True,
                                                      "num_randomizations": 4,
                                                      "shots_per_randomization": 30}})
    job = twirled.run([circuit], shots=120)
    template = job.inputs["quantum_program"].items[0].circuit
    template_s = timing.circuit_seconds(template, qpu.target)
    assert job.usage_estimation["quantum_seconds"] == timing.job_microseconds(
        [(template_s, 30)] * 4) / 1e6
    assert job.metrics()["num_circuits"] == 4
    counts = job.result()[0].data.meas.get_counts()
    assert sum(counts.values()) == 120 and set(counts) == {"00", "11"}


def test_executor_runs_a_hand_built_program(service: LocalService) -> None:
    qpu = service.backend()
    out = hand_built_program(API, qpu, service.run_until_idle)
    job, result = out["job"], out["result"]
    assert isinstance(result, QuantumProgramResult)  # no semantic role: not post-processed
    rotation = result[0]["meas"]
    assert rotation.shape == (2, 40, 1)
    assert not rotation[0].any() and rotation[1].all()  # rx(0) gives 0, rx(pi) gives 1
    pair = result[1]["meas"]
    assert pair.shape == (40, 2) and (pair[:, 0] == pair[:, 1]).all()
    # One chunk per item, back to back over the job's QPU span.
    spans = result.metadata.chunk_timing
    _, start, end = times(job)
    assert [(p.idx_item, p.size) for s in spans for p in s.parts] == [(0, 2), (1, 1)]
    assert seconds(spans[0].start) == start and seconds(spans[1].stop) == end
    assert spans[0].stop == spans[1].start
    assert job.tags == ["hand-built"] and service.jobs(job_tags=["hand-built"])[0].job_id() \
        == job.job_id()
    again = service.job(job.job_id()).result()  # retrieved later: decoded the same way
    assert np.array_equal(again[1]["meas"], pair)
    assert start == 0.0 and end == duration(job)


def test_queued_executor_jobs_expire_at_max_ttl_and_cancel_at_once(
        service: LocalService) -> None:
    out = expiry_and_cancel(API, service.backend(), service.advance)
    long, queued, cancelled = out["long"], out["queued"], out["cancelled"]
    d = duration(long)
    assert d > 2.0
    # Cancelled while queued, at exactly 0.5 s; never ran.
    assert cancelled.status() == "CANCELLED" and times(cancelled) == (0.0, None, 0.5)
    # At max TTL (started 0 + 2 s) queued jobs fail; the running one completes.
    assert queued.status() == "ERROR" and times(queued) == (0.0, None, 2.0)
    assert "max time" in (queued.error_message() or "")
    assert long.status() == "DONE" and times(long) == (0.0, 0.0, d)
    with pytest.raises(RuntimeJobFailureError):
        queued.result()
    with pytest.raises(RuntimeInvalidStateError, match="cancelled"):
        cancelled.result()
    assert out["session"].details()["state"] == "closed"  # IBM's vocabulary
    assert out["session"].state == "expired"  # the model's


def test_non_isa_circuits_are_refused_and_strict_isa_false_transpiles() -> None:
    strict = LocalService(seed=1)
    with pytest.raises(IBMInputValueError, match="sampler pub 0: The instruction h"):
        Sampler(mode=strict.backend()).run([bell()])
    program = QuantumProgram(shots=10)
    program.append_circuit_item(bell())
    with pytest.raises(IBMInputValueError, match="quantum program item 0: The instruction h"):
        Executor(strict.backend()).run(program)
    lenient = LocalService(seed=1, strict_isa=False)
    counts = Sampler(mode=lenient.backend()).run([bell()], shots=50).result()[
        0].data.meas.get_counts()
    assert sum(counts.values()) == 50 and set(counts) == {"00", "11"}


def test_bad_programs_and_options_are_refused_with_the_fix(service: LocalService) -> None:
    qpu = service.backend()
    executor = Executor(qpu)
    with pytest.raises(IBMInputValueError, match="takes a QuantumProgram"):
        executor.run([isa(qpu, bell())])
    with pytest.raises(IBMInputValueError, match="no items"):
        executor.run(QuantumProgram(shots=10))
    kerneled = QuantumProgram(shots=10, meas_level="kerneled")
    kerneled.append_circuit_item(isa(qpu, bell()))
    with pytest.raises(IBMInputValueError, match="classified bits only"):
        executor.run(kerneled)
    with pytest.raises(TypeError, match="Expected ExecutorOptions or dict"):
        Executor(qpu, options=SamplerOptions())  # type: ignore[arg-type]
    program = QuantumProgram(shots=10)
    program.append_circuit_item(isa(qpu, bell()))
    with API.Session(backend=qpu, max_time=60) as session:
        limited = Executor(session, options={"max_execution_time": 100})
        with pytest.raises(IBMInputValueError, match="exceeds the session's max_time of 60s"):
            limited.run(program)


def test_max_execution_time_stops_an_executor_job(service: LocalService) -> None:
    qpu = service.backend()
    program = QuantumProgram(shots=10_000)
    program.append_circuit_item(isa(qpu, bell()))
    job = Executor(qpu, options=ExecutorOptions(max_execution_time=1)).run(program)
    assert duration(job) > 1
    service.run_until_idle()
    assert job.status() == "ERROR" and times(job) == (0.0, 0.0, 1.0)


def test_seed_simulator_reproduces_and_rep_delay_times(service: LocalService) -> None:
    qpu = service.backend()
    circuit = isa(qpu, bell())
    runs = []
    for _ in range(2):
        sampler = Sampler(mode=qpu)
        sampler.options.simulator.seed_simulator = 11
        runs.append(sampler.run([circuit], shots=64).result()[0].data.meas.get_counts())
    assert runs[0] == runs[1]
    slow = Executor(qpu, options={"execution": {"rep_delay": 500e-6}})
    program = QuantumProgram(shots=1000)
    program.append_circuit_item(circuit)
    fast_s = duration(Executor(qpu).run(program))
    # Every shot waits one repetition delay: 1000 × 250 µs more.
    assert math.isclose(duration(slow.run(program)) - fast_s, 0.25, abs_tol=2e-6)


def test_dry_run_runs_with_a_warning_and_results_decode(service: LocalService) -> None:
    qpu = service.backend()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = Sampler(mode=qpu).run([isa(qpu, bell())], shots=10, dry_run=True)
    assert any("dry_run=True is accepted" in str(w.message) for w in caught)
    assert isinstance(job.result(), PrimitiveResult)


def test_options_only_hardware_honours_are_named_once_and_kept(service: LocalService) -> None:
    qpu = service.backend()
    program = QuantumProgram(shots=10)
    program.append_circuit_item(isa(qpu, bell()))
    options = {"execution": {"init_qubits": False, "scheduler_timing": True}}
    with pytest.warns(UserWarning, match="not emulated.*execution.init_qubits, "
                      "execution.scheduler_timing"):
        job = Executor(qpu, options=options).run(program)
    assert job.inputs["not_emulated"] == ["execution.init_qubits", "execution.scheduler_timing"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # named once per service
        Executor(qpu, options=options).run(program)
    assert Executor(qpu).run(program).inputs["not_emulated"] == []
