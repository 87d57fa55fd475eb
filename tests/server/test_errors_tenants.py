"""Milestone 5: IBM's 4xx error bodies, tenants that cannot see each other, filters and tags.

Bad input never gets a 5xx: the client retries 5xx five times, POSTs included
(qiskit_ibm_runtime/api/session.py ``PostForcelistRetry``), so a 500 for a bad request
would resubmit it. Raw requests show the body shapes; the client shows how they surface.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from helpers.server import EPOCH, at, isa_bell, start
from qiskit_ibm_runtime import EstimatorV2, QiskitRuntimeService, SamplerV2, Session
from qiskit_ibm_runtime.exceptions import IBMInputValueError, RuntimeJobNotFound

from qsession.server import Connection, Instance

API = "/api/v1"


@pytest.fixture
def two() -> Iterator[Connection]:
    """A server with two premium tenants sharing ibm_brisbane 3:1."""
    connection = start(instances=[Instance("alpha", "premium", 3.0),
                                  Instance("beta", "premium", 1.0)])
    try:
        yield connection
    finally:
        connection.close()


def headers(conn: Connection, instance: str = "alpha") -> dict[str, str]:
    """A bearer token from the fake IAM and the tenant's Service-CRN."""
    token = requests.post(conn.server.url + "/identity/token", timeout=30, data={
        "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
        "apikey": conn.server.emulator.token}).json()["access_token"]
    return {"Authorization": f"Bearer {token}",
            "Service-CRN": conn.server.emulator.instances[instance].crn}


def service_for(conn: Connection, instance: str) -> QiskitRuntimeService:
    """The real client bound to one tenant."""
    env = conn.server.env(instance)
    return QiskitRuntimeService(channel="ibm_quantum_platform", token=env["QISKIT_IBM_TOKEN"],
                                url=env["QISKIT_IBM_URL"], instance=env["QISKIT_IBM_INSTANCE"])


def assert_ibm_error(response: requests.Response, status: int, words: str) -> dict[str, Any]:
    """The response is IBM's error body with ``status`` and a message containing ``words``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errors", "trace"}  # IBM's ErrorContainer and nothing more
    (error,) = body["errors"]
    assert set(error) == {"code", "message", "solution", "more_info"}
    assert words in error["message"], error["message"]
    assert isinstance(error["code"], int)
    return dict(error)


def test_bad_requests_are_4xx_in_ibms_shape(two: Connection) -> None:
    url, h = two.server.url + API, headers(two)
    post = lambda path, body: requests.post(url + path, data=body, timeout=30,  # noqa: E731
                                            headers={**h, "Content-Type": "application/json"})
    assert_ibm_error(post("/jobs", "{not json"), 400, "cannot be decoded")
    assert_ibm_error(post("/jobs", "[1, 2]"), 400, "must be a JSON object")
    base = {"program_id": "sampler", "backend": "ibm_brisbane"}
    assert_ibm_error(post("/jobs", json.dumps({**base, "program_id": "qaoa",
                                               "params": {"pubs": []}})),
                     404, "Program not found")
    error = assert_ibm_error(post("/jobs", json.dumps({**base, "backend": "ibm_nowhere",
                                                       "params": {"pubs": []}})),
                             400, "Backend not found")
    assert error["code"] == 1007  # IBM's registry: "Backend not found"
    # A string pub is a circuit (IBM's reference: OpenQASM 3 or base64 QPY); this one is
    # neither, and the answer says where the parser stopped.
    assert_ibm_error(post("/jobs", json.dumps({**base, "params": {"pubs": ["no circuit"]}})),
                     400, "sampler pub 0: the circuit is not OpenQASM 3 that Qiskit can read "
                     "(syntax error at line 1")
    # Parameters are validated with IBM's own schema models (ibm-quantum-schemas).
    assert_ibm_error(post("/jobs", json.dumps({**base, "params": {
        "pubs": ["OPENQASM 3.0; bit[1] c;"], "transpilation": {"optimization_level": 1}}})),
        400, "sampler schema (ibm-quantum-schemas sampler version_0_1): params.transpilation")
    assert_ibm_error(post("/jobs", json.dumps({**base, "params": {"pubs": [], "options": {
        "default_shots": -5}}})), 400, "default_shots")
    assert_ibm_error(post("/jobs", json.dumps({**base, "params": {"pubs": [], "options": {
        "no_such_option": 1}}})), 400, "no_such_option")
    assert_ibm_error(post("/jobs", json.dumps({**base, "params": "pubs"})), 400,
                     "params: Input should be a valid dictionary")
    assert_ibm_error(post("/jobs", json.dumps({**base, "params": {"pubs": []},
                                               "session_id": "s999"})), 404, "Session not found")
    assert_ibm_error(post("/sessions", json.dumps({"mode": "exclusive",
                                                   "backend": "ibm_brisbane"})), 400, "mode")
    assert_ibm_error(post("/sessions", json.dumps({"backend": "ibm_brisbane",
                                                   "max_ttl": -3})), 400, "max_ttl")
    error = assert_ibm_error(requests.get(url + "/backends/ibm_nowhere/status", headers=h,
                                          timeout=30), 404, "Backend not found")
    assert error["code"] == 1007
    assert_ibm_error(requests.get(url + "/jobs/j404", headers=h, timeout=30), 404,
                     "Job not found")
    assert_ibm_error(requests.get(url + "/jobs?pending=maybe", headers=h, timeout=30), 400,
                     "pending")
    assert_ibm_error(requests.get(url + "/jobs?limit=ten", headers=h, timeout=30), 400, "limit")
    assert_ibm_error(requests.get(url + "/sessions/s404", headers=h, timeout=30), 404,
                     "Session not found")
    assert_ibm_error(requests.get(url + "/nowhere", headers=h, timeout=30), 404, "Not Found")
    assert_ibm_error(requests.get(url + "/backends", timeout=30), 401, "Invalid credentials")
    # An instance the server does not know becomes a tenant on first use (docs/server.md,
    # "Any credentials"); with --strict-accounts it is a 403 (test_intercept.py).
    assert requests.get(url + "/backends", timeout=30,
                        headers={**h, "Service-CRN": "crn:v1:other"}).status_code == 200
    assert "crn:v1:other" in two.server.emulator.by_crn
    assert two.server.state()["faults"] == 0


def test_garbage_bodies_never_get_a_5xx(two: Connection) -> None:
    url, h = two.server.url + API, headers(two)
    session = requests.post(url + "/sessions", json={"backend": "ibm_brisbane"}, headers=h,
                            timeout=30).json()["id"]
    bodies = ["", "null", "0", "\"text\"", "{}", "[]", "{\"params\": null}",
              "{\"program_id\": \"sampler\", \"backend\": 5, \"params\": {}}",
              "{\"program_id\": \"estimator\", \"backend\": \"ibm_brisbane\", "
              "\"params\": {\"pubs\": [[1, 2, 3, 4]]}}",
              "{\"program_id\": \"sampler\", \"backend\": \"ibm_brisbane\", "
              "\"params\": {\"pubs\": [{\"__type__\": \"QuantumCircuit\", \"__value__\": \"x\"}]}}",
              "{\"accepting_jobs\": true}", "{\"tags\": [1]}", "\xff\xfe"]
    routes = [("POST", "/jobs"), ("POST", "/sessions"), ("PATCH", f"/sessions/{session}"),
              ("PUT", "/jobs/j1/tags")]
    statuses: list[int] = []
    for method, path in routes:
        for body in bodies:
            response = requests.request(method, url + path, data=body.encode("utf-8", "replace"),
                                        headers={**h, "Content-Type": "application/json"},
                                        timeout=30)
            # Some of these are valid (a session body with unknown keys opens one, as
            # AdvancedSession's extra fields do); none may be a 5xx.
            assert response.status_code < 500, (method, path, body, response.text)
            if response.status_code >= 400:
                assert "errors" in response.json()
            else:
                statuses.append(response.status_code)
    assert len(statuses) < len(bodies)  # most of them are refused
    assert two.server.state()["faults"] == 0


def test_another_instances_job_and_session_do_not_exist(two: Connection) -> None:
    alpha, beta = service_for(two, "alpha"), service_for(two, "beta")
    backend = alpha.backend("ibm_brisbane")
    session = Session(backend=backend)
    job = SamplerV2(mode=session).run([isa_bell(backend)], shots=10)
    assert alpha.job(job.job_id()).job_id() == job.job_id()
    with pytest.raises(RuntimeJobNotFound):
        beta.job(job.job_id())
    with pytest.raises(IBMInputValueError, match="Session not found"):
        Session.from_id(session.session_id, beta)
    assert [j.job_id() for j in beta.jobs()] == []
    h = headers(two, "beta")
    url = two.server.url + API
    for path in (f"/jobs/{job.job_id()}", f"/jobs/{job.job_id()}/results",
                 f"/jobs/{job.job_id()}/metrics", f"/sessions/{session.session_id}"):
        assert_ibm_error(requests.get(url + path, headers=h, timeout=30), 404, "not found")
    response = requests.post(url + f"/jobs/{job.job_id()}/cancel", headers=h, timeout=30)
    assert_ibm_error(response, 404, "Job not found")
    assert job.status() == "RUNNING"  # untouched by the other tenant
    session.cancel()


def test_jobs_filters_tags_and_order(two: Connection) -> None:
    service = two.service
    backend = service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    sampler = SamplerV2(mode=backend)
    sampler.options.environment.job_tags = ["sweep", "a"]
    tagged = [sampler.run([isa], shots=10) for _ in range(2)]
    two.server.advance(10)
    session = Session(backend=backend)
    isa_e = isa_bell(backend, measure=False)
    from helpers.server import zz

    estimated = EstimatorV2(mode=session).run([(isa_e, zz(isa_e))])
    pending_one = SamplerV2(mode=session).run([isa], shots=10)
    assert tagged[0].status() == "DONE" and pending_one.status() == "QUEUED"
    ids = lambda jobs: [j.job_id() for j in jobs]  # noqa: E731
    everything = ids([*tagged, estimated, pending_one])
    assert ids(service.jobs(limit=None)) == everything[::-1]  # newest first
    assert ids(service.jobs(limit=None, descending=False)) == everything
    assert ids(service.jobs(limit=2)) == everything[::-1][:2]
    assert ids(service.jobs(limit=2, skip=1)) == everything[::-1][1:3]
    assert ids(service.jobs(job_tags=["sweep"], limit=None)) == everything[:2][::-1]
    assert ids(service.jobs(job_tags=["sweep", "missing"])) == []
    assert ids(service.jobs(program_id="estimator")) == [estimated.job_id()]
    assert ids(service.jobs(session_id=session.session_id, limit=None)) == everything[2:][::-1]
    assert ids(service.jobs(pending=True, limit=None)) == [pending_one.job_id(),
                                                           estimated.job_id()]
    assert ids(service.jobs(pending=False, limit=None)) == everything[:2][::-1]
    assert ids(service.jobs(backend_name="ibm_brisbane", limit=None)) == everything[::-1]
    assert ids(service.jobs(backend_name="ibm_torino")) == []
    later = EPOCH + timedelta(seconds=5)
    assert ids(service.jobs(created_after=later, limit=None)) == everything[2:][::-1]
    assert ids(service.jobs(created_before=later, limit=None)) == everything[:2][::-1]
    assert service.job(tagged[0].job_id()).tags == ["sweep", "a"]
    assert sorted(tagged[0].update_tags(["renamed"])) == ["renamed"]
    assert ids(service.jobs(job_tags=["renamed"])) == [tagged[0].job_id()]
    assert service.job(estimated.job_id()).creation_date is not None
    assert service.job(estimated.job_id()).metrics()["timestamps"]["created"] == at(10)
    service.delete_job(tagged[1].job_id())
    with pytest.raises(RuntimeJobNotFound):
        service.job(tagged[1].job_id())
    session.cancel()


_SECOND = textwrap.dedent("""
    import json, sys
    from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2, Session
    service = QiskitRuntimeService()
    session = Session.from_id(sys.argv[1], service)
    job = service.job(sys.argv[2])
    counts = job.result()[0].data.meas.get_counts()
    backend = service.backend(session.backend())
    circuit = job.inputs["pubs"][0][0]
    more = SamplerV2(mode=session).run([circuit], shots=7)
    print(json.dumps({"counts": sum(counts.values()), "session": session.session_id,
                      "job_session": job.session_id, "more": more.job_id(),
                      "details": session.details()["state"]}))
""")


def test_a_second_process_attaches_with_session_from_id_and_service_job(
        conn: Connection, tmp_path: Any) -> None:
    backend = conn.service.backend("ibm_brisbane")
    session = Session(backend=backend)
    job = SamplerV2(mode=session).run([isa_bell(backend)], shots=30)
    conn.server.run_until_idle()
    env = {**os.environ, **conn.server.env(), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", _SECOND, session.session_id, job.job_id()],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["counts"] == 30 and out["session"] == out["job_session"] == session.session_id
    assert out["details"] == "active"
    more = conn.service.job(out["more"])
    assert more.session_id == session.session_id
    conn.server.run_until_idle()
    assert more.result()[0].data.meas.num_shots == 7
    session.close()


@pytest.mark.server_faults(1)
def test_a_server_fault_is_a_500_with_a_message_and_the_server_goes_on(
        conn: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = conn.service.backend("ibm_brisbane")
    job = SamplerV2(mode=backend).run([isa_bell(backend)], shots=10)
    url, h = conn.server.url + API, headers(conn, "qsession")
    from qsession.server import wire

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a fault injected into the metrics encoder")

    monkeypatch.setattr(wire, "job_metrics", broken)
    response = requests.get(url + f"/jobs/{job.job_id()}/metrics", headers=h, timeout=30)
    assert_ibm_error(response, 500, "a fault injected into the metrics encoder")
    monkeypatch.undo()
    assert requests.get(url + f"/jobs/{job.job_id()}/metrics", headers=h,
                        timeout=30).status_code == 200
    assert conn.server.state()["faults"] == 1
    conn.server.run_until_idle()
    assert job.status() == "DONE"


def test_open_plan_refuses_sessions_but_runs_batches() -> None:
    connection = start(instances=[Instance("free", "open", 1.0)])
    try:
        service = connection.service
        assert service.instances()[0]["plan"] == "open"
        backend = service.backend("ibm_brisbane")
        # IBM: "Open Plan users cannot submit session jobs".
        with pytest.raises(Exception, match="Open Plan users cannot submit session jobs"):
            Session(backend=backend)
        from qiskit_ibm_runtime import Batch

        with Batch(backend=backend) as batch:
            job = SamplerV2(mode=batch).run([isa_bell(backend)], shots=10)
        connection.server.run_until_idle()
        assert job.status() == "DONE"
        usage = service.usage()
        assert usage["usage_limit_seconds"] == 600
        assert usage["usage_consumed_seconds"] == pytest.approx(job.usage())
        assert usage["usage_remaining_seconds"] == pytest.approx(600 - job.usage())
    finally:
        connection.close()


def test_max_execution_time_stops_a_job_with_ibms_reason_code(conn: Connection) -> None:
    from qiskit_ibm_runtime.exceptions import RuntimeJobMaxTimeoutError

    backend = conn.service.backend("ibm_brisbane")
    sampler = SamplerV2(mode=backend)
    sampler.options.max_execution_time = 1  # sent as the job's "cost"
    job = sampler.run([isa_bell(backend)], shots=10_000)  # modeled well over 1 s
    conn.server.run_until_idle()
    # runtime_job_v2.py: Cancelled with reason code 1305 is ERROR and raises this error.
    assert job.status() == "ERROR"
    with pytest.raises(RuntimeJobMaxTimeoutError):
        job.result()
    assert job.metrics()["timestamps"]["finished"] == at(1)


def test_fair_share_and_priority_between_two_tenants_at_exact_instants(two: Connection) -> None:
    """Fair share over HTTP: the normal queue serves the smallest used/allocated share first
    (alpha 3 : beta 1, FIFO on ties); an active session holds the QPU through its ITTL."""
    alpha, beta = two.service, service_for(two, "beta")
    a_backend, b_backend = alpha.backend("ibm_brisbane"), beta.backend("ibm_brisbane")
    isa = isa_bell(a_backend)
    a_sampler, b_sampler = SamplerV2(mode=a_backend), SamplerV2(mode=b_backend)
    a0 = a_sampler.run([isa], shots=100)  # runs at once
    order = [a0]
    for _ in range(3):
        order += [a_sampler.run([isa], shots=100), b_sampler.run([isa], shots=100)]
    two.server.run_until_idle()
    a1, b1, a2, b2, a3, b3 = order[1:]
    d = float(a0.usage_estimation["quantum_seconds"])
    started = {j.job_id(): j.metrics()["timestamps"]["running"] for j in order}
    # beta has used nothing, then 4d per share after one job; alpha 4d after three: a tie
    # that FIFO breaks for b2, submitted before a3.
    expected = [a0, b1, a1, a2, b2, a3, b3]
    assert [started[j.job_id()] for j in expected] == [at(i * d) for i in range(7)]
    t = 7 * d
    # Priority: alpha's session job runs, then the session holds the QPU idle for its
    # 60 s ITTL while beta's job waits; beta starts the instant the session deactivates.
    session = Session(backend=a_backend)
    in_session = SamplerV2(mode=session).run([isa], shots=100)
    waiting = b_sampler.run([isa], shots=100)
    two.server.run_until_idle()
    assert in_session.metrics()["timestamps"]["running"] == at(t)
    assert waiting.metrics()["timestamps"]["running"] == at(t + d + 60)
    details = session.details()
    assert details is not None and details["state"] == "inactive"
    session.close()
