"""IBM's REST reference, endpoint by endpoint, with plain ``requests`` (any HTTP client).

Each test cites the part of IBM's Qiskit Runtime REST reference it checks
(quantum.cloud.ibm.com/docs/api/qiskit-runtime-rest, its per-resource pages and schemas);
the rows of docs/rest-api.md's table name these tests.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from helpers.server import at, isa_bell, start, zz
from qiskit_ibm_runtime import EstimatorV2, SamplerV2, Session
from qiskit_ibm_runtime.utils.backend_converter import convert_to_target
from qiskit_ibm_runtime.utils.backend_decoder import configuration_from_server_data

from qsession.server import Connection

API = "/api/v1"


@pytest.fixture
def conn() -> Iterator[Connection]:
    """A virtual-clock server with ibm_brisbane and the ideal QPU."""
    connection = start(backends=("ibm_brisbane", "qsession_ideal"))
    try:
        yield connection
    finally:
        connection.close()


def headers(conn: Connection, **extra: str) -> dict[str, str]:
    """A bearer token from the fake IAM, the instance's Service-CRN, and ``extra``."""
    token = requests.post(conn.server.url + "/identity/token", timeout=30, data={
        "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
        "apikey": conn.server.emulator.token}).json()["access_token"]
    crn = next(iter(conn.server.emulator.instances.values())).crn
    return {"Authorization": f"Bearer {token}", "Service-CRN": crn, **extra}


def call(conn: Connection, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A request to the runtime API with the instance's credentials."""
    h = headers(conn, **kwargs.pop("extra", {}))
    return requests.request(method, conn.server.url + API + path, headers=h, timeout=60,
                            **kwargs)


def ibm_error(response: requests.Response, status: int, words: str,
              code: int | None = None) -> dict[str, Any]:
    """IBM's error body and nothing more: ``errors[{code, message, solution, more_info}]``
    and ``trace`` (IBM's live answers, e.g. ``{"errors": [{"code": 1291, "message": "Job
    not found...", "solution": ..., "more_info": ...}], "trace": ...}``)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errors", "trace"}, body
    (error,) = body["errors"]
    assert set(error) == {"code", "message", "solution", "more_info"}
    assert isinstance(error["code"], int) and words in error["message"], error
    if code is not None:
        assert error["code"] == code
    assert re.fullmatch(r"[0-9a-f-]{36}", body["trace"])
    return dict(error)


def run_sampler(conn: Connection, **options: Any) -> Any:
    backend = conn.service.backend("ibm_brisbane")
    sampler = SamplerV2(mode=backend)
    for key, value in options.items():
        setattr(sampler.options.environment, key, value)
    return sampler.run([isa_bell(backend)], shots=10)


# -- jobs -----------------------------------------------------------------------------


def test_a_job_carries_every_field_ibm_marks_required(conn: Connection) -> None:
    # JobResponseV3 requires id, created, program, state, status, cost; cost is an
    # integer 0..10800, usage {qpu_charge_time_seconds, status}, user_id a string.
    job = run_sampler(conn)
    body = call(conn, "GET", f"/jobs/{job.job_id()}").json()
    # dispatched at the instant it was submitted (docs/semantics.md): running already
    assert body["status"] == "Running" and body["state"] == {"status": "Running"}
    assert body["cost"] == 10800  # the service's cap: no max_execution_time was asked
    assert body["usage"] == {"qpu_charge_time_seconds": 0.0, "status": "pending"}
    assert body["created"] == at(0) and body["program"] == {"id": "sampler"}
    assert re.fullmatch(r"IBMid-\d{9}[0-9A-F]{4}", body["user_id"])
    assert re.fullmatch(r"[0-9a-f]{20}", body["calibration_id"])
    assert "session_id" not in body and "private" not in body  # omitted, never null
    assert isinstance(body["estimated_running_time_seconds"], float)
    conn.server.run_until_idle()
    done = call(conn, "GET", f"/jobs/{job.job_id()}").json()
    assert done["status"] == "Completed"
    assert done["usage"]["status"] == "complete"
    assert done["usage"]["qpu_charge_time_seconds"] == pytest.approx(job.usage())
    # The same calibration id selects the backend's data; another is 404.
    backend = "/backends/ibm_brisbane/properties"
    assert call(conn, "GET", backend, params={"calibration_id": done["calibration_id"]}
                ).status_code == 200
    ibm_error(call(conn, "GET", backend, params={"calibration_id": "x" * 20}), 404,
              "no calibration")


def test_a_job_stopped_at_its_limit_has_ibms_reason_code_and_solution(
        conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    sampler = SamplerV2(mode=backend)
    sampler.options.max_execution_time = 1  # IBM's JobCost: whole seconds
    job = sampler.run([isa_bell(backend)], shots=100_000)
    assert call(conn, "GET", f"/jobs/{job.job_id()}").json()["cost"] == 1
    conn.server.run_until_idle()
    state = call(conn, "GET", f"/jobs/{job.job_id()}").json()["state"]
    assert state["status"] == "Cancelled" and state["reason_code"] == 1305
    assert "max_execution_time" in state["reason_solution"]
    # The Workloads list says the same of it: canceled, with the same reason.
    (row,) = call(conn, "GET", "/workloads").json()["workloads"]
    assert (row["status"], row["status_reason"]) == ("canceled", state["reason"])


def test_list_jobs_pages_with_ibms_limit_offset_and_count(conn: Connection) -> None:
    # GET /jobs: limit 1..200 (default 200), offset >= 0; "if the provided value is
    # outside of the viable range, no error occurs and the default value is used".
    ids = [run_sampler(conn).job_id() for _ in range(3)][::-1]
    page = call(conn, "GET", "/jobs", params={"limit": 2, "offset": 1}).json()
    assert [j["id"] for j in page["jobs"]] == ids[1:3]
    assert (page["count"], page["offset"], page["limit"]) == (3, 1, 2)
    default = call(conn, "GET", "/jobs", params={"limit": 500, "offset": -4}).json()
    assert (default["limit"], default["offset"], len(default["jobs"])) == (200, 0, 3)
    assert "params" not in default["jobs"][0]  # exclude_params defaults to true in lists
    assert "params" in call(conn, "GET", "/jobs", params={"exclude_params": "false"}
                            ).json()["jobs"][0]
    ibm_error(call(conn, "GET", "/jobs", params={"limit": "ten"}), 400, "limit", 1002)


def test_list_filters_refuse_what_is_over_ibms_limits(conn: Connection) -> None:
    # IBM's list_jobs parameters: program 1-63 characters, backend 1-100, session_id
    # 1-1000, created_after/created_before date-times of 1-100, sort ASC or DESC, tags its
    # Tags schema (8 of 86); its analytics take subscription_id as version-4 UUIDs, at
    # most 200. Over a limit: a 400 in IBM's body naming the parameter; at it: served.
    job = run_sampler(conn)
    listed = lambda **q: call(conn, "GET", "/jobs", params=q)  # noqa: E731
    stamp = "2024-12-31T23:59:59." + "0" * 79 + "Z"  # before the job, 100 characters
    assert len(stamp) == 100
    at_limits = {"program": "p" * 63, "backend": "b" * 100, "session_id": "s" * 1000,
                 "created_before": stamp, "tags": ["t" * 86] * 8}
    for name, value in at_limits.items():
        assert listed(**{name: value}).json()["count"] == 0, name  # no job has these
    assert listed(sort="DESC").json()["count"] == 1
    over = {"program": "p" * 64, "backend": "b" * 101, "session_id": "s" * 1001,
            "created_after": stamp[:-1] + "0Z", "created_before": stamp + "Z"}
    for name, value in over.items():
        ibm_error(listed(**{name: value}), 400, f"query.{name}", 1002)
    for name in ("program", "backend", "session_id", "created_after", "sort"):
        ibm_error(listed(**{name: ""}), 400, f"query.{name}", 1002)
    ibm_error(listed(tags=["t"] * 9), 400, "query.tags", 1204)
    ibm_error(listed(tags=["t" * 87]), 400, "query.tags", 1205)
    ibm_error(listed(sort="UP"), 400, "query.sort", 1002)
    assert [j["id"] for j in listed(created_before=stamp.replace("2024", "2026", 1)
                                    ).json()["jobs"]] == [job.job_id()]
    usage = lambda **q: call(conn, "GET", "/analytics/usage", params=q)  # noqa: E731
    ibm_error(usage(subscription_id="not-a-uuid"), 400, "query.subscription_id", 1002)
    ibm_error(usage(subscription_id=["91b2c828-2952-4f05-aed8-bedf92c6c480"] * 201), 400,
              "query.subscription_id", 1002)
    assert usage(subscription_id=["91b2c828-2952-4f05-aed8-bedf92c6c480"] * 200
                 ).json()["jobs"] == 0


def test_tags_are_limited_to_8_of_86_characters(conn: Connection) -> None:
    # IBM's Tags schema: maxItems 8, maxLength 86; errors 1204 and 1205 of its registry.
    job = run_sampler(conn)
    path = f"/jobs/{job.job_id()}/tags"
    assert call(conn, "PUT", path, json={"tags": ["t"] * 8}).status_code == 204
    assert call(conn, "PUT", path, json={"tags": ["x" * 86]}).status_code == 204
    assert call(conn, "GET", f"/jobs/{job.job_id()}").json()["tags"] == ["x" * 86]
    ibm_error(call(conn, "PUT", path, json={"tags": ["t"] * 9}), 400, "tags", 1204)
    ibm_error(call(conn, "PUT", path, json={"tags": ["x" * 87]}), 400, "tags", 1205)
    ibm_error(call(conn, "PUT", path, json={}), 400, "tags", 1002)
    assert call(conn, "PUT", path, json={"tags": []}).status_code == 204  # clears them
    assert call(conn, "GET", f"/jobs/{job.job_id()}").json()["tags"] == []


def test_tag_search_finds_the_instance_job_tags(conn: Connection) -> None:
    # IBM's "List tags" (GET /tags): type=job, search 3..100 characters, at most 5 tags.
    run_sampler(conn, job_tags=["sweep-a", "keep"])
    second = run_sampler(conn, job_tags=["sweep-b"])
    gone = run_sampler(conn, job_tags=["sweep-gone"])
    conn.server.run_until_idle()
    assert call(conn, "DELETE", f"/jobs/{gone.job_id()}").status_code == 204
    found = lambda **q: call(conn, "GET", "/tags", params=q)  # noqa: E731
    # newest job first, each tag once, a deleted job's tags gone, case-sensitive
    assert found(type="job", search="swe").json() == {"tags": ["sweep-b", "sweep-a"]}
    assert found(search="Swe").json() == {"tags": []}
    assert call(conn, "PUT", f"/jobs/{second.job_id()}/tags",
                json={"tags": [f"sweep-{i}" for i in range(7)]}).status_code == 204
    assert found(search="swe").json()["tags"] == [f"sweep-{i}" for i in range(5)]
    assert found(search="kee").json() == {"tags": ["keep"]}  # the first job's
    ibm_error(found(search="sw"), 400, "search", 1002)
    ibm_error(found(search="swe", type="program"), 400, "type", 1002)
    ibm_error(call(conn, "GET", "/tags"), 400, "search", 1002)


def test_post_jobs_refuses_ibms_limits_and_honours_private(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    job = run_sampler(conn)
    params = call(conn, "GET", f"/jobs/{job.job_id()}").json()["params"]
    body = {"program_id": "sampler", "backend": backend.name, "params": params}
    ibm_error(call(conn, "POST", "/jobs", json={**body, "tags": ["a"] * 9}), 400, "tags", 1204)
    ibm_error(call(conn, "POST", "/jobs", json={**body, "tags": ["a" * 90]}), 400, "tag",
              1205)
    ibm_error(call(conn, "POST", "/jobs", json={**body, "cost": 10801}), 400, "cost", 1002)
    ibm_error(call(conn, "POST", "/jobs", json={**body, "cost": -1}), 400, "cost", 1002)
    # private: true is honoured: echoed on creation, params never returned.
    created = call(conn, "POST", "/jobs", json={**body, "private": True}).json()
    assert created["private"] is True and created["backend"] == backend.name
    got = call(conn, "GET", f"/jobs/{created['id']}").json()
    assert got["private"] is True and "params" not in got
    plain = call(conn, "POST", "/jobs", json=body).json()
    assert "private" not in plain  # IBM: "only returned in the response if ... true"


def test_delete_and_cancel_answer_ibms_status_codes(conn: Connection) -> None:
    # DELETE /jobs/{id}: "Job must be in a terminal state" (400 otherwise, 204 when final);
    # POST /jobs/{id}/cancel: 409 "Job is in non cancellable status." (IBM's jobs OpenAPI,
    # cancel_job_jid); the message says IBM's words, then the status the job is in.
    job = run_sampler(conn)
    ibm_error(call(conn, "DELETE", f"/jobs/{job.job_id()}"), 400, "only a final job", 1002)
    assert call(conn, "POST", f"/jobs/{job.job_id()}/cancel").status_code == 204
    error = ibm_error(call(conn, "POST", f"/jobs/{job.job_id()}/cancel"), 409,
                      "Job is in non cancellable status")
    assert error["message"] == (f"Job is in non cancellable status: job {job.job_id()} "
                                "cannot be cancelled, it is already Cancelled")
    assert call(conn, "DELETE", f"/jobs/{job.job_id()}").status_code == 204
    ibm_error(call(conn, "GET", f"/jobs/{job.job_id()}"), 404, "not found", 1291)
    ibm_error(call(conn, "GET", "/jobs/" + "j" * 1001), 400, "job_id", 1002)  # id length


def test_job_logs_and_metrics(conn: Connection) -> None:
    job = run_sampler(conn)
    queued = run_sampler(conn)
    logs = call(conn, "GET", f"/jobs/{job.job_id()}/logs")
    assert logs.status_code == 200 and logs.headers["content-type"].startswith("text/plain")
    # IBM's JobMetricsResponse (2026-04-15, what the client 0.51 asks for): timestamps,
    # usage (UsageV3: qpu_charge_time_seconds, status), qiskit_version (IBM's QiskitVersion
    # pattern); caller and circuits_execution_time_ns are unknown here, so omitted. A
    # timestamp not reached is omitted too: IBM types each as a string, never null.
    waiting = call(conn, "GET", f"/jobs/{queued.job_id()}/metrics").json()
    assert waiting == {"timestamps": {"created": at(0)},
                       "usage": {"qpu_charge_time_seconds": 0.0, "status": "pending"},
                       "qiskit_version": waiting["qiskit_version"]}
    assert re.fullmatch(r"v?(\d+(\.\d+)*|\.\d+(\.\d+)*)", waiting["qiskit_version"])
    conn.server.run_until_idle()
    d = float(job.usage_estimation["quantum_seconds"])  # the modeled QPU time
    metrics = call(conn, "GET", f"/jobs/{job.job_id()}/metrics").json()
    assert metrics == {"timestamps": {"created": at(0), "running": at(0), "finished": at(d)},
                       "usage": {"qpu_charge_time_seconds": pytest.approx(job.usage()),
                                 "status": "complete"},
                       "qiskit_version": waiting["qiskit_version"]}
    # IBM's changelog: 2026-03-15 dropped bss, usage.quantum_seconds and usage.seconds.
    # Asked for an earlier version (the clients before 0.51 send 2025-05-01 and their
    # job.usage() reads usage.quantum_seconds), the answer is IBM's earlier one, as
    # recorded from IBM with the client 0.46.1: whole seconds, the packages' versions.
    older = call(conn, "GET", f"/jobs/{job.job_id()}/metrics",
                 extra={"IBM-API-Version": "2025-05-01"}).json()
    whole = round(job.usage())
    assert older == {"timestamps": metrics["timestamps"], "bss": {"seconds": whole},
                     "usage": {"quantum_seconds": whole, "seconds": whole},
                     "qiskit_version": older["qiskit_version"]}
    assert "qiskit-" in older["qiskit_version"]
    assert call(conn, "GET", f"/jobs/{job.job_id()}/metrics",
                extra={"IBM-API-Version": "2026-03-15"}).json() == metrics
    # The client reads what it needs: usage() and the running instant.
    assert job.usage() == pytest.approx(d) and job.metrics()["timestamps"]["running"] == at(0)


# -- sessions -------------------------------------------------------------------------


def test_session_fields_and_patch_accepting_jobs_both_ways(conn: Connection) -> None:
    created = call(conn, "POST", "/sessions", json={"backend": "ibm_brisbane",
                                                    "mode": "dedicated", "max_ttl": 600})
    assert created.status_code == 200
    session = created.json()
    assert session["state"] == "open" and session["accepting_jobs"] is True
    assert session["max_ttl"] == 600 and session["mode"] == "dedicated"
    assert re.fullmatch(r"IBMid-\d{9}[0-9A-F]{4}", session["user_id"])
    assert "started_at" not in session and "state_reason" not in session
    path = f"/sessions/{session['id']}"
    # true while accepting: nothing changes (204)
    assert call(conn, "PATCH", path, json={"accepting_jobs": True}).status_code == 204
    assert call(conn, "PATCH", path, json={"accepting_jobs": False}).status_code == 204
    closed = call(conn, "GET", path).json()
    assert closed["state"] == "closed" and closed["accepting_jobs"] is False
    assert "stopped accepting" in closed["state_reason"]
    # a closed session does not accept jobs again (the lifecycle has no way back)
    ibm_error(call(conn, "PATCH", path, json={"accepting_jobs": True}), 409, "no longer")
    ibm_error(call(conn, "PATCH", path, json={}), 400, "accepting_jobs", 1002)
    ibm_error(call(conn, "PATCH", path, json={"accepting_jobs": False, "x": 1}), 400, "x")
    ibm_error(call(conn, "POST", "/sessions", json={"backend": "ibm_brisbane",
                                                     "mode": "exclusive"}), 400, "mode")
    ibm_error(call(conn, "GET", "/sessions/nope"), 404, "not found", 1291)


def test_cancelled_and_expired_sessions_say_why(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    session = Session(backend=backend)
    SamplerV2(mode=session).run([isa_bell(backend)], shots=10)
    session.cancel()
    body = call(conn, "GET", f"/sessions/{session.session_id}").json()
    assert body["state"] == "closed" and "cancelled" in body["state_reason"]
    # The same over plain HTTP: DELETE /sessions/{id}/close (the client's Session.cancel())
    # cancels the queued job; the running one completes (IBM's "Close job session": "jobs
    # ... queued are cancelled").
    conn.server.advance(60)  # the first session's running job completes
    cancelled = Session(backend=backend)
    running, queued = (SamplerV2(mode=cancelled).run([isa_bell(backend)], shots=10)
                       for _ in range(2))
    assert [call(conn, "GET", f"/jobs/{job.job_id()}").json()["status"]
            for job in (running, queued)] == ["Running", "Queued"]
    close = call(conn, "DELETE", f"/sessions/{cancelled.session_id}/close")
    assert close.status_code == 204 and close.content == b""
    conn.server.advance(60)
    assert [call(conn, "GET", f"/jobs/{job.job_id()}").json()["status"]
            for job in (running, queued)] == ["Completed", "Cancelled"]
    body = call(conn, "GET", f"/sessions/{cancelled.session_id}").json()
    assert body["state"] == "closed" and "cancelled" in body["state_reason"]
    ibm_error(call(conn, "DELETE", "/sessions/nope/close"), 404, "not found", 1291)
    # Expiry: max_ttl 10 s, three jobs of about 7 s each; at 10 s the second is running
    # (it completes) and the third still queued (it fails, with the reason).
    ideal = conn.service.backend("qsession_ideal")
    expiring = Session(backend=ideal, max_time=10)
    sampler = SamplerV2(mode=expiring)
    jobs = [sampler.run([isa_bell(ideal)], shots=20_000) for _ in range(3)]
    conn.server.advance(60)
    body = call(conn, "GET", f"/sessions/{expiring.session_id}").json()
    assert body["state"] == "closed" and body["accepting_jobs"] is False
    assert "maximum time" in body["state_reason"]
    states = [call(conn, "GET", f"/jobs/{job.job_id()}").json()["state"] for job in jobs]
    assert [s["status"] for s in states] == ["Completed", "Completed", "Failed"]
    assert "session max time reached" in states[2]["reason"]


# -- backends -------------------------------------------------------------------------


def test_properties_updated_before_the_calibration_are_none(conn: Connection) -> None:
    # IBM's "Get Backend Properties": updated_before "Returns properties with
    # last_update_date before the given time"; the client sends it for
    # backend.properties(datetime=...) and returns None for an empty answer. An emulated
    # QPU has one calibration set, so before its date there is none.
    path = "/backends/ibm_brisbane/properties"
    now = call(conn, "GET", path).json()
    dated = now["last_update_date"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", dated)
    assert call(conn, "GET", path, params={"updated_before": "2100-01-01T00:00:00Z"}).json() == now
    assert call(conn, "GET", path, params={"updated_before": dated}).json() == {}
    assert call(conn, "GET", path, params={"updated_before": "2020-01-01"}).json() == {}
    ibm_error(call(conn, "GET", path, params={"updated_before": "yesterday"}), 400,
              "query.updated_before", 1002)
    ibm_error(call(conn, "GET", path, params={"updated_before": "2" * 101}), 400,
              "query.updated_before", 1002)
    backend = conn.service.backend("ibm_brisbane")
    assert backend.properties(datetime=datetime(2020, 1, 1, tzinfo=UTC)) is None
    later = backend.properties(datetime=datetime(2100, 1, 1, tzinfo=UTC))
    assert later is not None and later.backend_name == "ibm_brisbane"


def test_backends_are_typed_as_ibm_types_them(conn: Connection) -> None:
    devices = call(conn, "GET", "/backends").json()["devices"]
    brisbane = next(d for d in devices if d["name"] == "ibm_brisbane")
    # ProcessorType: family and revision are strings, revision "major.minor"
    assert brisbane["processor_type"] == {"family": "Eagle", "revision": "3.0"}
    assert brisbane["status"]["name"] == "online" and brisbane["is_simulator"] is False
    with_waits = call(conn, "GET", "/backends", params={"fields": "wait_time_seconds"}).json()
    assert with_waits["devices"][0]["wait_time_seconds"] == {"average": 0, "p50": 0, "p95": 0}
    config = call(conn, "GET", "/backends/ibm_brisbane/configuration").json()
    assert config["processor_type"]["revision"] == "3.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", config["online_date"])
    ideal = call(conn, "GET", "/backends/qsession_ideal/configuration").json()
    assert re.fullmatch(r"\d+\.\d+\.\d+", ideal["backend_version"])
    # The client builds its target from it without a warning (it has no definition for
    # Qiskit's `box`, which no IBM configuration lists), keeping the control flow.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        target = convert_to_target(configuration_from_server_data(ideal))
    assert {"if_else", "for_loop", "cx", "measure"} <= set(target.operation_names)
    assert ideal["processor_type"] == {"family": "Ideal", "revision": "1.0"}
    status = call(conn, "GET", "/backends/ibm_brisbane/status").json()
    assert set(status) == {"state", "status", "message", "length_queue", "backend_version"}
    assert call(conn, "GET", "/backends/qsession_ideal/properties").json() == {}
    ibm_error(call(conn, "GET", "/backends/ibm_nowhere/status"), 404, "Backend", 1007)


IBM_REQUIRED_CONFIGURATION = ("backend_name", "backend_version", "basis_gates",
                              "conditional", "coords", "coupling_map", "gates", "local",
                              "memory", "n_qubits", "online_date", "u_channel_lo")
"""``required`` of IBM's ``BackendConfigurationResponse`` (its backends OpenAPI document)."""
NOT_IN_EVERY_IBM_ANSWER = {"coords", "u_channel_lo"}
"""Required by IBM's schema, yet absent from 38 and 15 of IBM's 68 recorded configurations
(qiskit-ibm-runtime's fake backends): the served model does not require them."""


def _recorded_configurations() -> dict[str, dict[str, Any]]:
    """IBM's own configuration answers, recorded in qiskit-ibm-runtime's fake backends."""
    import json
    from pathlib import Path

    from qiskit_ibm_runtime import fake_provider

    root = Path(fake_provider.__file__).parent / "backends"
    return {path.name: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(root.glob("*/conf_*.json"))}


def _defined_unitary(definition: str, name: str, n_qubits: int, angles: list[float]) -> Any:
    """The unitary an OpenQASM 2 ``gate`` definition in U and CX gives, at ``angles``."""
    from qiskit import qasm2
    from qiskit.quantum_info import Operator

    args = f"({', '.join(map(str, angles))})" if angles else ""
    wires = ", ".join(f"r[{i}]" for i in range(n_qubits))
    program = f"OPENQASM 2.0;\n{definition}\nqreg r[{n_qubits}];\n{name}{args} {wires};"
    return Operator(qasm2.loads(program))


def test_the_ideal_configuration_has_what_ibms_schema_requires(conn: Connection) -> None:
    # IBM's BackendConfigurationResponse: the twelve required fields; GateConfig: a name,
    # parameters named [a-zA-Z0-9]*, and qasm_def, "the definition of this gate in terms of
    # QASM primitives U and CX" (1 to 1,024 characters); coords: an [i, j] pair of
    # non-negative integers per qubit; processor_type: family [a-zA-Z0-9]*, revision
    # major.minor; description at most 64 characters; online_date 24 characters.
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.quantum_info import Operator

    ideal = call(conn, "GET", "/backends/qsession_ideal/configuration").json()
    assert set(IBM_REQUIRED_CONFIGURATION) <= set(ideal)
    n = ideal["n_qubits"]
    assert len(ideal["coords"]) == n == len({tuple(c) for c in ideal["coords"]})
    assert all(len(c) == 2 and min(c) >= 0 for c in ideal["coords"])
    assert ideal["u_channel_lo"] == []  # no pulse-level control channels
    assert re.fullmatch(r"[a-zA-Z0-9]+", ideal["processor_type"]["family"])
    assert len(ideal["description"]) <= 64 and len(ideal["online_date"]) == 24
    standard = get_standard_gate_name_mapping()
    # IBM's own definitions of the same gates, from its recorded configurations
    ibm_gates = {g["name"]: g for c in _recorded_configurations().values()
                 for g in c["gates"] if g.get("qasm_def")}
    assert {g["name"] for g in ideal["gates"]} == set(ideal["basis_gates"])
    for gate in ideal["gates"]:
        name, parameters = gate["name"], gate["parameters"]
        assert all(re.fullmatch(r"[a-zA-Z0-9]+", p) for p in parameters), gate
        assert 1 <= len(gate["qasm_def"]) <= 1024, gate
        angles = [0.3 + 0.4 * i for i in range(len(parameters))]
        reference = standard[name]
        if angles:
            reference = type(reference)(*angles)
        ours = _defined_unitary(gate["qasm_def"], name, reference.num_qubits, angles)
        assert ours.equiv(Operator(reference)), gate  # equal up to a global phase
        theirs = ibm_gates[name]  # every ideal gate is one IBM defines too
        assert parameters == theirs["parameters"], (gate, theirs)
        assert ours.equiv(_defined_unitary(theirs["qasm_def"], name, reference.num_qubits,
                                           angles)), (gate, theirs)


def test_the_configuration_model_is_as_strict_as_ibms_recorded_answers() -> None:
    # The model the route answers with requires what IBM requires, except what IBM's own
    # recorded answers lack: each of those 68 passes it, and a configuration missing any
    # other required field, or with a gate IBM's GateConfig refuses, does not.
    from pydantic import ValidationError

    from qsession.runtime import QPU
    from qsession.runtime.engine import backend_info
    from qsession.server import models, wire

    def served(config: dict[str, Any]) -> dict[str, Any]:
        kind = wire.processor_type(config.pop("processor_type", None))
        return config if kind is None else {**config, "processor_type": kind}

    recorded = _recorded_configurations()
    assert len(recorded) >= 60
    lacking = {field: sum(field not in c for c in recorded.values())
               for field in IBM_REQUIRED_CONFIGURATION}
    assert {f for f, count in lacking.items() if count} == NOT_IN_EVERY_IBM_ANSWER
    for name, config in recorded.items():
        models.BackendConfiguration.model_validate(
            served(backend_info.recorded_configuration(config, "ibm_recorded"))), name
    ideal = served(backend_info.configuration_json(QPU.ideal()))
    models.BackendConfiguration.model_validate(ideal)
    for field in IBM_REQUIRED_CONFIGURATION:
        without = {k: v for k, v in ideal.items() if k != field}
        if field in NOT_IN_EVERY_IBM_ANSWER:
            models.BackendConfiguration.model_validate(without)
        else:
            with pytest.raises(ValidationError, match=field):
                models.BackendConfiguration.model_validate(without)
    rz = next(g for g in ideal["gates"] if g["name"] == "rz")
    for broken in ({**rz, "qasm_def": ""}, {**rz, "parameters": ["λ"]},
                   {k: v for k, v in rz.items() if k != "qasm_def"}):
        with pytest.raises(ValidationError, match="gates"):
            models.BackendConfiguration.model_validate({**ideal, "gates": [broken]})


def test_backend_defaults_come_from_the_calibration_data(conn: Connection) -> None:
    defaults = call(conn, "GET", "/backends/ibm_brisbane/defaults").json()
    props = call(conn, "GET", "/backends/ibm_brisbane/properties").json()
    frequency = next(p["value"] for p in props["qubits"][0] if p["name"] == "frequency")
    assert len(defaults["qubit_freq_est"]) == 127
    assert defaults["qubit_freq_est"][0] == frequency
    assert len(defaults["meas_freq_est"]) == 127
    ibm_error(call(conn, "GET", "/backends/qsession_ideal/defaults"), 404, "no defaults")


# -- instances, accounts, versions ----------------------------------------------------


def test_instance_details_configuration_and_usage(conn: Connection) -> None:
    details = call(conn, "GET", "/instance").json()
    assert details["backends"] == ["ibm_brisbane", "qsession_ideal"]
    assert details["plan_id"] == "qsession-plan-premium" and "instance_limit" not in details
    assert call(conn, "GET", "/instances/configuration").json() == {}
    job = run_sampler(conn)
    conn.server.run_until_idle()
    usage = call(conn, "GET", "/instances/usage").json()
    assert usage["usage_consumed_seconds"] == pytest.approx(job.usage())
    assert usage["usage_period"]["end_time"] == call(conn, "GET", f"/jobs/{job.job_id()}/metrics"
                                                     ).json()["timestamps"]["finished"]
    # PUT /instances/configuration: 409 "Usage exceeds instance limit" for a limit below
    # the usage so far (IBM's cost-limit guide: the limit "will always be greater than or
    # equal to the total cost"); the limit stays as it was.
    used = job.usage()
    assert 2 < used < 3
    ibm_error(call(conn, "PUT", "/instances/configuration", json={"instance_limit": 2}), 409,
              f"Usage exceeds instance limit: the instance has used {used:g} s")
    assert call(conn, "GET", "/instances/configuration").json() == {}
    # A limit at the usage (rounded up) is set; once usage reaches it, the next job is
    # refused with 409, as IBM's POST /jobs.
    assert call(conn, "PUT", "/instances/configuration",
                json={"instance_limit": 3}).status_code == 204
    assert call(conn, "GET", "/instances/configuration").json() == {"instance_limit": 3.0}
    assert call(conn, "GET", "/instance").json()["instance_limit_seconds"] == "3"
    assert call(conn, "GET", "/instances/usage").json()["usage_limit_reached"] is False
    run_sampler(conn)
    conn.server.run_until_idle()
    assert call(conn, "GET", "/instances/usage").json()["usage_limit_reached"] is True
    params = call(conn, "GET", f"/jobs/{job.job_id()}").json()["params"]
    ibm_error(call(conn, "POST", "/jobs", json={"program_id": "sampler",
                                                "backend": "ibm_brisbane", "params": params}),
              409, "Usage exceeds instance limit")
    ibm_error(call(conn, "PUT", "/instances/configuration", json={"instance_limit": 0}), 400,
              "instance_limit")
    assert call(conn, "PUT", "/instances/configuration",
                json={"instance_limit": None}).status_code == 204
    assert call(conn, "GET", "/instances/configuration").json() == {}


def test_accounts_and_versions(conn: Connection) -> None:
    plans = call(conn, "GET", "/accounts/qsession").json()["plans"]
    assert [p["plan_id"] for p in plans] == ["qsession-plan-premium"]
    assert plans[0]["backends"] == ["ibm_brisbane", "qsession_ideal"]
    assert plans[0]["max_ttl"] == 28800 and plans[0]["interactive_ttl"] == 60
    # IBM: "If no account information is found, returns the default configuration": an
    # account the server has no instance of gets the plan a new instance gets here.
    default = call(conn, "GET", "/accounts/someone-else").json()["plans"]
    assert default == plans
    # An account a program brings with its own CRN (a tenant on first use) is answered
    # for its instances too.
    crn = "crn:v1:bluemix:public:quantum-computing:us-east:a/lab42:lab::"
    assert call(conn, "GET", "/instance", extra={"Service-CRN": crn}).status_code == 200
    assert call(conn, "GET", "/accounts/lab42").json()["plans"] == plans
    assert call(conn, "GET", "/accounts/qsession", params={"plan_id": "nope"}
                ).json() == {"plans": []}
    ibm_error(call(conn, "GET", "/accounts/bad!id"), 400, "account_id")
    versions = requests.get(conn.server.url + API + "/versions", timeout=30).json()["versions"]
    assert [v["status"] for v in versions].count("live") == 1
    assert versions[-1] == {"version": "2026-04-15", "status": "live"}
    assert {"version": "2024-01-01", "sunset_date": "2027-01-01",
            "status": "deprecated"} in versions


def test_ibm_api_version_is_negotiated(conn: Connection) -> None:
    # The client 0.51 sends 2026-04-15; every listed version is served, others refused.
    for version in ("2024-01-01", "2025-05-01", "2026-04-15"):
        assert call(conn, "GET", "/backends",
                    extra={"IBM-API-Version": version}).status_code == 200
    ibm_error(call(conn, "GET", "/backends", extra={"IBM-API-Version": "2023-12-31"}), 400,
              "not a supported API version", 1002)
    ibm_error(call(conn, "GET", "/jobs", extra={"IBM-API-Version": "latest"}), 400,
              "GET /versions")


# -- workloads and analytics ----------------------------------------------------------


def test_workloads_lists_jobs_sessions_and_batches_with_filters_and_cursors(
        conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    first = run_sampler(conn, job_tags=["sweep"])
    conn.server.advance(60)
    session = Session(backend=backend)
    isa_e = isa_bell(backend, measure=False)
    EstimatorV2(mode=session).run([(isa_e, zz(isa_e))])
    session.close()
    conn.server.run_until_idle()
    later = SamplerV2(mode=backend).run([isa], shots=10)
    rows = call(conn, "GET", "/workloads").json()
    assert rows["total_count"] == 3 and rows["limit"] == 10 and "next" not in rows
    assert [w["id"] for w in rows["workloads"]] == [first.job_id(), session.session_id,
                                                    later.job_id()]
    kinds = {w["id"]: (w["mode"], w["status"]) for w in rows["workloads"]}
    assert kinds == {first.job_id(): ("job", "completed"),
                     session.session_id: ("session", "completed"),
                     later.job_id(): ("job", "in_progress")}
    one = rows["workloads"][0]
    assert one["tags"] == ["sweep"] and one["created"] == at(0)
    assert one["usage"]["qpu_charge_time_seconds"] == pytest.approx(first.usage())
    assert one["user_id"] == rows["workloads"][1]["user_id"]
    assert rows["workloads"][1]["accepting_jobs"] is False
    assert "accepting_jobs" not in one  # only for sessions
    ids = lambda **q: [w["id"] for w in call(conn, "GET", "/workloads",  # noqa: E731
                                             params=q).json()["workloads"]]
    assert ids(mode="session") == [session.session_id]
    assert ids(status="in_progress") == [later.job_id()]
    assert ids(status="pending") == []
    assert ids(search="sweep") == [first.job_id()]
    assert ids(tags="sweep") == [first.job_id()]
    assert ids(sort="-createdAt")[0] == later.job_id()
    assert ids(created_after=at(30)) == [session.session_id, later.job_id()]
    # cursors: the href of next and previous pages
    page = call(conn, "GET", "/workloads", params={"limit": 2}).json()
    assert [w["id"] for w in page["workloads"]] == [first.job_id(), session.session_id]
    nxt = requests.get(page["next"]["href"], headers=headers(conn), timeout=30).json()
    assert [w["id"] for w in nxt["workloads"]] == [later.job_id()] and "next" not in nxt
    back = requests.get(nxt["previous"]["href"], headers=headers(conn), timeout=30).json()
    assert [w["id"] for w in back["workloads"]] == [first.job_id(), session.session_id]
    ibm_error(call(conn, "GET", "/workloads", params={"limit": 51}), 400, "limit")
    ibm_error(call(conn, "GET", "/workloads", params={"next": "bogus"}), 400, "next")


def test_analytics_from_the_trace(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    job = run_sampler(conn)
    batch_jobs = []
    from qiskit_ibm_runtime import Batch

    with Batch(backend=backend) as batch:
        batch_jobs = [SamplerV2(mode=batch).run([isa_bell(backend)], shots=10)
                      for _ in range(2)]
    conn.server.run_until_idle()
    usage = call(conn, "GET", "/analytics/usage").json()
    single = job.usage() * 1000
    batched = sum(j.usage() for j in batch_jobs) * 1000
    assert usage["jobs"] == 3 and usage["individual_jobs"] == 1
    assert usage["individual_jobs_usage"] == pytest.approx(single)
    assert usage["batch_sessions"] == 1 and usage["dedicated_sessions"] == 0
    assert usage["batch_sessions_usage"] == pytest.approx(batched)
    assert usage["usage"] == pytest.approx(single + batched)
    # the three jobs run alike; the batch's two queued behind the first, one after the
    # other: they waited one and two jobs' time (ms)
    assert usage["queue_time"] == pytest.approx(3 * single, rel=1e-3)
    assert usage["max_queue_time"] == pytest.approx(2 * single, rel=1e-3)
    grouped = call(conn, "GET", "/analytics/usage_grouped", params={"group_by": "backend"}
                   ).json()["data"]
    assert [g["key"] for g in grouped] == ["ibm_brisbane"]
    assert grouped[0]["usage"] == pytest.approx(usage["usage"])
    by_date = call(conn, "GET", "/analytics/usage_grouped_by_date",
                   params={"group_by": "instance"}).json()
    assert [d["interval_start"] for d in by_date["data"]] == [at(0)]
    assert call(conn, "GET", "/analytics/usage", params={"backend": "ibm_torino"}
                ).json()["jobs"] == 0
    filters = call(conn, "GET", "/analytics/filters").json()
    assert filters["backends"] == [{"name": "ibm_brisbane"}, {"name": "qsession_ideal"}]
    # The plan's subscription: a UUID (IBM's subscription_id pattern), the same one
    # GET /accounts/{id} names, and a filter that selects (another selects nothing).
    (subscription,) = filters["subscriptions"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        subscription["id"])
    (plan,) = call(conn, "GET", "/accounts/qsession").json()["plans"]
    assert plan["subscription_id"] == subscription["id"]
    assert call(conn, "GET", "/analytics/usage", params={"subscription_id": subscription["id"]}
                ).json()["jobs"] == 3
    assert call(conn, "GET", "/analytics/usage", params={
        "subscription_id": "91b2c828-2952-4f05-aed8-bedf92c6c480"}).json()["jobs"] == 0
    assert filters["users"] == [{"id": call(conn, "GET", f"/jobs/{job.job_id()}"
                                            ).json()["user_id"]}]
    ibm_error(call(conn, "GET", "/analytics/usage_grouped", params={"group_by": "color"}),
              400, "group_by")


# -- the document ---------------------------------------------------------------------


def test_405_answers_carry_allow(conn: Connection) -> None:
    response = call(conn, "POST", "/backends")
    ibm_error(response, 405, "Method Not Allowed")
    assert response.headers["allow"] == "GET"


def test_timestamps_are_wall_anchored_under_fast() -> None:
    from datetime import UTC, datetime

    connection = start(clock="fast")
    try:
        before = datetime.now(UTC).replace(microsecond=0)
        h = headers(connection)
        session = requests.post(connection.server.url + API + "/sessions", headers=h,
                                json={"backend": "ibm_brisbane"}, timeout=30).json()
        opened = datetime.fromisoformat(session["timestamps"][0]["timestamp"].replace(
            "Z", "+00:00"))
        # today (the fast clock starts at the wall clock's now when the server starts,
        # a few seconds before this request), not the virtual epoch of 2025-01-01
        assert abs((opened - before).total_seconds()) < 600
    finally:
        connection.close()
