"""The IBM-compatible API: every public method, status string and error situation."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.circuits import bell, isa
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qsession.insight.metrics import compute
from qsession.runtime import (
    QPU,
    Batch,
    EstimatorV2,
    IBMBackendValueError,
    IBMInputValueError,
    IBMRuntimeError,
    LocalService,
    QiskitRuntimeService,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
    RuntimeJobNotFound,
    RuntimeJobTimeoutError,
    SamplerV2,
    Session,
    Trace,
    current_session,
)
from qsession.runtime.engine.timing import TimingModel

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def bell_no_measure() -> QuantumCircuit:
    return bell(measure=False)


def at(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


@pytest.fixture
def service() -> LocalService:
    return LocalService(seed=11)


# -- service -------------------------------------------------------------------------


def test_service_hands_out_qpus_and_controls_time(service: LocalService) -> None:
    qpu = service.backend()
    assert qpu.name == "qsession_ideal" and service.backends() == [qpu]
    assert service.backend("qsession_ideal") is qpu
    assert service.backends(min_num_qubits=1000) == []
    assert service.least_busy() is qpu
    with pytest.raises(IBMBackendValueError, match="no backend named 'ibm_kyiv'"):
        service.backend("ibm_kyiv")
    assert service.now() == EPOCH
    service.advance(2.5)
    assert service.now() == at(2.5)
    with pytest.raises(IBMInputValueError, match="seconds >= 0"):
        service.advance(-1)
    assert service.run_until_idle()


def test_qiskit_runtime_service_accepts_account_arguments() -> None:
    service = QiskitRuntimeService(channel="ibm_quantum_platform", token="x", instance="crn")
    assert isinstance(service, LocalService) and service.backend().name == "qsession_ideal"


def test_service_settings_are_validated() -> None:
    with pytest.raises(IBMInputValueError, match="clock must be"):
        LocalService(clock="sundial")  # type: ignore[arg-type]
    with pytest.raises(IBMInputValueError, match="interactive_timeout=0"):
        LocalService(interactive_timeout=0)
    service = LocalService()
    with pytest.raises(IBMBackendValueError, match="already has a backend"):
        service.add_backend(service.backend())
    with pytest.raises(IBMInputValueError, match="unknown backend setting"):
        LocalService(backends=[])  # no QPU at all is allowed ...
        LocalService().add_backend(_spare_qpu(), ittl=3)  # ... a misspelt setting is not


def _spare_qpu() -> object:
    from qsession.runtime import QPU

    return QPU.ideal(name="spare", num_qubits=4)


def test_per_qpu_settings(service: LocalService) -> None:
    from qsession.runtime import QPU

    service.add_backend(QPU.ideal(name="fast", num_qubits=4), interactive_timeout=5)
    with Session(service.backend("fast")) as s:
        assert s.details()["interactive_timeout"] == 5
    with Session(service.backend()) as s:
        assert s.details()["interactive_timeout"] == 60


def test_a_qpu_of_another_service_is_refused(service: LocalService) -> None:
    other = LocalService()
    with pytest.raises(IBMBackendValueError, match="not one of this service's backends"):
        service.scheduler_of(other.backend())


# -- sessions ------------------------------------------------------------------------


# IBM's recorded output of ``print(session.details())`` for a session just opened
# (guide "Run jobs in a session", section "Determine session details", Qiskit/documentation
# docs/guides/run-jobs-session.ipynb). Only the id, the backend and the max_time/active
# timeout values are that instance's own; keys, value types and None-ness are IBM's.
IBM_FRESH_SESSION_DETAILS = {
    "id": "5a6d4397-42c6-4dc6-969a-b1c90286a715", "backend_name": "ibm_pinguino2",
    "interactive_timeout": 60, "max_time": 86400, "active_timeout": 14400, "state": "open",
    "accepting_jobs": True, "last_job_started": None, "last_job_completed": None,
    "started_at": None, "closed_at": None, "activated_at": None, "mode": "dedicated",
    "usage_time": None,
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def iso(seconds: float) -> str:
    """A virtual instant (seconds after the epoch) as IBM's REST service writes it."""
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_details_match_ibms_recorded_output_key_by_key_and_type_by_type(
        service: LocalService) -> None:
    session = Session(service.backend(), max_time="1h")
    d = session.details()
    # The 0.51 client adds ``timestamps`` (a list of {status, timestamp}) to the recording.
    assert list(d) == [*IBM_FRESH_SESSION_DETAILS, "timestamps"]
    for key, ibm in IBM_FRESH_SESSION_DETAILS.items():
        assert type(d[key]) is type(ibm), (key, d[key], ibm)
    assert d == {**IBM_FRESH_SESSION_DETAILS, "id": session.session_id,
                 "backend_name": "qsession_ideal", "max_time": 3600, "active_timeout": 3600,
                 "timestamps": [{"status": "open", "timestamp": iso(0)}]}


def test_session_lifecycle_through_the_api(service: LocalService) -> None:
    backend = service.backend()
    session = Session(backend, max_time="1h")
    assert session.backend() == "qsession_ideal" and session.qpu is backend
    assert session.status() == "Pending" and session.state == "pending"
    job = SamplerV2(mode=session).run([bell()], shots=100)
    assert session.status() == "In progress, accepting new jobs"
    job.result()
    end = job.metrics()["timestamps"]["finished"]
    run_s = job.usage()
    assert end == iso(run_s) and ISO_Z.match(end)
    service.advance(10)
    d = session.details()
    assert d["state"] == "active" and d["started_at"] == d["activated_at"] == iso(0)
    assert d["last_job_completed"] == end and d["usage_time"] == pytest.approx(run_s + 10)
    assert d["active_timeout"] == round(3600 - run_s - 10)
    service.advance(60)
    assert session.status() == "Pending" and session.details()["state"] == "inactive"
    assert session.state == "inactive"
    session.close()
    closed = session.details()
    assert session.status() == "Closed" and closed["closed_at"] == iso(run_s + 70)
    assert closed["usage_time"] == pytest.approx(run_s + 60)  # active until the ITTL ran out
    assert closed["timestamps"] == [
        {"status": "open", "timestamp": iso(0)}, {"status": "active", "timestamp": iso(0)},
        {"status": "inactive", "timestamp": iso(run_s + 60)},
        {"status": "closed", "timestamp": iso(run_s + 70)}]
    session.close()  # closing an ended session does nothing
    session.cancel()
    assert session.details()["state"] == "closed" and session.state == "closed"


def test_status_while_draining_after_close(service: LocalService) -> None:
    with Session(service.backend()) as session:
        sampler = SamplerV2(mode=session)
        jobs = [sampler.run([bell()], shots=1000) for _ in range(2)]
        session.close()
        assert session.status() == "In progress, not accepting new jobs"
        jobs[-1].result()
        assert session.status() == "Closed"


@pytest.mark.parametrize("ending", ["close", "cancel", "expire"])
def test_submit_after_the_session_ended_is_refused(service: LocalService, ending: str) -> None:
    session = Session(service.backend(), max_time=3)  # the job takes 2.0025 s
    sampler = SamplerV2(mode=session)
    sampler.run([bell()], shots=10).result()
    if ending == "close":
        session.close()
        state = "closed"
    elif ending == "cancel":
        session.cancel()
        state = "canceled"
    else:
        service.advance(1)
        state = "expired"
    with pytest.raises(IBMRuntimeError) as info:
        sampler.run([bell()])
    message = str(info.value)
    assert "The session is closed" in message
    assert session.session_id in message and state in message
    assert len(service.jobs(session_id=session.session_id)) == 1  # no job was created


def test_context_manager_closes_on_exit_and_on_error(service: LocalService) -> None:
    with pytest.raises(ZeroDivisionError), Session(service.backend()) as session:
        job = SamplerV2().run([bell()], shots=10)
        1 / 0  # noqa: B018
    assert session.details()["accepting_jobs"] is False
    assert job.status() in ("RUNNING", "DONE")  # closed, not cancelled: the job runs on
    job.result()
    assert session.details()["state"] == "closed"
    assert current_session() is None


def test_nested_context_managers_restore_the_outer_session(service: LocalService) -> None:
    with Session(service.backend()) as outer:
        with Batch(service.backend()) as inner:
            assert current_session() is inner
        assert current_session() is outer


def test_a_session_entered_twice_leaves_no_current_session_after_both_exits(
        service: LocalService) -> None:
    """Reproduces: ``with s:`` entered again inside its own block kept one saved context
    only, so after both exits ``current_session()`` still returned ``s``."""
    session = Session(service.backend())
    with session:
        with session:
            assert current_session() is session
        assert current_session() is session  # the outer block is still open
    assert current_session() is None
    with Session(service.backend()) as outer:
        with session, session:
            assert current_session() is session
        assert current_session() is outer
    assert current_session() is None


def test_from_id_and_mode_checks(service: LocalService) -> None:
    session = Session(service.backend())
    batch = Batch(service.backend())
    assert Session.from_id(session.session_id, service).details() == session.details()
    assert Batch.from_id(batch.session_id, service).details()["mode"] == "batch"
    with pytest.raises(IBMInputValueError, match="has execution mode batch instead of dedicated"):
        Session.from_id(batch.session_id, service)
    with pytest.raises(IBMInputValueError, match="Session not found"):
        Session.from_id("s999", service)
    with pytest.raises(IBMInputValueError, match="from_id"):
        Session(service.backend(), create_new=False)


def test_session_constructor_errors(service: LocalService) -> None:
    with pytest.raises(IBMInputValueError, match="needs a backend"):
        Session()
    with pytest.raises(IBMInputValueError, match="must be positive"):
        Session(service.backend(), max_time=0)
    with pytest.raises(IBMInputValueError, match="cannot be parsed"):
        Session(service.backend(), max_time="two hours")
    assert Session("qsession_ideal", service=service).backend() == "qsession_ideal"
    limited = LocalService(max_time_limit="10m", max_time="5m")
    with pytest.raises(IBMInputValueError, match="plan limit"):
        Session(limited.backend(), max_time="1h")


def test_batch_usage_is_its_jobs_quantum_seconds(service: LocalService) -> None:
    with Batch(service.backend()) as batch:
        sampler = SamplerV2(mode=batch)
        jobs = [sampler.run([bell()], shots=500) for _ in range(3)]
        for job in jobs:
            job.result()
    assert batch.usage() == pytest.approx(sum(j.usage() for j in jobs))
    assert batch.details()["mode"] == "batch"


# -- primitives ----------------------------------------------------------------------


def test_primitive_mode_resolution(service: LocalService) -> None:
    qpu = service.backend()
    assert SamplerV2(mode=qpu).mode is None  # job mode
    with pytest.raises(ValueError, match="A backend or session must be specified"):
        SamplerV2()
    with pytest.raises(ValueError, match="mode must be of type"):
        SamplerV2(mode="qsession_ideal")  # type: ignore[arg-type]
    with Session(qpu) as session:
        assert SamplerV2().mode is session
        assert EstimatorV2(mode=qpu).mode is session  # the session's QPU joins it
        from qsession.runtime import QPU

        other = service.add_backend(QPU.ideal(name="other", num_qubits=4))
        with pytest.raises(ValueError, match="different from the session backend"):
            SamplerV2(mode=other)
    assert SamplerV2(mode=qpu).backend() is qpu


def test_sampler_results_are_primitive_results(service: LocalService) -> None:
    job = SamplerV2(mode=service.backend()).run([bell()], shots=1000)
    counts = job.result()[0].data.meas.get_counts()
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 1000
    assert job.primitive_id == "sampler" and job.session_id is None


def test_same_seed_same_results_and_trace() -> None:
    def run() -> tuple[dict[str, int], str]:
        service = LocalService(seed=5)
        with Session(service.backend()) as s:
            counts = SamplerV2(mode=s).run([bell()], shots=200).result()[0].data.meas.get_counts()
        service.run_until_idle()
        return counts, service.trace.dumps()

    assert run() == run()


def test_estimator_v2_and_v1_call_forms(service: LocalService) -> None:
    zz = SparsePauliOp("ZZ")
    theta = Parameter("t")
    logical = QuantumCircuit(2)
    logical.ry(theta, 0)
    logical.cx(0, 1)
    # IBM's guides transpile first and lay the observable out like the circuit.
    qc = isa(logical, service.backend())
    zi = SparsePauliOp("ZI").apply_layout(qc.layout)
    with Session(service.backend()) as session:
        estimator = EstimatorV2(mode=session)
        evs = estimator.run([(bell_no_measure(), zz)]).result()[0].data.evs
        assert float(evs) == pytest.approx(1.0, abs=0.05)
        v1 = estimator.run(qc, zi, parameter_values=[np.pi]).result()
        assert v1.values[0] == pytest.approx(-1.0, abs=0.05)
        swept = estimator.run([(qc, zi, [[0.0], [np.pi]])]).result()
        assert swept[0].data.evs.shape == (2,)
        assert swept.values == pytest.approx([1.0, -1.0], abs=0.05)


def test_options(service: LocalService) -> None:
    qpu = service.backend()
    with pytest.warns(FutureWarning, match="'shots' is the V1 name"):
        est = EstimatorV2(mode=qpu, options={"shots": 10_000})
    assert est.options.default_shots == 10_000 and est.options.precision() == 0.01
    sampler = SamplerV2(mode=qpu, options={"default_shots": 64,
                                           "simulator": {"seed_simulator": 3},
                                           "environment": {"job_tags": ["exp1"]},
                                           "twirling": {"enable_gates": True}})
    assert sampler.options.simulator.seed_simulator == 3
    assert sampler.options.not_emulated() == ["twirling.enable_gates"]
    with pytest.warns(UserWarning, match="accepted, not emulated.*twirling.enable_gates"):
        job = sampler.run([bell()])
    assert job.tags == ["exp1"]
    assert sum(job.result()[0].data.meas.get_counts().values()) == 64
    with pytest.raises(IBMInputValueError, match="SamplerOptions\nshotz\n  Unexpected keyword"):
        SamplerV2(mode=qpu, options={"shotz": 1})
    with pytest.raises(IBMInputValueError, match="default_shots must be >=1, but is ==-1"):
        SamplerV2(mode=qpu, options={"default_shots": -1})
    with pytest.raises(IBMInputValueError, match="default_precision must be >0, but is ==0"):
        EstimatorV2(mode=qpu, options={"default_precision": 0})
    with pytest.raises(TypeError, match="Invalid 'options' type"):
        SamplerV2(mode=qpu, options=[1])  # type: ignore[arg-type]


def test_seed_simulator_fixes_results(service: LocalService) -> None:
    qpu = service.backend()
    sampler = SamplerV2(mode=qpu, options={"simulator": {"seed_simulator": 0}})
    a = sampler.run([bell()], shots=300).result()[0].data.meas.get_counts()
    b = sampler.run([bell()], shots=300).result()[0].data.meas.get_counts()
    assert a == b


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda s, e: s.run([bell()], shots=0), "shots must be a positive int"),
        (lambda s, e: s.run([bell()], shots=-3), "shots must be a positive int"),
        (lambda s, e: s.run(bell()), "wrap a single pub in a list"),
        (lambda s, e: s.run(42), "takes a list of pubs"),
        (lambda s, e: e.run([(bell_no_measure(), "ZZ")], precision=0), "strictly greater than 0"),
        (lambda s, e: e.run([(bell_no_measure(), "ZZ")], precision=-1), "strictly greater than 0"),
    ],
)
def test_bad_run_arguments(service: LocalService, call: object, fragment: str) -> None:
    qpu = service.backend()
    s, e = SamplerV2(mode=qpu), EstimatorV2(mode=qpu)
    with pytest.raises(IBMInputValueError, match=fragment):
        call(s, e)  # type: ignore[operator]
    assert service.jobs() == []


def test_bad_pubs_create_no_job_and_the_service_goes_on(service: LocalService) -> None:
    qpu = service.backend()
    theta = Parameter("t")
    qc = QuantumCircuit(2)
    qc.ry(theta, 0)
    est = EstimatorV2(mode=qpu)
    with pytest.raises(IBMInputValueError):
        est.run([(qc, "ZZ")])  # missing parameter values
    with pytest.raises(IBMInputValueError):
        est.run([(bell_no_measure(), "ZZZ")])  # observable of the wrong width
    with pytest.raises(IBMInputValueError):
        est.run([("not a circuit", "ZZ")])
    assert service.jobs() == []
    assert est.run([(bell_no_measure(), "ZZ")]).status() in ("QUEUED", "RUNNING")


# -- jobs ------------------------------------------------------------------------------


def test_job_methods_and_status_strings(service: LocalService) -> None:
    qpu = service.backend()
    with Session(qpu) as session:
        sampler = SamplerV2(mode=session)
        first, second = sampler.run([bell()], shots=4000), sampler.run([bell()], shots=4000)
        assert (first.status(), second.status()) == ("RUNNING", "QUEUED")
        assert first.running() and not first.done() and not first.in_final_state()
        assert second.metrics()["position_in_queue"] == 1
        assert first.session_id == session.session_id and first.backend() is qpu
        assert first.creation_date == EPOCH
        estimate = first.usage_estimation["quantum_seconds"]
        second.cancel()
        assert second.status() == "CANCELLED" and second.cancelled()
        with pytest.raises(RuntimeInvalidStateError, match="Job was cancelled"):
            second.result()
        with pytest.raises(RuntimeInvalidStateError, match="already CANCELLED"):
            second.cancel()
        first.wait_for_final_state()
        assert first.done() and first.in_final_state() and first.error_message() is None
        assert first.usage() == pytest.approx(estimate)
        m = first.metrics()
        assert m["timestamps"] == {"created": iso(0), "running": iso(0),
                                   "finished": iso(estimate)}
        assert m["usage"] == {"quantum_seconds": round(estimate), "seconds": round(estimate)}
        assert first.logs() == "" and service.job(first.job_id()).status() == "DONE"
    with pytest.raises(RuntimeJobNotFound):
        service.job("j999")


# ``job.metrics()`` of a finished IBM job, as recorded on ibm_kingston with
# qiskit-ibm-runtime 0.46.1 (IBM's guides print no metrics output; the keys are those the
# client's ``RuntimeJobV2.metrics`` documents: timestamps and usage). The values are that
# job's own; the keys and value types are what a user's code reads.
IBM_RECORDED_METRICS = {
    "bss": {"seconds": 217}, "caller": "qiskit_ibm_runtime~estimator.py",
    "qiskit_version": "qiskit_ibm_runtime-0.46.1,qiskit-2.3.0*,qiskit_aer-0.17.2*",
    "timestamps": {"created": "2026-05-02T07:07:49.270263Z",
                   "finished": "2026-05-02T07:11:47.262488Z",
                   "running": "2026-05-02T07:07:49.945391Z"},
    "usage": {"quantum_seconds": 217, "seconds": 217},
}


def test_metrics_match_ibms_recorded_keys_and_types(service: LocalService) -> None:
    job = SamplerV2(mode=service.backend()).run([bell()], shots=1000)
    queued = job.metrics()
    assert queued["timestamps"] == {"created": iso(0), "running": iso(0), "finished": None}
    job.result()
    m = job.metrics()
    for key, ibm in IBM_RECORDED_METRICS.items():
        assert type(m[key]) is type(ibm), key
        if isinstance(ibm, dict):
            assert set(m[key]) == set(ibm), key
            for inner, value in ibm.items():
                assert type(m[key][inner]) is type(value), (key, inner)
    assert all(ISO_Z.match(t) for t in m["timestamps"].values())
    assert "qiskit-" in m["qiskit_version"] and "qiskit_aer-" in m["qiskit_version"]
    # 2 s sub-job overhead + 1,000 × (250 µs + the Bell circuit): 2.3 s, billed as 2 s
    assert m["usage"] == {"quantum_seconds": 2, "seconds": 2} and m["bss"] == {"seconds": 2}
    assert job.usage() == pytest.approx(job.usage_estimation["quantum_seconds"])


def test_usage_is_zero_until_final_and_partial_gives_the_time_so_far(
        service: LocalService) -> None:
    # IBM's client: "the job usage returned is 0 until the usage calculation is completed";
    # ``partial=True`` returns the accumulated usage (RuntimeJobV2.usage, 0.51).
    job = SamplerV2(mode=service.backend()).run([bell()], shots=4000)
    service.advance(1.5)
    assert job.status() == "RUNNING"
    assert job.usage() == 0 and job.usage(partial=True) == 1.5
    job.wait_for_final_state(timeout=None, poll_interval=0.5)
    assert job.usage() == job.usage(partial=True) == job.usage_estimation["quantum_seconds"]


def test_result_timeout_in_virtual_time(service: LocalService) -> None:
    job = SamplerV2(mode=service.backend()).run([bell()], shots=100_000)
    with pytest.raises(RuntimeJobTimeoutError, match="after 1 secs"):
        job.result(timeout=1)
    assert service.now() == at(1) and job.status() == "RUNNING"
    assert job.result(timeout=1000)[0].data.meas.num_shots == 100_000


def test_expired_job_result_raises_failure_with_the_reason(service: LocalService) -> None:
    session = Session(service.backend(), max_time=1)
    sampler = SamplerV2(mode=session)
    jobs = [sampler.run([bell()], shots=10_000) for _ in range(2)]
    jobs[0].result()
    assert jobs[1].status() == "ERROR" and jobs[1].errored()
    assert "session max time reached" in (jobs[1].error_message() or "")
    with pytest.raises(RuntimeJobFailureError, match=r"Unable to retrieve job result\. session"):
        jobs[1].result()
    assert jobs[1].metrics()["timestamps"]["running"] is None


def test_max_execution_time_stops_a_long_job(service: LocalService) -> None:
    sampler = SamplerV2(mode=service.backend(), options={"max_execution_time": 1})
    job = sampler.run([bell()], shots=100_000)
    with pytest.raises(RuntimeJobMaxTimeoutError, match="1305"):
        job.result()
    assert job.usage() == 1.0 and job.status() == "ERROR"


# IBM's recorded results (guide "Run jobs in a session", Qiskit/documentation
# docs/guides/run-jobs-session.ipynb): the Estimator pub metadata
#   {'shots': 4096, 'target_precision': 0.015625, 'circuit_metadata': {}, 'resilience': {},
#    'num_randomizations': 32}
# and the Sampler result metadata
#   {'execution': {'execution_spans': ExecutionSpans([DoubleSliceSpan(<start=..., stop=...,
#    size=24576>)])}, 'version': 2}
IBM_ESTIMATOR_PUB_METADATA = {"shots": 4096, "target_precision": 0.015625,
                              "circuit_metadata": {}, "resilience": {},
                              "num_randomizations": 32}


def test_result_metadata_matches_ibms_recorded_keys_and_types(service: LocalService) -> None:
    from qiskit_ibm_runtime.execution_span import ExecutionSpans

    sampled = SamplerV2(mode=service.backend()).run([bell()], shots=100)
    meta = sampled.result().metadata
    assert meta["version"] == 2
    spans = meta["execution"]["execution_spans"]
    assert isinstance(spans, ExecutionSpans) and len(spans) == 1
    assert (spans.start, spans.stop) == (at(0), at(sampled.usage()))  # the job's QPU span
    assert spans[0].size == 100
    estimated = EstimatorV2(mode=service.backend()).run([(bell(False), "ZZ")])
    result = estimated.result()
    pub_meta = result[0].metadata
    for key, ibm in IBM_ESTIMATOR_PUB_METADATA.items():
        assert type(pub_meta[key]) is type(ibm), key
    # qsession does not twirl: each circuit runs as written, one randomization.
    assert {k: pub_meta[k] for k in IBM_ESTIMATOR_PUB_METADATA} == {
        **IBM_ESTIMATOR_PUB_METADATA, "num_randomizations": 1}
    spans = result.metadata["execution"]["execution_spans"]
    assert (spans.start, spans.stop) == (at(sampled.usage()),
                                         at(sampled.usage() + estimated.usage()))


def test_the_service_caps_a_job_at_10800_s() -> None:
    # IBM (guide "max execution time"): the service-calculated job timeout "is capped at 3
    # hours"; a larger max_execution_time is lowered to it.
    service = LocalService(seed=1, backends=[QPU.ideal(
        timing=TimingModel(rep_delay_s=0.1))])  # 0.1 s a shot: 120,000 shots ≈ 3.3 h
    job = SamplerV2(mode=service.backend(), options={"max_execution_time": 20_000}).run(
        [bell()], shots=120_000)
    with pytest.raises(RuntimeJobMaxTimeoutError, match="1305"):
        job.result()
    assert job.usage() == 10_800 and job.metrics()["timestamps"]["finished"] == iso(10_800)


def test_max_execution_time_is_checked_against_the_session() -> None:
    service = LocalService(seed=1)
    with Session(service.backend(), max_time=600) as session:
        fits = SamplerV2(mode=session, options={"max_execution_time": 600})
        assert fits.run([bell()], shots=10).result()[0].data.meas.num_shots == 10
        with pytest.raises(IBMInputValueError, match="exceeds the session's max_time of 600s"):
            SamplerV2(mode=session, options={"max_execution_time": 601}).run([bell()])
    assert len(service.jobs()) == 1


def test_result_decoders_chain_on_the_services_json(service: LocalService) -> None:
    # IBM's client passes the raw JSON result through each applicable decoder in turn.
    from qiskit_ibm_runtime.decoders.result_decoder import ResultDecoder

    class Shots(ResultDecoder):
        @classmethod
        def decode(cls, raw_result: str) -> Any:
            return ResultDecoder.decode(raw_result)[0].data.meas.num_shots

    class Double:
        @classmethod
        def decode(cls, value: int) -> int:
            return 2 * value

    job = SamplerV2(mode=service.backend()).run([bell()], shots=64)
    assert job.result(decoder=Shots) == 64
    assert job.result(decoder=[Shots, Double], poll_interval=0.1) == 128


def test_trace_of_an_api_run_round_trips(service: LocalService, tmp_path: Path) -> None:
    with Session(service.backend()) as s:
        SamplerV2(mode=s).run([bell()], shots=10).result()
    path = service.write_trace(tmp_path / "t.jsonl")
    back = Trace.read(path)
    assert back.records == service.trace.records
    assert back.meta["seed"] == 11 and back.meta["clock"] == "virtual"
    assert compute(service.trace).sessions[s.session_id].state == "closed"


def test_no_deprecation_warnings_from_our_primitives(service: LocalService) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SamplerV2(mode=service.backend()).run([bell()], shots=10).result()


def test_measured_clock_a_slow_optimizer_lets_the_ittl_run_out() -> None:
    from qsession.runtime import MeasuredClock

    wall = [0.0]
    service = LocalService(clock=MeasuredClock(scale=1.0, timer=lambda: wall[0]), seed=2)
    with Session(service.backend()) as session:
        sampler = SamplerV2(mode=session)
        sampler.run([bell()], shots=100).result()
        wall[0] += 5.0  # a quick classical step: still inside the 60 s window
        assert session.details()["state"] == "active"
        sampler.run([bell()], shots=100).result()
        wall[0] += 61.0  # a slow one: the ITTL runs out while the caller computes
        assert session.details()["state"] == "inactive"
        job = sampler.run([bell()], shots=100)
        job.result()
    assert compute(service.trace).sessions[session.session_id].deactivations == 1


def test_call_at_runs_outside_the_callers_session(service: LocalService) -> None:
    qpu = service.backend()
    seen: list[object] = []
    service.call_at(5, lambda: seen.append(SamplerV2(mode=qpu).mode))
    with Session(qpu) as session:
        SamplerV2(mode=session).run([bell()], shots=10)
        service.advance(10)  # the callback fires while we are inside the session block
    assert seen == [None]  # it ran in the context it was set in: job mode
