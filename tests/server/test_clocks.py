"""Milestone 3: the session timers over HTTP, on the virtual, fast and wall clocks.

Virtual time is steered over qsession's own routes (``/qsession/v1/advance``, ...) or
the server handle; every timestamp is then exact. ``fast`` jumps to the next
event when a client polls a job that is not final and adds the wall time a client
spends between requests, so a slow classical step still lets an ITTL run out.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers.server import at, control, isa_bell, start
from qiskit_ibm_runtime import SamplerV2, Session
from qiskit_ibm_runtime.exceptions import IBMRuntimeError, RuntimeJobFailureError

from qsession.cli.main import main as cli
from qsession.server import Connection


def duration(job: Any) -> float:
    """A job's modeled QPU seconds, as announced at submission."""
    return float(job.usage_estimation["quantum_seconds"])


def checked(conn: Connection, tmp_path: Path) -> None:
    """The server's trace, fetched over HTTP, passes ``qsession check --settled``."""
    path = tmp_path / "trace.jsonl"
    path.write_text(control(conn, "trace"))
    result = CliRunner().invoke(cli, ["check", str(path), "--settled"])
    assert result.exit_code == 0, result.output


def test_close_drains_and_a_closed_session_refuses_jobs(conn: Connection,
                                                        tmp_path: Path) -> None:
    backend = conn.service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    session = Session(backend=backend)
    other = Session.from_id(session.session_id, conn.service)  # a handle that still submits
    sampler = SamplerV2(mode=session)
    first, second = sampler.run([isa], shots=100), sampler.run([isa], shots=300)
    session.close()  # PATCH accepting_jobs=false: queued jobs still run (INV-CLOSE-DRAINS)
    details = session.details()
    assert details is not None
    assert details["state"] == "active" and details["accepting_jobs"] is False
    assert session.status() == "In progress, not accepting new jobs"
    # The server refuses the job ("The session is closed."), creating nothing.
    with pytest.raises(IBMRuntimeError, match="The session is closed"):
        SamplerV2(mode=other).run([isa], shots=10)
    control(conn, "run-until-idle", {})
    d1, d2 = duration(first), duration(second)
    assert second.metrics()["timestamps"]["finished"] == at(d1 + d2)
    details = session.details()
    assert details is not None and details["state"] == "closed"
    assert details["closed_at"] == at(d1 + d2)  # closed exactly when the last job finishes
    assert len(conn.service.jobs(session_id=session.session_id)) == 2
    checked(conn, tmp_path)


def test_max_ttl_fails_the_queued_job_while_the_running_one_completes(
        conn: Connection, tmp_path: Path) -> None:
    backend = conn.service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    session = Session(backend=backend, max_time=2)  # POST /sessions max_ttl=2
    details = session.details()
    assert details is not None and details["max_time"] == 2
    sampler = SamplerV2(mode=session)
    running = sampler.run([isa], shots=10_000)
    queued = sampler.run([isa], shots=10)
    d = duration(running)
    assert d > 2
    control(conn, "run-until-idle", {})
    # Queued jobs fail at expiry with the reason; the running job completes.
    assert queued.status() == "ERROR"
    assert "max time" in (queued.error_message() or "")
    # it never ran: no running instant (omitted, as IBM's Timestamps types it a string)
    assert queued.metrics()["timestamps"] == {"created": at(0), "finished": at(2)}
    with pytest.raises(RuntimeJobFailureError, match="session max time reached"):
        queued.result()
    assert running.status() == "DONE"
    assert running.metrics()["timestamps"]["finished"] == at(d)
    assert running.result()[0].data.meas.num_shots == 10_000
    details = session.details()
    assert details is not None and details["state"] == "closed"
    assert details["closed_at"] == at(2)
    checked(conn, tmp_path)


def test_an_expired_session_is_billed_until_its_running_job_completes(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    session = Session(backend=backend, max_time=2)
    running = SamplerV2(mode=session).run([isa_bell(backend)], shots=10_000)
    control(conn, "run-until-idle", {})
    # IBM: "usage continues to accumulate after a session ends if the QPU is still running a
    # job".
    assert session.usage() == pytest.approx(duration(running))


def test_ittl_deactivates_and_a_later_job_reactivates_at_exact_instants(
        conn: Connection, tmp_path: Path) -> None:
    backend = conn.service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    session = Session(backend=backend)
    sampler = SamplerV2(mode=session)
    first = sampler.run([isa], shots=100)
    control(conn, "run-until-idle", {})
    d1 = duration(first)
    state = control(conn, "advance", {"seconds": 59.999})
    assert state["now_seconds"] == pytest.approx(d1 + 59.999)
    assert session.details()["state"] == "active"  # type: ignore[index]
    control(conn, "advance", {"seconds": 0.001})  # the full 60 s ITTL with nothing in flight
    assert session.details()["state"] == "inactive"  # type: ignore[index]
    assert session.status() == "Pending"
    control(conn, "advance", {"seconds": 5})
    second = sampler.run([isa], shots=100)  # normal queue, QPU free: starts now
    details = session.details()
    assert details is not None and details["state"] == "active"
    assert details["activated_at"] == at(d1 + 65) and details["started_at"] == at(0)
    assert [(t["status"], t["timestamp"]) for t in details["timestamps"]] == [
        ("open", at(0)), ("active", at(0)), ("inactive", at(d1 + 60)), ("active", at(d1 + 65))]
    control(conn, "run-until-idle", {})
    assert second.metrics()["timestamps"]["running"] == at(d1 + 65)
    session.close()
    checked(conn, tmp_path)


def test_state_route_reports_the_clock_and_queues(conn: Connection) -> None:
    state = control(conn, "state")
    assert state["clock"] == "virtual" and state["now"] == "2025-01-01T00:00:00Z"
    assert state["backends"] == {"ibm_brisbane": {"queued": 0, "idle": True},
                                 "qsession_ideal": {"queued": 0, "idle": True}}
    assert control(conn, "step", {})["moved"] is False  # nothing is due


def test_fast_clock_jumps_to_the_job_end_and_counts_the_callers_think_time() -> None:
    connection = start(clock="fast", settings={"interactive_timeout": 0.3})
    try:
        backend = connection.service.backend("ibm_brisbane")
        isa = isa_bell(backend)
        with Session(backend=backend) as session:
            sampler = SamplerV2(mode=session)
            long = sampler.run([isa], shots=40_000)
            d = duration(long)
            assert d > 10
            # result(timeout=) is wall seconds in the client: the modeled 10+ s job is
            # reached by jumping, not by waiting.
            assert long.result(timeout=8)[0].data.meas.num_shots == 40_000
            time.sleep(0.6)  # a slow classical step: 0.6 s of wall time > the 0.3 s ITTL
            sampler.run([isa], shots=10).result(timeout=8)
            details = session.details()
        assert details is not None
        statuses = [t["status"] for t in details["timestamps"]]
        assert statuses[:4] == ["open", "active", "inactive", "active"]
        assert long.metrics()["timestamps"]["running"] == details["started_at"]
    finally:
        connection.close()


@pytest.mark.wall
def test_wall_clock_runs_a_session_in_sped_up_real_time() -> None:
    connection = start(clock="wall", speed=50.0)
    try:
        backend = connection.service.backend("ibm_brisbane")
        isa = isa_bell(backend)
        with Session(backend=backend) as session:
            job = SamplerV2(mode=session).run([isa], shots=100)
            assert job.result(timeout=30)[0].data.meas.num_shots == 100
        metrics = job.metrics()
        assert metrics["timestamps"]["running"] is not None
        assert job.usage() >= duration(job) - 1e-6  # ends on time or late, never early
        for _ in range(100):
            details = session.details()
            if details is not None and details["state"] == "closed":
                break
            time.sleep(0.05)
        assert details is not None and details["state"] == "closed"
    finally:
        connection.close()
