"""Schemathesis over the server's own ``/openapi.json``: no 5xx, every answer as documented.

Schemathesis (Hypothesis for HTTP APIs) reads the published document, generates requests
for every operation of the runtime API (``/api/v1``) and qsession's control routes, sends
them to a real server on 127.0.0.1 (holding jobs in each final state) with valid
credentials, and checks each answer with its default checks: no server error, a
documented status code, content type, headers and a body that fits the declared schema.
Generated ids name no object, so the job routes' answers for real jobs are checked
against the document by a test of their own. The stateful part follows the document's links
(``POST /sessions`` to the session's routes, ``POST /jobs`` to the job's). Bounded: a few
examples per operation and a short stateful run, derandomized, so ``make test`` stays in
budget; the server's fault counter must stay 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from helpers.hypothesis_state import restored
from helpers.server import isa_bell, start
from hypothesis import HealthCheck, given, settings
from qiskit_ibm_runtime import SamplerV2, Session
from schemathesis.specs.openapi.checks import positive_data_acceptance

from qsession.server import Connection

EXAMPLES = 8
"""Examples per operation (each is a real HTTP request)."""
STATEFUL_RUNS = 10
"""Scenarios of the stateful run, each up to six linked steps."""

FUZZED = ("/api/v1/", "/qsession/v1/")
RESET = "/qsession/v1/reset"
"""The runtime API (once: /experimental/api/v1 serves the same routes) and the control
routes. IAM, Global Search and Global Catalog answer in IBM Cloud's own shapes."""


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_unpatched_afterwards() -> Iterator[None]:
    """Schemathesis patches Hypothesis for the whole process; later tests get it back whole."""
    with restored():
        yield


JOB_KINDS = ("done", "cancelled", "stopped at its limit", "in a session", "failed at expiry")


def _seed(connection: Connection) -> dict[str, str]:
    """Jobs in each final state IBM reports, so job routes answer with real jobs."""
    backend = connection.service.backend("qsession_ideal")
    bell = isa_bell(backend)
    done = SamplerV2(mode=backend).run([bell], shots=10)
    cancelled = SamplerV2(mode=backend).run([bell], shots=10)
    cancelled.cancel()
    limited = SamplerV2(mode=backend)
    limited.options.max_execution_time = 1
    stopped = limited.run([bell], shots=100_000)
    session = Session(backend=backend, max_time=10)
    in_session = [SamplerV2(mode=session).run([bell], shots=20_000) for _ in range(3)]
    connection.server.advance(60)
    jobs = [done, cancelled, stopped, in_session[0], in_session[2]]
    return {kind: job.job_id() for kind, job in zip(JOB_KINDS, jobs, strict=True)}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Connection, Any, dict[str, str], dict[str, str]]]:
    """A virtual-clock server, its published document as a schema, credentials, and the
    ids of the jobs it holds (by kind)."""
    connection = start(backends=("qsession_ideal",))
    try:
        jobs = _seed(connection)
        url = connection.server.url
        document = requests.get(url + "/openapi.json", timeout=30).json()
        schema = schemathesis.openapi.from_dict(document)
        token = requests.post(url + "/identity/token", timeout=30, data={
            "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
            "apikey": connection.server.emulator.token}).json()["access_token"]
        crn = next(iter(connection.server.emulator.instances.values())).crn
        yield connection, schema, {"Authorization": f"Bearer {token}", "Service-CRN": crn}, jobs
    finally:
        connection.close()


def _operations(schema: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    # Reset empties the platform whose seeded jobs the other checks read (test_durable.py
    # checks what it answers).
    return [op for op in found if op.path.startswith(FUZZED) and op.path != RESET]


def _excluded(method: str, path: str) -> list[Any]:
    """Checks that cannot hold for an operation, each with its reason.

    ``POST /jobs``: a body that fits the document can still be refused, since no JSON
    schema can say whether a string is a circuit the backend runs (IBM validates the
    params with ibm-quantum-schemas after normalising them); such a refusal is a 400 in
    IBM's shape, which every other check still checks.
    """
    if (method, path.removeprefix("/api/v1")) == ("post", "/jobs"):
        return [positive_data_acceptance]
    return []


def _fuzz(operation: Any, url: str, credentials: dict[str, str]) -> None:
    """``EXAMPLES`` generated requests to one operation, each answer checked."""
    excluded = _excluded(operation.method, operation.path)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        case.call_and_validate(base_url=url, headers=credentials, excluded_checks=excluded)

    check()


def test_every_operation_answers_as_documented(
        served: tuple[Connection, Any, dict[str, str], dict[str, str]]) -> None:
    connection, schema, credentials, _ = served
    operations = _operations(schema)
    assert len(operations) >= 28  # every runtime endpoint and the control routes
    url = connection.server.url
    for operation in operations:
        _fuzz(operation, url, credentials)
    assert connection.server.emulator.faults == 0


def test_stateful_through_the_documents_links(
        served: tuple[Connection, Any, dict[str, str], dict[str, str]]) -> None:
    # POST /sessions links to the operations on the session it creates (the document's
    # links); Schemathesis's state machine walks them. POST /jobs links likewise, but a
    # generated body is almost never a runnable circuit, so its links are left to the
    # REST tests (tests/server/test_rest_endpoints.py) that create jobs by hand.
    connection, schema, credentials, _ = served
    url = connection.server.url
    linked = schema.include(path_regex=r"^/api/v1/sessions")
    # Schema-valid requests only: the hook below names a real backend, which would turn
    # a deliberately invalid body into a valid one.
    linked.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])
    machine = linked.as_state_machine()

    class Workflow(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": url, "headers": credentials}

        def before_call(self, case: Any) -> None:
            # Generated backend names do not exist (a 404, which the first test covers):
            # name the served one so the links have sessions to follow.
            if case.path == "/api/v1/sessions" and isinstance(case.body, dict):
                case.body["backend"] = "qsession_ideal"
                case.body.pop("backend_name", None)
                case.body.pop("instance", None)

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, additional_checks=additional_checks,
                                   excluded_checks=_excluded(case.method.lower(),
                                                             case.path))

    before = sum(1 for _ in connection.server.emulator.all_sessions())
    Workflow.run(settings=settings(max_examples=STATEFUL_RUNS, stateful_step_count=6,
                                   deadline=None, database=None, derandomize=True,
                                   suppress_health_check=list(HealthCheck)))
    assert sum(1 for _ in connection.server.emulator.all_sessions()) > before  # sessions made
    assert connection.server.emulator.faults == 0


def test_job_answers_for_real_jobs_fit_the_document(
        served: tuple[Connection, Any, dict[str, str], dict[str, str]]) -> None:
    # Generated job ids name no job (404s), so the fuzzing above checks the job routes'
    # error answers only: here each route answers for jobs in every final state, and each
    # answer is checked against the published document as Schemathesis checks them.
    connection, schema, credentials, seeded = served
    url = connection.server.url
    api = "/api/v1"
    checked = []
    for kind, job_id in seeded.items():
        for path, template in ((f"/jobs/{job_id}", "/jobs/{job_id}"),
                               (f"/jobs/{job_id}/metrics", "/jobs/{job_id}/metrics")):
            response = requests.get(url + api + path, headers=credentials, timeout=30)
            assert response.status_code == 200, (kind, response.text)
            schema[api + template]["GET"].validate_response(response)
            checked.append(response.json())
    states = {kind: body["state"]["status"] for kind, body in
              zip(seeded, checked[::2], strict=True)}
    assert states == {"done": "Completed", "cancelled": "Cancelled",
                      "stopped at its limit": "Cancelled", "in a session": "Completed",
                      "failed at expiry": "Failed"}
    for params in ({}, {"exclude_params": "false"}, {"limit": 2, "offset": 1}):
        listed = requests.get(url + api + "/jobs", headers=credentials, params=params,
                              timeout=30)
        schema[api + "/jobs"]["GET"].validate_response(listed)
        assert listed.json()["count"] == len(seeded) + 1  # the session's second job too
    assert connection.server.emulator.faults == 0
