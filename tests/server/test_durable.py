"""A platform kept in a state folder: resumed on restart, refused when it cannot be (in process).

The SIGKILL campaign with client processes is tests/server/test_crash.py; here one server
stops and another starts on the same folder, so every step is exact (virtual clock).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers.circuits import bell
from helpers.rest import Rest
from helpers.server import control, isa_bell, start
from qiskit_ibm_runtime import Batch, SamplerV2, Session
from qiskit_ibm_runtime.exceptions import (
    IBMRuntimeError,
    RuntimeJobFailureError,
    RuntimeJobNotFound,
)

from qsession.properties.invariants import check
from qsession.runtime.engine.ids import IBM_ID
from qsession.server import Emulator
from qsession.server.store import STATE_VERSION, StateError


def counts(job: Any) -> dict[str, int]:
    return dict(job.result()[0].data.meas.get_counts())


def test_a_restarted_server_resumes_the_platform_from_its_folder(tmp_path: Path) -> None:
    first = start(state_dir=tmp_path)
    try:
        backend = first.service.backend("ibm_brisbane")
        isa = isa_bell(backend)
        session = Session(backend=backend)
        in_session = [SamplerV2(mode=session).run([isa], shots=100) for _ in range(3)]
        batch = Batch(backend=backend)
        batched = SamplerV2(mode=batch).run([isa], shots=50)
        alone = SamplerV2(mode=backend).run([isa], shots=30)
        alone.update_tags(["kept"])
        d = float(in_session[0].usage_estimation["quantum_seconds"])
        first.server.advance(d + d / 2)  # the first ended, the second runs
        read = counts(in_session[0])
        ids = [j.job_id() for j in [*in_session, batched, alone]]
        assert all(IBM_ID.fullmatch(i) for i in [*ids, session.session_id, batch.session_id])
        before = control(first, "state")
    finally:
        first.close()  # the process goes; the folder stays

    second = start(state_dir=tmp_path)
    try:
        state = control(second, "state")
        assert state["restarts"] == 1 and state["jobs"] == 5 and state["sessions"] == 2
        assert state["now_seconds"] == before["now_seconds"]  # the clock's position kept
        service = second.service
        # The result a client read reads back identical.
        assert counts(service.job(ids[0])) == read
        # The job that was running ended as IBM ends a job it failed to run (code 5203).
        interrupted = service.job(ids[1])
        assert interrupted.status() == "ERROR"
        with pytest.raises(RuntimeJobFailureError, match="Error code 5203"):
            interrupted.result()
        assert service.job(ids[4]).tags == ["kept"]
        assert [service.job(i).status() for i in ids[2:]] == ["RUNNING", "QUEUED", "QUEUED"]
        second.server.run_until_idle()
        assert [service.job(i).status() for i in ids[2:]] == ["DONE"] * 3
        assert sum(counts(service.job(ids[2])).values()) == 100
        # The session goes on: it takes another job under its IBM-shaped id.
        resumed = Session.from_id(session.session_id, service=service)
        more = SamplerV2(mode=resumed).run([isa_bell(service.backend("ibm_brisbane"))],
                                           shots=10)
        assert IBM_ID.fullmatch(more.job_id()) and more.job_id() not in ids
        service.delete_job(ids[0])
        trace = second.server.emulator.trace
        # One restart record per QPU.
        assert sorted((r.qpu, r.data["restarts"]) for r in trace if r.event == "restart") == [
            ("ibm_brisbane", 1), ("qsession_ideal", 1)]
        report = check(trace)
        assert report.ok, report.violations
    finally:
        second.close()

    third = start(state_dir=tmp_path)
    try:  # the deletion and the later job survive the next restart too
        assert control(third, "state")["restarts"] == 2
        with pytest.raises(RuntimeJobNotFound):
            third.service.job(ids[0])
        assert third.service.job(more.job_id()).job_id() == more.job_id()
    finally:
        third.close()


def test_reset_empties_the_platform_and_never_gives_an_old_id_again(tmp_path: Path) -> None:
    conn = start(state_dir=tmp_path)
    try:
        backend = conn.service.backend("ibm_brisbane")
        old = SamplerV2(mode=backend).run([isa_bell(backend)], shots=10)
        conn.server.run_until_idle()
        state = control(conn, "reset", {})
        assert state["jobs"] == 0 and state["sessions"] == 0 and state["now_seconds"] == 0
        with pytest.raises(RuntimeJobNotFound):
            conn.service.job(old.job_id())
        new = SamplerV2(mode=backend).run([isa_bell(backend)], shots=10)
        assert new.job_id() != old.job_id()
        trace = conn.server.emulator.trace
        assert [r.id for r in trace if r.event == "create"] == [new.job_id()]
    finally:
        conn.close()
    # The folder holds the platform after the reset, not before it.
    again = start(state_dir=tmp_path)
    try:
        assert [r.id for r in again.server.emulator.trace if r.event == "create"] == [
            new.job_id()]
    finally:
        again.close()


def test_a_folder_made_otherwise_or_by_another_version_is_refused(tmp_path: Path) -> None:
    Emulator(state_dir=tmp_path, seed=3, noise=False).close()
    with pytest.raises(StateError, match=r"other settings.*backends.*qsession_ideal"):
        Emulator(state_dir=tmp_path, seed=3, noise=False, backends=("qsession_ideal",))
    with pytest.raises(StateError, match="seed: the folder has 3"):
        Emulator(state_dir=tmp_path, seed=4, noise=False)
    resumed = Emulator(state_dir=tmp_path, noise=False)  # no seed given: the folder's
    assert resumed.service.seed == 3 and resumed.restarts == 1
    resumed.close()
    with sqlite3.connect(tmp_path / "platform.sqlite3") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(STATE_VERSION + 1),))
    with pytest.raises(StateError, match=rf"state format version {STATE_VERSION + 1}.*reads "
                                         rf"version {STATE_VERSION} only"):
        Emulator(state_dir=tmp_path, noise=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "trace.jsonl").write_text("{}\n")
    with pytest.raises(StateError, match="not a qsession state folder"):
        Emulator(state_dir=other, noise=False)
    with pytest.raises(StateError, match="wall-clock platform"):
        wall = tmp_path / "wall"
        Emulator(state_dir=wall, clock="wall", noise=False).close()
        Emulator(state_dir=wall, clock="wall", noise=False)


def test_a_record_cut_short_by_the_kill_is_dropped(tmp_path: Path) -> None:
    conn = start(state_dir=tmp_path)
    try:
        backend = conn.service.backend("ibm_brisbane")
        job = SamplerV2(mode=backend).run([isa_bell(backend)], shots=10)
        conn.server.run_until_idle()
    finally:
        conn.close()
    path = tmp_path / "trace.jsonl"
    whole = path.read_text()
    with open(path, "a") as fh:
        fh.write('{"seq": 999, "t": 1.0, "qpu": "ibm_bri')  # a write the kill interrupted
    again = start(state_dir=tmp_path)
    try:
        assert again.service.job(job.job_id()).status() == "DONE"
        assert path.read_text().startswith(whole) and path.read_text().endswith("\n")
    finally:
        again.close()


def test_submitting_to_a_session_closed_before_the_restart_is_refused(tmp_path: Path) -> None:
    conn = start(state_dir=tmp_path)
    try:
        backend = conn.service.backend("ibm_brisbane")
        session = Session(backend=backend)
        SamplerV2(mode=session).run([isa_bell(backend)], shots=10)
        session.close()
        conn.server.run_until_idle()
    finally:
        conn.close()
    again = start(state_dir=tmp_path)
    try:
        resumed = Session.from_id(session.session_id, service=again.service)
        assert resumed.details()["state"] == "closed"  # type: ignore[index]
        with pytest.raises(IBMRuntimeError, match="closed"):
            SamplerV2(mode=resumed).run([isa_bell(again.service.backend("ibm_brisbane"))])
    finally:
        again.close()


def test_a_tenant_that_came_after_the_start_keeps_its_crn_and_jobs(tmp_path: Path) -> None:
    crn = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct42:lab::"
    conn = start(state_dir=tmp_path)
    try:
        rest = Rest(conn)
        rest.crn = crn  # an instance the server was not started with: a tenant on first use
        body = {"program_id": "sampler", "backend": "ibm_brisbane",
                "params": {"pubs": [[rest.isa_qasm(bell(), "ibm_brisbane"), None, 20]],
                           "version": 2}}
        job_id = rest.submit(body)
        conn.server.run_until_idle()
        assert rest.state(job_id)["status"] == "Completed"
        first = rest.results(job_id)
    finally:
        conn.close()
    again = start(state_dir=tmp_path)
    try:
        rest = Rest(again)
        rest.crn = crn
        assert rest.state(job_id)["status"] == "Completed"
        assert rest.results(job_id) == first  # the same result text, read back
        assert again.server.emulator.instances["lab"].crn == crn
        rest.crn = again.server.env()["QISKIT_IBM_INSTANCE"]  # another tenant: not its job
        response = requests.get(f"{rest.base}/api/v1/jobs/{job_id}", headers=rest.headers(),
                                timeout=60)
        assert response.status_code == 404
    finally:
        again.close()
