"""Other web pages, other host names and other local users: who may drive the server.

A page of another site that the user's browser opens can send requests to loopback: a
form or ``text/plain`` POST needs no CORS preflight, and DNS rebinding points the page's
own name at 127.0.0.1 so that it may even read the answers. The server refuses both:
state-changing control routes take JSON only and no foreign ``Origin``; every route
checks ``Host``. ``--control-token`` guards the control routes and the live page.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from qsession.server import Connection, Emulator, Server
from qsession.server.limits import Limits

API = "/api/v1"


@pytest.fixture
def guarded() -> Iterator[Server]:
    """A server with a control token (as ``qsession serve`` makes one)."""
    server = Server(Emulator(clock="virtual", noise=False, backends=("qsession_ideal",)),
                    control_token="s3cret-token").start()
    try:
        yield server
    finally:
        server.stop()


def error(response: requests.Response, status: int, words: str) -> None:
    """IBM's error body with ``status`` and ``words`` in its message."""
    assert response.status_code == status, response.text[:300]
    message = response.json()["errors"][0]["message"]
    assert words in message, message


def test_a_foreign_page_cannot_advance_time(conn: Connection) -> None:
    """Reproduces: ``POST /qsession/v1/advance`` sent with ``Content-Type: text/plain`` and
    a foreign ``Origin`` (what any web page may send without a CORS preflight) was obeyed:
    bodies were parsed as JSON whatever their type."""
    url = conn.server.url + "/qsession/v1/advance"
    body = json.dumps({"seconds": 3600})
    before = conn.server.now_seconds()
    page = {"Origin": "https://attacker.example"}
    error(requests.post(url, data=body, timeout=30,
                        headers={**page, "Content-Type": "text/plain"}), 403, "another site")
    error(requests.post(url, data=body, timeout=30, headers={"Content-Type": "text/plain"}),
          415, "application/json")
    error(requests.post(url, data=body, timeout=30, headers={
        "Content-Type": "application/x-www-form-urlencoded"}), 415, "application/json")
    error(requests.post(conn.server.url + "/qsession/v1/run-until-idle", timeout=30), 415,
          "application/json")  # a body-less POST (a simple request too)
    error(requests.post(url, data=body, timeout=30, headers={
        **page, "Content-Type": "application/json"}), 403, "another site")
    error(requests.post(url, data=body, timeout=30, headers={
        "Origin": "null", "Content-Type": "application/json"}), 403, "another site")
    assert conn.server.now_seconds() == before
    # A program (no Origin) and the server's own page (its own origin) may.
    own = {"Origin": conn.server.url, "Content-Type": "application/json"}
    assert requests.post(url, data=body, headers=own, timeout=30).status_code == 200
    assert requests.post(url, data=json.dumps({"seconds": 1}), timeout=30, headers={
        "Content-Type": "application/json; charset=utf-8"}).status_code == 200
    assert conn.server.now_seconds() == before + 3601
    # Foreign pages cannot reach IBM's routes' state either.
    h = {"Origin": "https://attacker.example", "Content-Type": "application/json"}
    error(requests.post(conn.server.url + API + "/sessions", headers=h, timeout=30,
                        data=json.dumps({"backend": "ibm_brisbane"})), 403, "another site")


def test_every_route_checks_the_host_header(conn: Connection) -> None:
    """Reproduces: any ``Host`` header was answered, so a page whose own name was pointed
    at 127.0.0.1 (DNS rebinding) could read the live page, the trace and the API."""
    port = conn.server.port
    for path in ("/", "/page/live", "/qsession/v1/state", "/qsession/v1/trace",
                 API + "/backends", "/openapi.json", "/identity/token"):
        for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1:{port + 1}",
                     f"10.0.0.1:{port}", "", "[::1"):
            response = requests.get(conn.server.url + path, headers={"Host": host}, timeout=30)
            error(response, 400, "this server answers to")
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}",
                 f"[::1]:{port}", f"localhost.:{port}"):
        response = requests.get(conn.server.url + "/qsession/v1/state", timeout=30,
                                headers={"Host": host})
        assert response.status_code == 200, (host, response.text[:200])


def test_extra_host_names_are_answered_when_given() -> None:
    """What the interception proxy relies on: IBM's host names, forwarded as they are."""
    server = Server(Emulator(clock="virtual", noise=False, backends=("qsession_ideal",)),
                    host_names=["quantum.cloud.ibm.com", "iam.cloud.ibm.com"]).start()
    try:
        for host in ("quantum.cloud.ibm.com", "quantum.cloud.ibm.com:443",
                     "IAM.cloud.ibm.com"):
            response = requests.get(server.url + "/openapi.json", timeout=30,
                                    headers={"Host": host})
            assert response.status_code == 200, host
        assert requests.get(server.url + "/openapi.json", timeout=30, headers={
            "Host": "api.attacker.example"}).status_code == 400
    finally:
        server.stop()


def test_the_control_token_guards_control_routes_and_the_page(guarded: Server) -> None:
    """Reproduces: the control routes and the live page needed no credentials and showed
    every tenant to anyone who reached the port."""
    url = guarded.url
    error(requests.get(url + "/qsession/v1/state", timeout=30), 401, "control token")
    error(requests.post(url + "/qsession/v1/advance", json={"seconds": 5}, timeout=30), 401,
          "control token")
    error(requests.get(url + "/qsession/v1/trace", timeout=30, headers={
        "Authorization": "Bearer wrong"}), 401, "control token")
    assert guarded.now_seconds() == 0
    ok = requests.post(url + "/qsession/v1/advance", json={"seconds": 5}, timeout=30,
                       headers=guarded.control_headers())
    assert ok.status_code == 200 and guarded.now_seconds() == 5
    assert guarded.state()["now_seconds"] == 5  # the handle sends the token itself
    # The page: nothing of any tenant without the token.
    for path in ("/", "/page/live", "/page/jobs/j1"):
        page = requests.get(url + path, timeout=30)
        assert page.status_code == 401 and "control token" in page.text
        assert "qsession" not in page.text.split("</h1>")[1].split("qsession serve")[0]
    assert requests.get(url + "/page/static/page.css", timeout=30).status_code == 200
    wrong = requests.get(url + "/?token=nope", timeout=30)
    assert wrong.status_code == 401 and "not it" in wrong.text
    # The printed address logs a browser in: a cookie for this port, then the plain address.
    browser = requests.Session()
    assert guarded.page_url == url + "/?token=s3cret-token"
    first = browser.get(guarded.page_url + "&instance=qsession", timeout=30,
                        allow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/?instance=qsession"
    cookie = first.headers["set-cookie"]
    assert f"qsession-control-{guarded.port}=s3cret-token" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = browser.get(url + "/", timeout=30)
    assert page.status_code == 200
    assert "Every instance of this server: qsession." in page.text
    assert "Shown to whoever holds its control token." in page.text
    assert browser.get(url + "/page/live", timeout=30).status_code == 200


def test_the_page_says_whose_data_it_shows_without_a_token(conn: Connection) -> None:
    page = requests.get(conn.server.url + "/", timeout=30)
    assert page.status_code == 200
    assert "Every instance of this server: qsession." in page.text
    assert "This server has no control token" in page.text


def test_request_bodies_are_bounded(conn: Connection) -> None:
    """Reproduces: no request size limit: a 50 MB tag was read and kept in memory."""
    token = requests.post(conn.server.url + "/identity/token", timeout=30, data={
        "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
        "apikey": conn.server.emulator.token}).json()["access_token"]
    crn = next(iter(conn.server.emulator.instances.values())).crn
    h = {"Authorization": f"Bearer {token}", "Service-CRN": crn,
         "Content-Type": "application/json"}
    url = conn.server.url + API
    session = requests.post(url + "/sessions", headers=h, timeout=30,
                            data=json.dumps({"backend": "ibm_brisbane"})).json()["id"]
    big = json.dumps({"tags": ["x" * 50_000_000]})
    error(requests.put(url + "/jobs/j1/tags", headers=h, data=big, timeout=60), 413,
          "1,000,000 bytes")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"accepting_jobs": false, "pad": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}'

    error(requests.patch(url + f"/sessions/{session}", headers=h, data=chunks(), timeout=60),
          413, "1,000,000 bytes")
    # A job may carry up to IBM's 300 MB: 2 MB is read (and refused for what it says).
    job = requests.post(url + "/jobs", headers=h, timeout=60, data=json.dumps(
        {"program_id": "sampler", "backend": "ibm_brisbane", "tags": ["y" * 2_000_000],
         "params": {"pubs": []}}))
    assert job.status_code != 413 and job.status_code < 500, job.text[:200]
    # Declared over the limit: refused from the head, before a byte of the body is sent.
    head = (f"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:{conn.server.port}\r\n"
            f"Authorization: {h['Authorization']}\r\nService-CRN: {crn}\r\n"
            "Content-Type: application/json\r\nContent-Length: 300000001\r\n\r\n")
    with _half_open(conn.server.port, head.encode()) as sock:
        sock.settimeout(30)
        raw = b""
        while chunk := sock.recv(65536):  # the refusal closes the connection
            raw += chunk
    answer = raw.decode()
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "IBM's largest job input" in answer


def _half_open(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(data)
    return sock


def _closed_by_server(sock: socket.socket, within_s: float = 60) -> bool:
    sock.settimeout(within_s)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.wall
def test_slow_and_half_open_clients_are_dropped() -> None:
    """Reproduces: no header-read timeout: about 750 half-open connections were still held
    after 12 s, and every one counts against the connection limit. Here the limits are
    shortened (3 s to send a head or a body, 20 connections)."""
    limits = Limits(head_timeout_s=3, body_timeout_s=3, max_connections=20)
    server = Server(Emulator(clock="virtual", noise=False, backends=("qsession_ideal",)),
                    limits=limits).start()
    host = f"127.0.0.1:{server.port}"
    try:
        slow = [_half_open(server.port, b"GET /qsession/v1/sta") for _ in range(12)]
        slow += [_half_open(server.port, f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow:".encode())
                 for _ in range(6)]
        slow += [_half_open(server.port, (
            f"PUT /api/v1/jobs/j1/tags HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100\r\n"
            "Content-Type: application/json\r\n\r\n{\"tags\":").encode()) for _ in range(4)]
        # 22 connections hold the 20 places: a well-behaved client is turned away (503).
        deadline = time.monotonic() + 30
        refused = requests.get(server.url + "/qsession/v1/state", timeout=30)
        while refused.status_code == 200 and time.monotonic() < deadline:
            refused = requests.get(server.url + "/qsession/v1/state", timeout=30)
        assert refused.status_code == 503  # uvicorn's answer past limit_concurrency
        assert all(_closed_by_server(sock) for sock in slow)
        assert requests.get(server.url + "/qsession/v1/state", timeout=30).status_code == 200
        # A kept-alive connection that starts a second request and stalls is dropped too.
        kept = _half_open(server.port, f"GET /qsession/v1/state HTTP/1.1\r\nHost: {host}\r\n"
                          "\r\nGET /qsession/v1/st".encode())
        assert _closed_by_server(kept)
    finally:
        for sock in slow:
            sock.close()
        server.stop()
