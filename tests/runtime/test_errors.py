"""The bad-input catalogue (docs/errors.md): each case raises the documented error, naming the
object and the fix, and the service goes on serving everyone else afterwards."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.circuits import bell, logical_bell, rotation
from qiskit.circuit import QuantumCircuit

from qsession.runtime import (
    QPU,
    BackendNotFoundError,
    Batch,
    EstimatorV2,
    Executor,
    IBMBackendValueError,
    IBMInputValueError,
    IBMRuntimeError,
    LocalService,
    QuantumProgram,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
    RuntimeJobNotFound,
    RuntimeJobTimeoutError,
    SamplerV2,
    Session,
)
from qsession.runtime.engine.replay import replay
from qsession.runtime.engine.trace import Trace, TraceFormatError
from qsession.runtime.options_models import SamplerOptions

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def wide(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    qc.h(range(n))
    qc.measure_all()
    return qc


def ended_session(service: LocalService, how: str) -> Session:
    session = Session(service.backend(), max_time=3)  # the job takes 2.0025 s
    SamplerV2(mode=session).run([bell()], shots=10).result()
    if how == "close":
        session.close()
    elif how == "cancel":
        session.cancel()
    else:
        service.advance(2)
    return session


def unused_closed_session() -> Session:
    service = LocalService(seed=4, idle_close_timeout=10)
    session = Session(service.backend())
    service.advance(10)  # no job submitted: closed as unused
    return session


def failed_job(service: LocalService) -> Any:
    session = Session(service.backend(), max_time=1)
    sampler = SamplerV2(mode=session)
    sampler.run([bell()], shots=10_000)
    return sampler.run([bell()], shots=10)


def cancelled_job(service: LocalService) -> Any:
    job = SamplerV2(mode=service.backend()).run([bell()], shots=10)
    job.cancel()
    return job


@dataclass(frozen=True)
class Case:
    """One bad input: how to trigger it, the documented error, and words its message has."""

    id: str
    trigger: Callable[[LocalService, Path], Any]
    error: type[BaseException]
    fragments: tuple[str, ...]


CASES = [
    Case("max-time-zero", lambda s, _: Session(s.backend(), max_time=0),
         IBMInputValueError, ("max_time=0", "must be positive", "2h 30m 40s")),
    Case("max-time-negative", lambda s, _: Session(s.backend(), max_time=-60),
         IBMInputValueError, ("max_time=-60", "must be positive")),
    Case("max-time-nan", lambda s, _: Session(s.backend(), max_time=float("nan")),
         IBMInputValueError, ("max_time=nan", "not finite")),
    Case("max-time-unparsable", lambda s, _: Session(s.backend(), max_time="two hours"),
         IBMInputValueError, ("'two hours'", "cannot be parsed", "units d/h/m/s")),
    Case("max-time-over-plan", lambda s, _: Session(
        LocalService(max_time="5m", max_time_limit="10m").backend(), max_time="1h"),
         IBMInputValueError, ("plan limit of 600s", "ask for at most")),
    Case("unknown-backend", lambda s, _: s.backend("ibm_kyiv"),
         IBMBackendValueError, ("ibm_kyiv", "this service has qsession_ideal")),
    Case("too-few-qubits", lambda s, _: SamplerV2(mode=s.backend()).run([wide(20)]),
         IBMInputValueError, ("20", "16")),
    Case("wrong-parameter-count", lambda s, _: SamplerV2(mode=s.backend()).run([rotation()]),
         IBMInputValueError, ("pub 0", "parameter")),
    Case("observable-wrong-width",
         lambda s, _: EstimatorV2(mode=s.backend()).run([(bell(False), "ZZZ")]),
         IBMInputValueError, ("pub 0", "qubit")),
    Case("not-a-circuit", lambda s, _: SamplerV2(mode=s.backend()).run(["H 0; CX 0 1"]),
         IBMInputValueError, ("pub 0",)),
    Case("single-pub-not-in-a-list", lambda s, _: SamplerV2(mode=s.backend()).run(bell()),
         IBMInputValueError, ("list of pubs", "sampler.run([circuit])")),
    Case("shots-zero", lambda s, _: SamplerV2(mode=s.backend()).run([bell()], shots=0),
         IBMInputValueError, ("shots must be a positive int", "0")),
    Case("shots-negative", lambda s, _: SamplerV2(mode=s.backend()).run([bell()], shots=-5),
         IBMInputValueError, ("shots must be a positive int", "-5")),
    Case("precision-zero",
         lambda s, _: EstimatorV2(mode=s.backend()).run([(bell(False), "ZZ")], precision=0),
         IBMInputValueError, ("precision", "strictly greater than 0")),
    Case("unknown-option", lambda s, _: SamplerV2(mode=s.backend(), options={"shotz": 5}),
         IBMInputValueError, ("validation error for SamplerOptions", "shotz",
                             "Unexpected keyword argument", "default_shots")),
    Case("bad-option-value",
         lambda s, _: EstimatorV2(mode=s.backend(), options={"default_precision": -1}),
         IBMInputValueError, ("EstimatorOptions.default_precision must be >0", "-1")),
    Case("mode-of-wrong-type", lambda s, _: SamplerV2(mode=42),  # type: ignore[arg-type]
         ValueError, ("mode must be of type Backend, Session, Batch or None",)),
    Case("no-mode-outside-session", lambda s, _: SamplerV2(),
         ValueError, ("A backend or session must be specified",)),
    Case("submit-after-close", lambda s, _: SamplerV2(mode=ended_session(s, "close")).run(
        [bell()]), IBMRuntimeError, ("The session is closed", "is closed", "Open a new Session")),
    Case("submit-after-cancel", lambda s, _: SamplerV2(mode=ended_session(s, "cancel")).run(
        [bell()]), IBMRuntimeError, ("The session is closed", "canceled")),
    Case("submit-after-expiry", lambda s, _: SamplerV2(mode=ended_session(s, "expire")).run(
        [bell()]), IBMRuntimeError, ("The session is closed", "expired")),
    Case("result-of-failed-job", lambda s, _: failed_job(s).result(),
         RuntimeJobFailureError, ("Unable to retrieve job result", "session max time reached")),
    Case("result-of-cancelled-job", lambda s, _: cancelled_job(s).result(),
         RuntimeInvalidStateError, ("Unable to retrieve result for job", "Job was cancelled")),
    Case("cancel-of-final-job", lambda s, _: cancelled_job(s).cancel(),
         RuntimeInvalidStateError, ("cannot be cancelled", "already CANCELLED")),
    Case("result-timeout", lambda s, _: SamplerV2(mode=s.backend()).run(
        [bell()], shots=100_000).result(timeout=0.5),
         RuntimeJobTimeoutError, ("Timed out waiting for job to complete after 0.5 secs",)),
    Case("max-execution-time", lambda s, _: SamplerV2(
        mode=s.backend(), options={"max_execution_time": 1}).run([bell()], shots=100_000
                                                                  ).result(),
         RuntimeJobMaxTimeoutError, ("1305", "max_execution_time")),
    Case("advance-negative", lambda s, _: s.advance(-1),
         IBMInputValueError, ("seconds >= 0", "forward")),
    Case("session-of-another-service", lambda s, _: Session(
        LocalService().backend(), service=s),
         IBMInputValueError, ("belongs to another service",)),
    Case("qpu-of-no-service", lambda s, _: Session(QPU.ideal("loose", num_qubits=2)),
         IBMInputValueError, ("belongs to no service", "service.add_backend")),
    Case("unknown-session-id", lambda s, _: Session.from_id("s404", s),
         IBMInputValueError, ("Session not found", "s404")),
    Case("batch-id-as-session", lambda s, _: Session.from_id(Batch(s.backend()).session_id, s),
         IBMInputValueError, ("execution mode batch instead of dedicated",)),
    Case("unknown-job-id", lambda s, _: s.job("j404"),
         RuntimeJobNotFound, ("Job not found", "j404")),
    Case("unknown-instance", lambda s, _: SamplerV2(mode=s.backend(), instance="nope"),
         IBMInputValueError, ("unknown instance 'nope'",)),
    Case("bad-clock", lambda s, _: LocalService(clock="sundial"),  # type: ignore[arg-type]
         IBMInputValueError, ("clock must be 'virtual', 'wall' or 'measured'",)),
    Case("bad-interactive-timeout", lambda s, _: LocalService(interactive_timeout=-1),
         IBMInputValueError, ("interactive_timeout=-1", "positive")),
    Case("call-at-in-the-past", lambda s, _: (s.advance(5), s.call_at(1, lambda: None)),
         IBMInputValueError, ("in the past",)),
    Case("per-qpu-fair-share-window", lambda s, _: LocalService(
        backends=[(QPU.ideal(), {"fair_share_window": 60})]),
        IBMInputValueError, ("fair_share_window is the service's", "across all QPUs")),
    Case("open-plan-session", lambda s, _: Session(
        LocalService(instances={"o": {"plan": "open"}}).backend()),
        IBMRuntimeError, ("Open Plan users cannot submit session jobs", "Batch")),
    Case("open-plan-batch-too-long", lambda s, _: Batch(
        LocalService(instances={"o": {"plan": "open"}}).backend(), max_time=601),
        IBMInputValueError, ("exceeds the Open Plan's limit of 600s",)),
    Case("unknown-plan", lambda s, _: LocalService(instances={"x": {"plan": "free"}}),
         IBMInputValueError, ("instance 'x'", "plans are 'premium' and 'open'")),
    Case("bad-idle-close-timeout", lambda s, _: LocalService(idle_close_timeout=-5),
         IBMInputValueError, ("idle_close_timeout=-5", "None to keep unused sessions open")),
    Case("submit-to-unused-closed-session", lambda s, _: SamplerV2(
        mode=unused_closed_session()).run([bell()]),
        IBMRuntimeError, ("The session is closed", "is closed")),
    Case("max-execution-time-not-int", lambda s, _: SamplerV2(
        mode=s.backend(), options={"max_execution_time": 1.5}).run([bell()]),
        IBMInputValueError, ("max_execution_time", "Input should be a valid integer")),
    Case("max-execution-time-over-session", lambda s, _: SamplerV2(
        mode=Session(s.backend(), max_time=60), options={"max_execution_time": 120}).run(
        [bell()]), IBMInputValueError, ("exceeds the session's max_time of 60s",)),
    Case("decoder-without-decode", lambda s, _: SamplerV2(mode=s.backend()).run(
        [bell()], shots=10).result(decoder=42),
        IBMInputValueError, ("decoder 42 has no decode() method", "ResultDecoder")),
    Case("non-isa-circuit", lambda s, _: SamplerV2(mode=s.backend()).run([logical_bell()]),
         IBMInputValueError, ("sampler pub 0", "The instruction h on qubits (0,) is not "
                              "supported by the target system", "generate_preset_pass_manager")),
    Case("unknown-option-attribute",
         lambda s, _: setattr(SamplerV2(mode=s.backend()).options, "shotz", 5),
         IBMInputValueError, ("validation error for SamplerOptions", "shotz",
                              "Object has no attribute 'shotz'", "default_shots")),
    Case("option-out-of-range",
         lambda s, _: SamplerV2(mode=s.backend(), options={"twirling": {"num_randomizations": 0}}),
         IBMInputValueError, ("TwirlingOptions.num_randomizations must be >=1, but is ==0",)),
    Case("option-ill-typed",
         lambda s, _: setattr(SamplerV2(mode=s.backend()).options.environment, "log_level", 3),
         IBMInputValueError, ("validation error for EnvironmentOptions", "log_level",
                              "Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or")),
    Case("job-tags-not-a-list", lambda s, _: SamplerV2(mode=s.backend()).run(
        [bell()], shots=10).update_tags("tag"),  # type: ignore[arg-type]
         IBMInputValueError, ("job_tags needs to be a list of strings.",)),
    Case("jobs-bad-limit", lambda s, _: s.jobs(limit=-1),
         IBMInputValueError, ("limit must be an integer >= 0 or None", "-1")),
    Case("delete-unfinished-job", lambda s, _: s.delete_job(
        SamplerV2(mode=s.backend()).run([bell()], shots=10).job_id()),
         IBMRuntimeError, ("Failed to delete job", "only a final job can be deleted",
                           "cancel()")),
    Case("no-backend-matches", lambda s, _: s.least_busy(min_num_qubits=1000),
         BackendNotFoundError, ("No backend matches the criteria.",)),
    Case("trace-not-a-trace", lambda s, tmp: Trace.read(_write(tmp, '{"hello": 1}\n')),
         TraceFormatError, ("not a qsession trace header", '"format": "qsession-trace"')),
    Case("trace-not-json", lambda s, tmp: Trace.read(_write(tmp, "seq,t,event\n")),
         TraceFormatError, ("not JSON",)),
    Case("executor-not-a-program", lambda s, t: Executor(s.backend()).run([bell()]),
         IBMInputValueError, ("Executor.run takes a QuantumProgram", "append_circuit_item")),
    Case("executor-empty-program",
         lambda s, t: Executor(s.backend()).run(QuantumProgram(shots=10)),
         IBMInputValueError, ("no items", "append_circuit_item")),
    Case("executor-non-isa-item", lambda s, t: Executor(s.backend()).run(_program(logical_bell())),
         IBMInputValueError, ("quantum program item 0: The instruction h",
                              "generate_preset_pass_manager")),
    Case("executor-meas-level",
         lambda s, t: Executor(s.backend()).run(_program(bell(), meas_level="kerneled")),
         IBMInputValueError, ("meas_level='kerneled'", "classified bits only")),
    Case("executor-options-type",
         lambda s, t: Executor(s.backend(), options=SamplerOptions()),  # type: ignore[arg-type]
         TypeError, ("Expected ExecutorOptions or dict",)),
    # -- found by attacking the API (issue 15): each was a raw Python error or accepted --
    Case("advance-not-finite", lambda s, _: s.advance(float("inf")),
         IBMInputValueError, ("seconds=inf is not finite", "finite number of seconds")),
    Case("advance-nan", lambda s, _: s.advance(float("nan")),
         IBMInputValueError, ("seconds=nan is not finite",)),
    Case("advance-past-datetime", lambda s, _: s.advance(1e14),
         IBMInputValueError, ("past the last instant a datetime can show", "9999-12-31")),
    Case("advance-below-a-microsecond", lambda s, _: s.advance(1e-9),
         IBMInputValueError, ("below the clock's resolution of one microsecond",)),
    Case("advance-in-a-callback", lambda s, _: (s.call_later(1, lambda: s.advance(5)),
                                                s.advance(2)),
         IBMRuntimeError, ("advance() was called from inside a timer callback",
                           "service.call_later(delay, callback)")),
    Case("result-in-a-callback", lambda s, _: _result_in_callback(s),
         IBMRuntimeError, ("from inside a timer callback", "wait outside the callback")),
    Case("call-at-not-finite", lambda s, _: s.call_at(float("inf"), lambda: None),
         IBMInputValueError, ("seconds=inf is not finite", "call_at()")),
    Case("call-later-nan", lambda s, _: s.call_later(float("nan"), lambda: None),
         IBMInputValueError, ("delay=nan is not finite", "call_later()")),
    Case("result-timeout-nan", lambda s, _: _job(s).result(timeout=float("nan")),
         IBMInputValueError, ("timeout=nan is not finite", "or None to wait")),
    Case("result-timeout-inf", lambda s, _: _job(s).result(timeout=float("inf")),
         IBMInputValueError, ("timeout=inf is not finite", "or None to wait")),
    Case("result-timeout-negative", lambda s, _: _job(s).result(timeout=-1),
         IBMInputValueError, ("timeout=-1 is negative", "seconds >= 0")),
    Case("run-until-idle-timeout-nan", lambda s, _: s.run_until_idle(timeout=float("nan")),
         IBMInputValueError, ("timeout=nan is not finite",)),
    Case("precision-too-fine", lambda s, _: EstimatorV2(mode=s.backend()).run(
        [(bell(False), "ZZ")], precision=1e-200),
         IBMInputValueError, ("precision=1e-200", "10,000,000 executions", "precision >=")),
    Case("sampler-over-the-execution-limit", lambda s, _: SamplerV2(mode=s.backend()).run(
        [bell()], shots=10**12),
         IBMInputValueError, ("1,000,000,000,000 executions", "10,000,000 executions per "
                              "Sampler job", "fewer shots")),
    Case("empty-parameter-sweep", lambda s, _: SamplerV2(mode=s.backend()).run(
        [(rotation(), np.empty((0, 1)))]),
         IBMInputValueError, ("pub 0", "no parameter sets", "at least one set")),
    Case("v1-observables-not-a-list", lambda s, _: EstimatorV2(mode=s.backend()).run(
        [bell(False)], 5),
         IBMInputValueError, ("observables must be a list", "int 5",
                              "estimator.run([(circuit, observable)])")),
    Case("primitive-of-a-qpu-of-no-service",
         lambda s, _: SamplerV2(mode=QPU.ideal("loose", num_qubits=2)),
         IBMInputValueError, ("belongs to no service", "service.add_backend")),
    Case("no-backends", lambda s, _: LocalService(backends=[]).backend(),
         IBMBackendValueError, ("no backends", "service.add_backend(QPU.ideal())")),
    Case("backends-not-a-list", lambda s, _: LocalService(backends="fake_manila"),
         IBMBackendValueError, ("must be a list of QPUs or fake backend names",)),
    Case("instances-not-a-mapping", lambda s, _: LocalService(instances=["a", "b"]),
         IBMInputValueError, ("instances=['a', 'b']", "{'a': 0.7, 'b': 0.3}")),
    Case("epoch-not-a-datetime", lambda s, _: LocalService(epoch="2025-01-01"),
         IBMInputValueError, ("epoch='2025-01-01'", "timezone-aware datetime")),
    Case("speed-not-finite", lambda s, _: LocalService(clock="wall", speed=float("inf")),
         IBMInputValueError, ("speed=inf", "finite positive number")),
    Case("seed-not-an-int", lambda s, _: LocalService(seed="seven"),
         IBMInputValueError, ("seed='seven'", "int or None")),
    Case("execution-timeout-not-finite",
         lambda s, _: LocalService(execution_timeout=float("inf")),
         IBMInputValueError, ("execution_timeout", "or None (no limit)")),
    Case("trace-field-of-wrong-type", lambda s, tmp: Trace.read(_write(tmp, _HEADER + (
        '{"seq":0,"t":"0","qpu":"q","entity":"job","id":"j1","event":"create"}\n'))),
         TraceFormatError, ("input.jsonl:2:", "t must be a finite number of seconds")),
    Case("trace-reordered", lambda s, tmp: Trace.read(_write(tmp, _HEADER + (
        '{"seq":1,"t":0,"qpu":"q","entity":"qpu","id":"q","event":"hold"}\n'
        '{"seq":0,"t":0,"qpu":"q","entity":"qpu","id":"q","event":"hold"}\n'))),
         TraceFormatError, ("input.jsonl:3:", "seq 0 comes after seq 1")),
    Case("trace-nested-data", lambda s, tmp: Trace.read(_write(tmp, _HEADER + (
        '{"seq":0,"t":0,"qpu":"q","entity":"qpu","id":"q","event":"hold",'
        '"data":{"x":{"y":1}}}\n'))),
         TraceFormatError, ("input.jsonl:2:", "data.x must be a JSON scalar")),
    Case("replay-of-an-unknown-session", lambda s, tmp: replay(Trace.read(_write(
        tmp, _HEADER + _CONFIGURE + (
            '{"seq":1,"t":0,"qpu":"q","entity":"job","id":"j1","event":"create",'
            '"session":"s9","instance":"default","data":{"duration_us":5}}\n')))),
         TraceFormatError, ("input.jsonl:3:", "names session 's9'", "never created")),
    Case("replay-of-a-zero-duration", lambda s, tmp: replay(Trace.read(_write(
        tmp, _HEADER + _CONFIGURE + (
            '{"seq":1,"t":0,"qpu":"q","entity":"job","id":"j1","event":"create",'
            '"instance":"default","data":{"duration_us":0}}\n')))),
         TraceFormatError, ("input.jsonl:3:", "data.duration_us must be a positive integer")),
]

_HEADER = '{"format":"qsession-trace","version":1}\n'
_CONFIGURE = ('{"seq":0,"t":0,"qpu":"q","entity":"qpu","id":"q","event":"configure",'
              '"instance":"default","data":{"allocation":1,"fair_share_window_us":100,'
              '"interactive_timeout_us":100,"batch_interactive_timeout_us":100}}\n')


def _job(service: LocalService) -> Any:
    return SamplerV2(mode=service.backend()).run([bell()], shots=10)


def _result_in_callback(service: LocalService) -> Any:
    job = SamplerV2(mode=service.backend()).run([bell()], shots=100_000)
    service.call_later(0.001, job.result)
    return service.advance(1)


def _program(circuit: QuantumCircuit, **kwargs: Any) -> QuantumProgram:
    program = QuantumProgram(shots=10, **kwargs)
    program.append_circuit_item(circuit)
    return program


def _write(tmp: Path, text: str) -> Path:
    path = tmp / "input.jsonl"
    path.write_text(text)
    return path


def test_the_catalogue_is_big_enough_and_unique() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_gets_a_clear_error_and_the_service_goes_on(case: Case,
                                                              tmp_path: Path) -> None:
    service = LocalService(seed=3)
    other = Session(service.backend())  # someone else, using the service meanwhile
    waiting = SamplerV2(mode=other).run([bell()], shots=50)
    with pytest.raises(case.error) as info:
        case.trigger(service, tmp_path)
    message = " ".join(str(info.value).split())
    for fragment in case.fragments:
        assert fragment in message, f"{case.id}: {fragment!r} not in {message!r}"
    # The service still serves everyone else.
    assert waiting.result()[0].data.meas.num_shots == 50
    assert SamplerV2(mode=other).run([bell()], shots=20).result()[0].data.meas.num_shots == 20


def test_docs_errors_md_lists_every_case() -> None:
    text = DOCS.read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z0-9-]+)` \| `(\w+)`",
                                                        text, re.MULTILINE)}
    for case in CASES:
        assert case.id in rows, f"docs/errors.md has no row for {case.id}"
        assert rows[case.id] == case.error.__name__, case.id
    assert set(rows) == {c.id for c in CASES}
