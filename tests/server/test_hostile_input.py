"""Hostile input over HTTP: every malformed, oversized or absurd value is a 4xx, never a 5xx.

The client retries every 5xx five times, POSTs included (qiskit_ibm_runtime/api/session.py,
``PostForcelistRetry`` with ``status_forcelist`` 5xx), so a 500 for a bad request resubmits
it; and a 500 that anyone can provoke without credentials takes the service down for all.
Each test names the finding it reproduces; the autouse ``server_faults`` fixture
(tests/conftest.py) also fails any test during which the server counted a fault.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from helpers.server import isa_bell, start, zz
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_ibm_runtime import EstimatorV2, RuntimeEncoder, SamplerV2

from qsession.server import Connection

API = "/api/v1"


@pytest.fixture(scope="module")
def conn() -> Iterator[Connection]:
    """One virtual-clock server for the module: every request here is refused, or harmless."""
    connection = start()
    try:
        yield connection
    finally:
        connection.close()


def bearer(conn: Connection) -> dict[str, str]:
    """A valid token and the tenant's CRN, JSON content."""
    token = requests.post(conn.server.url + "/identity/token", timeout=30, data={
        "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
        "apikey": conn.server.emulator.token}).json()["access_token"]
    crn = next(iter(conn.server.emulator.instances.values())).crn
    return {"Authorization": f"Bearer {token}", "Service-CRN": crn,
            "Content-Type": "application/json"}


def b64(raw: bytes) -> str:
    """base64url without padding, as JWT segments are written."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def refused(response: requests.Response, status: int, words: str = "") -> None:
    """A 4xx in IBM's error body (``errors[].message``) containing ``words``."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    message = response.json()["errors"][0]["message"]
    assert words in message, message


DEEP = 100_000
"""Brackets nested far past Python's recursion limit (json raises RecursionError)."""


def test_a_token_of_deeply_nested_json_is_a_401_not_a_500(conn: Connection) -> None:
    """Reproduces: a bearer token whose header or payload segment is deeply nested JSON made
    every authenticated route and Global Search answer 500 (a RecursionError raised while
    the token was decoded, before any check), with no credentials needed."""
    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    crn = next(iter(conn.server.emulator.instances.values())).crn
    url = conn.server.url
    # 2,000 levels reach the JWT decoder (Python's json recurses 1,000 deep at most);
    # 4,500 make a token longer than any this IAM issues, refused before it is decoded.
    # Both stay under the server's header-size limit (a longer header is dropped).
    for depth in (2000, 4500):
        nested = b64(b"[" * depth + b"]" * depth)
        for token in (f"{header}.{nested}.c2ln", f"{nested}.{b64(b'{}')}.c2ln",
                      f"{b64(b'{}')}.{nested}."):
            auth = {"Authorization": f"Bearer {token}", "Service-CRN": crn}
            refused(requests.get(url + API + "/backends", headers=auth, timeout=30), 401,
                    "Invalid credentials")
            refused(requests.get(url + API + "/jobs", headers=auth, timeout=30), 401,
                    "Invalid credentials")
            search = requests.post(url + "/global-search/v3/resources/search",
                                   headers=auth, json={"query": "*"}, timeout=30)
            assert search.status_code == 401, search.text[:300]
            catalog = requests.get(url + "/global-catalog/api/v1/qsession-plan-premium",
                                   headers=auth, timeout=30)
            assert catalog.status_code == 401, catalog.text[:300]


def _client_bodies(conn: Connection) -> dict[str, dict[str, Any]]:
    """What the real client posts for a sampler and an estimator job (plain JSON)."""
    backend = conn.service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    bare = isa_bell(backend, measure=False)
    # The client encodes its coerced pubs with RuntimeEncoder (base_primitive.py _run).
    sampler = {"program_id": "sampler", "backend": "ibm_brisbane", "params": json.loads(
        json.dumps({"pubs": [SamplerPub.coerce((isa,), 10)], "version": 2,
                    "support_qiskit": True}, cls=RuntimeEncoder))}
    estimator = {"program_id": "estimator", "backend": "ibm_brisbane", "params": json.loads(
        json.dumps({"pubs": [EstimatorPub.coerce((bare, zz(bare)), 0.1)], "version": 2,
                    "support_qiskit": True}, cls=RuntimeEncoder))}
    # The encoded forms are accepted as they are: a job from each runs.
    h = bearer(conn)
    for body in (sampler, estimator):
        response = requests.post(conn.server.url + API + "/jobs", headers=h,
                                 data=json.dumps(body), timeout=60)
        assert response.status_code == 200, response.text[:300]
    return {"sampler": sampler, "estimator": estimator}


def _corrupt(value: str, how: str) -> str:
    raw = bytearray(base64.b64decode(value))
    if how == "checksum":  # zlib's adler32 trailer no longer matches
        raw[-1] ^= 0xFF
    elif how == "truncated":
        raw = raw[: len(raw) // 2]
    elif how == "not zlib":
        raw = bytearray(b"QISKIT" + bytes(64))
    elif how == "qpy garbage":  # a valid zlib stream of bytes that are not QPY
        import zlib

        raw = bytearray(zlib.compress(b"QISKIT\x0d" + bytes(range(256)) * 4))
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("how", ["checksum", "truncated", "not zlib", "qpy garbage"])
def test_corrupt_qpy_bytes_are_a_400(conn: Connection, how: str) -> None:
    """Reproduces: a pub circuit whose QPY bytes are corrupt raised zlib/struct errors
    during schema validation, outside the decoder's error handling: a 500."""
    bodies = _client_bodies(conn)
    h = bearer(conn)
    for body in bodies.values():
        bad = copy.deepcopy(body)
        circuit = bad["params"]["pubs"][0][0]
        assert circuit["__type__"] == "QuantumCircuit"
        circuit["__value__"] = _corrupt(circuit["__value__"], how)
        response = requests.post(conn.server.url + API + "/jobs", headers=h,
                                 data=json.dumps(bad), timeout=60)
        assert 400 <= response.status_code < 500, response.text[:300]
        assert response.json()["errors"][0]["message"]


def test_a_compressed_payload_that_inflates_a_thousandfold_is_refused_unread(
        conn: Connection) -> None:
    """Reproduces: a circuit whose zlib stream inflates 1,000 to 1 (a run of zeros) was
    inflated in full by the decoders before they refused it: a 500 kB request made the
    server allocate 500 MB and spend 11 s, so IBM's largest input (300 MB) could ask for
    300 GB. Now the inflation stops at a budget (64 MiB plus 32 times the request)."""
    import zlib

    squeeze = zlib.compressobj(9)
    bomb = squeeze.compress(b"QISKIT" + bytes(100 << 20)) + squeeze.flush()
    assert len(bomb) < 200_000
    for program, body in _client_bodies(conn).items():
        bad = copy.deepcopy(body)
        bad["params"]["pubs"][0][0]["__value__"] = base64.b64encode(bomb).decode()
        response = requests.post(conn.server.url + API + "/jobs", headers=bearer(conn),
                                 data=json.dumps(bad), timeout=120)
        refused(response, 400, "compressed payloads inflate to more than")
        assert program in ("sampler", "estimator")


HUGE = [("1e308", "1e+308"), ("9" * 400, "too large"), ("-" + "9" * 400, ""),
        ("1.8e308", ""), ("NaN", ""), ("Infinity", ""), ("-Infinity", ""), ("1e-320", ""),
        ("-1", ""), ("0.5", ""), ("true", ""), ('"1e308"', ""), ("null", ""), ("[1e308]", "")]
"""Numbers (and non-numbers) no field should turn into a fault: JSON has no bounds."""


def test_session_max_ttl_of_1e308_and_400_digits_is_a_400(conn: Connection) -> None:
    """Reproduces: ``POST /sessions {"max_ttl": 1e308}`` answered 500 (an OverflowError
    converting it to microseconds), as did a max_ttl of 400 digits."""
    url, h = conn.server.url + API, bearer(conn)
    # The published schema bounds max_ttl (1 to 2**31 - 1 seconds, IBM's): refused there.
    for text, words in [("1e308", "max_ttl"), ("9" * 400, "max_ttl")]:
        response = requests.post(url + "/sessions", headers=h, timeout=30,
                                 data=f'{{"backend": "ibm_brisbane", "max_ttl": {text}}}')
        refused(response, 400, words)
    for text, _ in HUGE:
        response = requests.post(url + "/sessions", headers=h, timeout=30,
                                 data=f'{{"backend": "ibm_brisbane", "max_ttl": {text}}}')
        assert response.status_code in (200, 400), (text, response.text[:300])


def test_advance_by_a_400_digit_integer_is_a_400(conn: Connection) -> None:
    """Reproduces: ``POST /qsession/v1/advance`` with a 400-digit integer answered 500
    (``float()`` overflowed), and so did 1e308 (no integer microseconds)."""
    url = conn.server.url + "/qsession/v1/advance"
    before = conn.server.now_seconds()
    for text, words in [("9" * 400, "too large"), ("1e308", "too large")]:
        refused(requests.post(url, data=f'{{"seconds": {text}}}', timeout=30,
                              headers={"Content-Type": "application/json"}), 400, words)
    for text, _ in HUGE:
        response = requests.post(url, data=f'{{"seconds": {text}}}', timeout=30,
                                 headers={"Content-Type": "application/json"})
        assert response.status_code in (200, 400), (text, response.text[:300])
    assert conn.server.now_seconds() - before <= 0.5 + 1e-9  # "0.5" is the one accepted


JOB_NUMBERS = {
    "sampler": [("cost",), ("params", "options", "default_shots"), ("params", "pubs", 0, 2),
                ("params", "version"), ("params", "options", "max_execution_time"),
                ("params", "options", "seed_simulator")],
    "estimator": [("cost",), ("params", "pubs", 0, 3), ("params", "options", "default_shots"),
                  ("params", "options", "default_precision"),
                  ("params", "options", "resilience_level"), ("params", "pubs", 0, 2)],
}


def _put(body: dict[str, Any], path: tuple[Any, ...], text: str) -> str:
    body = copy.deepcopy(body)
    where: Any = body
    for key in path[:-1]:
        where = where.setdefault(key, {}) if isinstance(where, dict) else where[key]
    where[path[-1]] = "@@number@@"
    return json.dumps(body).replace('"@@number@@"', text)


def test_absurd_numbers_in_job_fields_are_4xx(conn: Connection) -> None:
    """Reproduces: a job's ``default_shots``, pub shots or ``cost`` of 400 digits answered
    500 (``float()`` of the integer overflowed in the options' checks, the time limit and
    the estimator's precision)."""
    url, h = conn.server.url + API, bearer(conn)
    bodies = _client_bodies(conn)
    for program, paths in JOB_NUMBERS.items():
        for path in paths:
            for text, _ in HUGE:
                response = requests.post(url + "/jobs", headers=h, timeout=60,
                                         data=_put(bodies[program], path, text))
                assert response.status_code < 500, (program, path, text,
                                                    response.text[:300])
    conn.server.run_until_idle()


def test_deeply_nested_bodies_and_fields_are_a_400(conn: Connection) -> None:
    """Nesting anywhere in a body (whole body, tags, params, an option) is refused with a
    message; nothing recurses past its limit."""
    url, h = conn.server.url + API, bearer(conn)
    deep = "[" * DEEP + "]" * DEEP
    shallow = "[" * 900 + "]" * 900  # under the recursion limit: reaches the checks
    for text in (deep, f'{{"tags": {deep}}}',
                 f'{{"backend": "ibm_brisbane", "max_ttl": {shallow}}}'):
        refused(requests.post(url + "/sessions", headers=h, data=text, timeout=30), 400)
    bodies = _client_bodies(conn)
    for nesting in (deep, shallow, '{"a":' * 900 + "1" + "}" * 900):
        for program, paths in JOB_NUMBERS.items():
            for path in [*paths, ("tags",), ("params", "pubs")]:
                response = requests.post(url + "/jobs", headers=h, timeout=60,
                                         data=_put(bodies[program], path, nesting))
                assert 400 <= response.status_code < 500, (path, response.text[:300])
    refused(requests.post(conn.server.url + "/qsession/v1/advance", data=deep, timeout=30,
                          headers={"Content-Type": "application/json"}), 400)


def test_the_real_client_still_runs_after_the_hostile_requests(conn: Connection) -> None:
    """The service goes on serving everyone else (same module server as above)."""
    backend = conn.service.backend("ibm_brisbane")
    job = SamplerV2(mode=backend).run([isa_bell(backend)], shots=20)
    bare = isa_bell(backend, measure=False)
    estimate = EstimatorV2(mode=backend).run([(bare, zz(bare))])
    conn.server.run_until_idle()
    assert job.result()[0].data.meas.num_shots == 20
    assert abs(float(estimate.result()[0].data.evs) - 1.0) < 0.2
    assert conn.server.state()["faults"] == 0
