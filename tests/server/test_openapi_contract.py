"""Schemathesis over the server's own ``/openapi.json``: no 5xx, every answer as documented.

Schemathesis (Hypothesis for HTTP APIs) reads the published document, generates requests
for every operation of the runtime API (``/api/v1``) and qsession's control routes, sends
them to a real server on 127.0.0.1 with valid credentials, and checks each answer with its
default checks: no server error, a documented status code, content type, headers and a
body that fits the declared schema. The stateful part follows the document's links
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
from helpers.server import start
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from qsession.server import Connection

EXAMPLES = 8
"""Examples per operation (each is a real HTTP request)."""
STATEFUL_RUNS = 10
"""Scenarios of the stateful run, each up to six linked steps."""

FUZZED = ("/api/v1/", "/qsession/v1/")
"""The runtime API (once: /experimental/api/v1 serves the same routes) and the control
routes. IAM, Global Search and Global Catalog answer in IBM Cloud's own shapes."""


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Connection, Any, dict[str, str]]]:
    """A virtual-clock server, its published document as a schema, and credentials."""
    connection = start(backends=("qsession_ideal",))
    try:
        url = connection.server.url
        document = requests.get(url + "/openapi.json", timeout=30).json()
        schema = schemathesis.openapi.from_dict(document)
        token = requests.post(url + "/identity/token", timeout=30, data={
            "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
            "apikey": connection.server.emulator.token}).json()["access_token"]
        crn = next(iter(connection.server.emulator.instances.values())).crn
        yield connection, schema, {"Authorization": f"Bearer {token}", "Service-CRN": crn}
    finally:
        connection.close()


def _operations(schema: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if op.path.startswith(FUZZED)]


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
        served: tuple[Connection, Any, dict[str, str]]) -> None:
    connection, schema, credentials = served
    operations = _operations(schema)
    assert len(operations) >= 28  # every runtime endpoint and the control routes
    url = connection.server.url
    for operation in operations:
        _fuzz(operation, url, credentials)
    assert connection.server.emulator.faults == 0


def test_stateful_through_the_documents_links(
        served: tuple[Connection, Any, dict[str, str]]) -> None:
    # POST /sessions links to the operations on the session it creates (the document's
    # links); Schemathesis's state machine walks them. POST /jobs links likewise, but a
    # generated body is almost never a runnable circuit, so its links are left to the
    # REST tests (tests/server/test_rest_endpoints.py) that create jobs by hand.
    connection, schema, credentials = served
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

    before = len(connection.server.emulator.sessions)
    Workflow.run(settings=settings(max_examples=STATEFUL_RUNS, stateful_step_count=6,
                                   deadline=None, database=None, derandomize=True,
                                   suppress_health_check=list(HealthCheck)))
    assert len(connection.server.emulator.sessions) > before  # sessions were created
    assert connection.server.emulator.faults == 0
