"""Oracles with their own source of truth: the caller's configuration, IBM's types, reach floors."""

from __future__ import annotations

from collections import Counter

from qsession.cli.verify import REACH_MIN_RUNS, reach_table
from qsession.properties.invariants import Monitor
from qsession.properties.oracle import Expected, JobChoice, SessionChoice, Timing
from qsession.properties.reported import DETAILS_TYPES, reported, type_errors
from qsession.runtime import QPU, LocalService, SamplerV2, Session
from qsession.runtime.engine.clock import to_us


def _service() -> tuple[LocalService, QPU]:
    qpu = QPU.ideal("q", num_qubits=3)
    return LocalService(seed=1, backends=[qpu], idle_close_timeout=30.0), qpu


def test_a_float_where_ibm_sends_an_int_is_a_violation() -> None:
    # IBM's REST session has integer interactive_ttl/max_ttl/active_ttl
    # (qiskit_ibm_runtime/session.py, Session.details maps them to these keys).
    service, qpu = _service()
    session = Session(qpu, max_time=100)
    details = session.details()
    assert type_errors(details, DETAILS_TYPES) == []
    monitor = Monitor()
    monitor.sync(service.trace, service.clock.now())
    assert reported(monitor.state, service.clock.now(), {session.session_id: details}, {}) == []
    wrong = {**details, "interactive_timeout": float(details["interactive_timeout"])}
    found = reported(monitor.state, service.clock.now(), {session.session_id: wrong}, {})
    assert [v.invariant for v in found] == ["INV-REPORTED"]
    assert "interactive_timeout=60.0 (float; IBM sends int)" in found[0].message


def test_the_callers_choice_not_the_record_is_the_expectation() -> None:
    service, qpu = _service()
    session = Session(qpu, max_time=100)
    chosen = SessionChoice("q", "dedicated", "default", to_us(60), to_us(100), to_us(30))
    # What the caller chose agrees with the record: nothing to report.
    monitor = Monitor(expected=Expected(sessions={session.session_id: chosen}))
    monitor.sync(service.trace, service.clock.now())
    assert monitor.report().ok
    # A caller that asked for an idle-close timeout of 10 s: the record (30 s) is wrong,
    # and the replay holds the session to 10 s, so the close at 30 s is late as well.
    asked = SessionChoice("q", "dedicated", "default", to_us(60), to_us(100), to_us(10))
    monitor = Monitor(expected=Expected(sessions={session.session_id: asked}))
    service.advance(40)
    monitor.sync(service.trace, service.clock.now())
    found = {v.invariant for v in monitor.report().violations}
    assert found == {"INV-IDLE-CLOSE"}
    messages = " ".join(v.message for v in monitor.report().violations)
    assert "idle_close_timeout_us=30000000" in messages and "10000000" in messages


def test_a_jobs_time_comes_from_the_published_formula() -> None:
    service, qpu = _service()
    from qsession.properties.strategies import CIRCUITS

    bell = CIRCUITS["bell"]
    seconds = qpu.timing.circuit_seconds(bell, qpu.target)
    timing = Timing(overhead_s=2.0, rep_delay_s=250e-6)
    job = SamplerV2(mode=qpu).run([(bell,), (bell,)], shots=100)
    need = timing.job_us([(seconds, 100, 1), (seconds, 100, 1)])
    assert need == to_us(2 * 2.0 + 200 * (250e-6 + seconds))
    expected = Expected(jobs={job.job_id(): JobChoice("q", None, "default", need, None)})
    job.result()
    monitor = Monitor(expected=expected)
    monitor.sync(service.trace, service.clock.now())
    assert monitor.report().ok
    view = monitor.state.jobs[job.job_id()]
    ended = [(job.job_id(), view.state, view.started, view.finished, view.reason)]
    assert expected.job_violations(ended) == []
    # One overhead per job instead of per pub: the oracle sees the second sub-job missing.
    short = Expected(jobs={job.job_id(): JobChoice("q", None, "default", need + 1, None)})
    assert [v.invariant for v in short.job_violations(ended)] == ["INV-DURATION"]


def test_a_situation_below_its_floor_fails_from_100_runs_on() -> None:
    reached = Counter({"expiry": 40, "idle close": 3})
    floors = {"expiry": 0.25, "idle close": 0.05}
    _, below = reach_table(reached, 100, floors)
    assert below == ["idle close 3% < 5%"]
    _, below = reach_table(Counter({"expiry": 1, "idle close": 0}), REACH_MIN_RUNS - 1, floors)
    assert below == []


def test_a_batch_whose_job_started_at_instant_zero_is_billed_while_it_runs() -> None:
    # Found by the stateful runs once they opened batches at t=0 and waited 0.5 s with a
    # timeout: the expectation read a start at 0 as "no start" and wanted 0 s.
    from qsession.runtime import Batch

    service, qpu = _service()
    batch = Batch(qpu, max_time=100)
    from qsession.properties.strategies import CIRCUITS

    job = SamplerV2(mode=batch).run([(CIRCUITS["bell"],)], shots=4_000)
    service.advance(0.5)
    assert job.status() == "RUNNING"
    monitor = Monitor()
    monitor.sync(service.trace, service.clock.now())
    details = batch.details()
    assert details["usage_time"] == 0.5
    assert reported(monitor.state, service.clock.now(),
                    {batch.session_id: {**details, "usage": batch.usage()}}, {}) == []
