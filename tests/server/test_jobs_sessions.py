"""Milestone 2: sessions, batches and job mode through the real client, results decoded by it.

Virtual clock: time moves only when the test says (``server.run_until_idle``), so every
timestamp the client reads is exact. Job durations are the runtime's modeled ones, which
the server reports as ``estimated_running_time_seconds`` (the client's
``job.usage_estimation``).
"""

from __future__ import annotations

import pytest
from helpers.server import at, isa_bell, zz
from qiskit_ibm_runtime import Batch, EstimatorV2, SamplerV2, Session
from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

from qsession.server import Connection


def duration(job: object) -> float:
    """A job's modeled QPU seconds as the server announced them at submission."""
    return float(job.usage_estimation["quantum_seconds"])  # type: ignore[attr-defined]


def test_session_runs_sampler_and_estimator_with_exact_times(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    with Session(backend=backend) as session:
        sampler = SamplerV2(mode=session)
        estimator = EstimatorV2(mode=session)
        job1 = sampler.run([isa_bell(backend)], shots=200)
        isa = isa_bell(backend, measure=False)
        job2 = estimator.run([(isa, zz(isa))])
        assert job1.session_id == job2.session_id == session.session_id
        conn.server.run_until_idle()
        counts = job1.result()[0].data.meas.get_counts()
        assert set(counts) <= {"00", "11"} and sum(counts.values()) == 200
        # Aer adds shot noise of the requested precision (0.015625 by default).
        assert float(job2.result()[0].data.evs) == pytest.approx(1.0, abs=0.08)
        d1, d2 = duration(job1), duration(job2)
        m1, m2 = job1.metrics(), job2.metrics()
        assert m1["timestamps"] == {"created": at(0), "running": at(0), "finished": at(d1)}
        # The session's second job starts the instant the first ends (dispatch is immediate).
        assert m2["timestamps"] == {"created": at(0), "running": at(d1),
                                    "finished": at(d1 + d2)}
        assert job1.usage() == pytest.approx(d1)
        details = session.details()
        assert details is not None
        assert details["state"] == "active" and details["mode"] == "dedicated"
        assert details["started_at"] == details["activated_at"] == at(0)
        assert details["last_job_completed"] == at(d1 + d2)
        assert details["interactive_timeout"] == 60 and details["max_time"] == 28_800
        assert session.status() == "In progress, accepting new jobs"
    # ``with`` closed it (never cancelled): nothing in flight, so closed now.
    details = session.details()
    assert details is not None and details["state"] == "closed"
    assert details["closed_at"] == at(d1 + d2) and details["accepting_jobs"] is False
    assert [t["status"] for t in details["timestamps"]] == ["open", "active", "closed"]
    assert session.usage() == pytest.approx(d1 + d2)
    assert session.status() == "Closed"


def test_batch_bills_its_jobs_qpu_time(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    with Batch(backend=backend) as batch:
        sampler = SamplerV2(mode=batch)
        jobs = [sampler.run([isa], shots=50 * (i + 1)) for i in range(3)]
        assert conn.service.job(jobs[2].job_id()).status() == "QUEUED"
    conn.server.run_until_idle()
    assert [j.status() for j in jobs] == ["DONE"] * 3
    details = batch.details()
    assert details is not None and details["mode"] == "batch"
    assert details["state"] == "closed"
    total = sum(duration(j) for j in jobs)
    assert details["usage_time"] == pytest.approx(total)
    assert details["closed_at"] == at(total)


def test_job_mode_has_no_session_and_queues_fifo(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    sampler = SamplerV2(mode=backend)
    isa = isa_bell(backend)
    first, second = sampler.run([isa], shots=100), sampler.run([isa], shots=100)
    assert first.session_id is None
    assert first.status() == "RUNNING" and second.status() == "QUEUED"
    # IBM's metrics no longer give a queue position (JobMetricsResponse); the backend's
    # status counts the queue
    assert "position_in_queue" not in second.metrics()
    assert backend.status().pending_jobs == 1
    conn.server.run_until_idle()
    d = duration(first)
    assert second.metrics()["timestamps"]["running"] == at(d)
    assert second.result()[0].data.meas.num_shots == 100


def test_cancel_a_queued_and_a_running_job_then_a_final_one_is_409(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    sampler = SamplerV2(mode=backend)
    isa = isa_bell(backend)
    running, queued = sampler.run([isa], shots=100), sampler.run([isa], shots=100)
    queued.cancel()
    assert conn.service.job(queued.job_id()).status() == "CANCELLED"
    conn.server.advance(0.05)
    running.cancel()  # A running job is stopped and the QPU freed
    again = conn.service.job(running.job_id())
    assert again.status() == "CANCELLED"
    assert again.metrics()["timestamps"]["finished"] == at(0.05)
    assert again.usage() == pytest.approx(0.05)
    with pytest.raises(RuntimeInvalidStateError, match="Job was cancelled"):
        again.result()
    # runtime_job_v2.py: a 409 from /cancel is RuntimeInvalidStateError.
    with pytest.raises(RuntimeInvalidStateError, match="cannot be cancelled"):
        conn.service.job(queued.job_id()).cancel()


def test_session_cancel_cancels_queued_jobs_and_the_running_one_completes(
        conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    session = Session(backend=backend)
    sampler = SamplerV2(mode=session)
    jobs = [sampler.run([isa], shots=100) for _ in range(3)]
    session.cancel()  # DELETE /sessions/{id}/close
    conn.server.run_until_idle()
    assert [conn.service.job(j.job_id()).status() for j in jobs] == [
        "DONE", "CANCELLED", "CANCELLED"]
    details = session.details()
    assert details is not None and details["state"] == "closed"
    assert details["closed_at"] == at(0)


def test_session_from_id_and_service_job_see_the_same_objects(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    session = Session(backend=backend)
    job = SamplerV2(mode=session).run([isa_bell(backend)], shots=20)
    again = Session.from_id(session.session_id, conn.service)
    assert again.session_id == session.session_id
    assert again.details() == session.details()
    with pytest.raises(Exception, match="execution mode dedicated instead of batch"):
        Batch.from_id(session.session_id, conn.service)
    fetched = conn.service.job(job.job_id())
    assert fetched.session_id == session.session_id
    assert fetched.primitive_id == "sampler"
    conn.server.run_until_idle()
    assert fetched.result()[0].data.meas.num_shots == 20
    session.close()
