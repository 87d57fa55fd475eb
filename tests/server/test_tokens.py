"""Tokens as IBM Cloud IAM issues them: signed by the server, expiring, refreshed by the client.

IAM's access tokens are JWTs with ``iat`` and ``exp`` (``expires_in: 3600``);
ibm-cloud-sdk-core's ``JWTTokenManager._save_token_info`` reads both without checking the
signature and refreshes at 80% of the lifetime (``refresh_time = exp - (exp - iat) * 0.2``),
synchronously once the token has expired (``TokenManager.get_token``). IBM's runtime API
answers a request without valid credentials with 401 and code 1201 ("Invalid credentials.",
as qiskit-ibm-runtime issue #1491 shows the body).
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import requests
from helpers.server import isa_bell, start
from qiskit_ibm_runtime import SamplerV2

from qsession.server import Connection
from qsession.server.tokens import LIFETIME_S, MAX_TOKEN_CHARS, Tokens

API = "/api/v1"
GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def issue(conn: Connection) -> dict[str, object]:
    """``POST /identity/token`` as IAMTokenManager sends it."""
    response = requests.post(conn.server.url + "/identity/token", timeout=30,
                             data={"grant_type": GRANT, "apikey": conn.server.emulator.token})
    assert response.status_code == 200, response.text
    return dict(response.json())


def call(conn: Connection, token: str, scheme: str = "Bearer") -> requests.Response:
    """``GET /backends`` with ``token``."""
    crn = next(iter(conn.server.emulator.instances.values())).crn
    return requests.get(conn.server.url + API + "/backends", timeout=30,
                        headers={"Authorization": f"{scheme} {token}", "Service-CRN": crn})


def assert_401(response: requests.Response, words: str) -> None:
    """IBM's 401: error code 1201, "Invalid credentials", and why."""
    assert response.status_code == 401, response.text
    body = response.json()
    (error,) = body["errors"]
    assert error["code"] == 1201 and set(body) == {"errors", "trace"}
    assert error["message"].startswith("Invalid credentials"), error["message"]
    assert words in error["message"], error["message"]


def segment(data: dict[str, object]) -> str:
    """A JWT segment: base64url JSON without padding."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_is_a_signed_jwt_with_iams_lifetime_fields(conn: Connection) -> None:
    body = issue(conn)
    token = str(body["access_token"])
    assert body["token_type"] == "Bearer" and body["expires_in"] == LIFETIME_S
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    # What JWTTokenManager reads: exp and iat, the signature unchecked.
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == LIFETIME_S == int(body["expiration"]) - claims["iat"]
    assert call(conn, token).status_code == 200


def test_a_token_anyone_could_write_is_refused(conn: Connection) -> None:
    """Reproduces: an unsigned token (``alg: none``) with the server's issuer, which anyone
    can write, was accepted, and so was one whose ``exp`` was absent, ``"never"`` or past."""
    now = int(time.time())
    claims = {"iam_id": "iam-x", "sub": "x", "iat": now, "exp": now + 3600,
              "iss": "qsession-iam"}
    unsigned = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}."
    assert_401(call(conn, unsigned), "not one this server's IAM issued")
    for exp in ("never", None, now - 10):
        forged = dict(claims, exp=exp) if exp is not None else {
            k: v for k, v in claims.items() if k != "exp"}
        assert_401(call(conn, f"{segment({'alg': 'none'})}.{segment(forged)}."),
                   "Invalid credentials")
    # Signed, but with another secret (another server's, or a guess).
    other = Tokens().issue("x")["access_token"]
    assert_401(call(conn, str(other)), "signature is not this server's")
    resigned = jwt.encode(claims, "qsession" * 4, algorithm="HS256")
    assert_401(call(conn, resigned), "signature is not this server's")
    assert_401(call(conn, "x" * (MAX_TOKEN_CHARS + 1)), "characters long")
    assert_401(call(conn, "not-a-jwt"), "not one this server's IAM issued")


def test_a_token_expires_after_its_lifetime_with_ibms_401(conn: Connection) -> None:
    """Reproduces: ``exp`` was never checked. The issuer's clock is moved, not waited for."""
    tokens = conn.server.emulator.tokens
    start_s = time.time()
    tokens.clock = lambda: start_s
    token = str(issue(conn)["access_token"])
    assert call(conn, token).status_code == 200
    tokens.clock = lambda: start_s + LIFETIME_S - 1
    assert call(conn, token).status_code == 200
    tokens.clock = lambda: start_s + LIFETIME_S
    assert_401(call(conn, token), "expired")
    search = requests.post(conn.server.url + "/global-search/v3/resources/search",
                           timeout=30, headers={"Authorization": f"Bearer {token}"}, json={})
    assert search.status_code == 401
    fresh = str(issue(conn)["access_token"])  # IAM gives a new one, as the client asks
    assert call(conn, fresh).status_code == 200


def test_the_apikey_scheme_is_not_accepted(conn: Connection) -> None:
    """Reproduces: ``Authorization: apikey <key>`` skipped IAM (and was not documented);
    IBM's runtime API takes bearer tokens only."""
    assert_401(call(conn, conn.server.emulator.token, scheme="apikey"), "Bearer")


@pytest.mark.wall
def test_the_real_client_refreshes_its_token_as_iam_tokens_expire() -> None:
    """A server whose tokens live 2 s: the unmodified client (IAMTokenManager) asks IAM for a
    new token when its own expires, and its requests go on; the old token is refused."""
    connection = start(token_lifetime=2)
    try:
        tokens = connection.server.emulator.tokens
        backend = connection.service.backend("ibm_brisbane")
        job = SamplerV2(mode=backend).run([isa_bell(backend)], shots=10)
        connection.server.run_until_idle()
        assert job.result()[0].data.meas.num_shots == 10
        first = tokens.issued
        old = str(issue(connection)["access_token"])
        time.sleep(2.2)  # past the lifetime: the SDK refreshes before its next request
        assert_401(call(connection, old), "expired")
        again = SamplerV2(mode=backend).run([isa_bell(backend)], shots=12)
        connection.server.run_until_idle()
        assert again.result()[0].data.meas.num_shots == 12
        assert tokens.issued > first + 1  # the client asked IAM again
    finally:
        connection.close()
