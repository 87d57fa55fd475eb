"""The intercepting proxy and the run's CA, driven in-process by plain HTTP clients.

A server and its proxy run here on loopback; ``requests`` and curl reach IBM's host names
through the proxy exactly as a program under ``qsession run`` does (``HTTPS_PROXY`` and a
CA bundle), so these tests show what any HTTP client gets: IBM's hosts answered by the
emulator, every other host refused with a message naming it and ``--allow-host``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from helpers.outside import outside_host

from qsession.server import Emulator, Server
from qsession.server.hosts import prefix_for
from qsession.server.intercept import Proxy, RunCA, is_ibm_host, refusal
from qsession.server.runenv import (
    ACCOUNT_FILE,
    PLACEHOLDER_KEY,
    PrivateHome,
    child_env,
    named_instances,
    private_accounts,
)

EU_CRN = "crn:v1:bluemix:public:quantum-computing:eu-de:a/0123abcd:9f8e7d6c-aaaa-bbbb::"


class Rig:
    """A server, its proxy, the CA bundle, and a requests session that uses them."""

    def __init__(self, tmp: Path, *, strict: bool = False, allow: tuple[str, ...] = ()) -> None:
        self.server = Server(Emulator(noise=False, backends=("qsession_ideal",),
                                      strict_accounts=strict)).start()
        self.ca = RunCA(tmp)
        self.bundle = self.ca.write_bundle()
        self.proxy = Proxy.serving(self.server, self.ca, allow=allow).start()
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.proxies = {"https": self.proxy.url, "http": self.proxy.url}
        self.http.verify = str(self.bundle)

    def token(self, key: str = "any key at all") -> requests.Response:
        return self.http.post("https://iam.cloud.ibm.com/identity/token", timeout=30, data={
            "grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": key})

    def close(self) -> None:
        self.http.close()
        self.proxy.stop()
        self.server.stop()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    try:
        yield r
    finally:
        r.close()


def test_ibm_hosts_are_answered_by_the_emulator_over_tls(rig: Rig) -> None:
    # Hosts as the client derives them (api/utils.py default_runtime_url_resolver,
    # accounts/utils.py get_iam_api_url / get_global_search_api_url /
    # get_global_catalog_api_url): us-east is quantum.cloud.ibm.com, other regions prefix it.
    issued = rig.token()
    assert issued.status_code == 200, issued.text
    bearer = {"Authorization": "Bearer " + issued.json()["access_token"]}
    search = rig.http.post("https://api.global-search-tagging.cloud.ibm.com/v3/resources/search",
                           json={"query": "service_name:quantum-computing"}, headers=bearer,
                           timeout=30)
    assert search.status_code == 200 and search.json()["items"][0]["name"] == "qsession"
    plan = search.json()["items"][0]["service_plan_unique_id"]
    entry = rig.http.get(f"https://globalcatalog.cloud.ibm.com/api/v1/{plan}", headers=bearer,
                         timeout=30)
    assert entry.status_code == 200 and entry.json()["name"] == "premium"
    tenant = rig.server.emulator.instances["qsession"]
    for host in ("quantum.cloud.ibm.com", "eu-de.quantum.cloud.ibm.com"):
        backends = rig.http.get(f"https://{host}/api/v1/backends", timeout=30,
                                headers={**bearer, "Service-CRN": tenant.crn})
        assert backends.status_code == 200, backends.text
        assert [d["name"] for d in backends.json()["devices"]] == ["qsession_ideal"]
    assert {(a.host, a.verdict) for a in rig.proxy.attempts} == {
        ("iam.cloud.ibm.com", "answered"), ("api.global-search-tagging.cloud.ibm.com", "answered"),
        ("globalcatalog.cloud.ibm.com", "answered"), ("quantum.cloud.ibm.com", "answered"),
        ("eu-de.quantum.cloud.ibm.com", "answered")}
    assert rig.server.router.requests["quantum.cloud.ibm.com"] == 1
    assert rig.server.router.requests["eu-de.quantum.cloud.ibm.com"] == 1


def test_any_key_gets_a_token_and_a_named_instance_becomes_a_tenant(rig: Rig) -> None:
    bearer = {"Authorization": "Bearer " + rig.token("a real-looking key 44 chars").json()[
        "access_token"]}
    response = rig.http.get("https://eu-de.quantum.cloud.ibm.com/api/v1/backends", timeout=30,
                            headers={**bearer, "Service-CRN": EU_CRN})
    assert response.status_code == 200, response.text
    tenant = rig.server.emulator.by_crn[EU_CRN]
    # The instance part of IBM's CRN is its name; the default plan is premium, allocation 1.
    assert (tenant.name, tenant.plan, tenant.allocation) == ("9f8e7d6c-aaaa-bbbb", "premium", 1.0)
    search = rig.http.post("https://api.global-search-tagging.cloud.ibm.com/v3/resources/search",
                           json={}, headers=bearer, timeout=30).json()
    assert EU_CRN in [item["crn"] for item in search["items"]]
    configured = [r.instance for r in rig.server.emulator.trace.records if r.event == "configure"]
    # The trace records the new tenant as it recorded the first (one QPU: one record each).
    assert configured == ["qsession", "9f8e7d6c-aaaa-bbbb"]


def test_strict_accounts_refuse_with_ibms_errors(tmp_path: Path) -> None:
    rig = Rig(tmp_path, strict=True)
    try:
        refused = rig.token("not the server's key")
        # IAM's error for an unknown key (docs/errors.md, http-wrong-api-key)
        assert refused.status_code == 400 and refused.json()["errorCode"] == "BXNIM0415E"
        bearer = {"Authorization": "Bearer " + rig.token(
            rig.server.emulator.token).json()["access_token"]}
        foreign = rig.http.get("https://quantum.cloud.ibm.com/api/v1/backends", timeout=30,
                               headers={**bearer, "Service-CRN": EU_CRN})
        assert foreign.status_code == 403 and foreign.json()["errors"][0]["code"] == 1200
        assert EU_CRN not in rig.server.emulator.by_crn
    finally:
        rig.close()


def test_other_hosts_are_refused_with_the_way_to_allow_them(rig: Rig) -> None:
    with pytest.raises(requests.exceptions.ProxyError) as err:
        rig.http.get("https://example.com/", timeout=30)
    assert refusal("example.com") in str(err.value)
    assert "--allow-host example.com" in str(err.value)
    plain = rig.http.get("http://example.org/path", timeout=30)
    assert plain.status_code == 403 and "--allow-host example.org" in plain.text
    assert [(a.host, a.port, a.scheme, a.verdict) for a in rig.proxy.attempts] == [
        ("example.com", 443, "https", "refused"), ("example.org", 80, "http", "refused")]
    assert not rig.server.router.requests


def test_an_allowed_host_is_let_through(tmp_path: Path) -> None:
    with outside_host(b"hello from outside") as url:
        rig = Rig(tmp_path, allow=("127.0.0.2",))
        try:
            answer = rig.http.get(url, timeout=30)
            assert answer.status_code == 200 and answer.text == "hello from outside"
            assert rig.proxy.attempts[-1].verdict == "allowed"
        finally:
            rig.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_trusts_the_runs_ca_with_cacert(rig: Rig) -> None:
    # docs/server.md: other HTTP clients name the proxy and the run's CA.
    done = subprocess.run(
        ["curl", "--silent", "--show-error", "--proxy", rig.proxy.url, "--cacert",
         str(rig.ca.cert_path), "--data", "grant_type=urn:ibm:params:oauth:grant-type:apikey"
         "&apikey=anything", "https://iam.cloud.ibm.com/identity/token"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["token_type"] == "Bearer"
    refused = subprocess.run(["curl", "--silent", "--show-error", "--proxy", rig.proxy.url,
                              "https://example.com/"], capture_output=True, text=True,
                             timeout=60, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr


def test_which_hosts_are_ibms() -> None:
    assert all(is_ibm_host(h) for h in ("quantum.cloud.ibm.com", "eu-de.quantum.cloud.ibm.com",
                                        "iam.cloud.ibm.com", "cloud.ibm.com",
                                        "api.global-search-tagging.cloud.ibm.com",
                                        "globalcatalog.cloud.ibm.com", "QUANTUM.cloud.ibm.com."))
    assert not any(is_ibm_host(h) for h in ("example.com", "cloud.ibm.com.evil.net",
                                            "notcloud.ibm.com", "pypi.org"))
    assert "channel='ibm_quantum_platform'" in refusal("auth.quantum.ibm.com")
    assert prefix_for("api.global-search-tagging.cloud.ibm.com") == "/global-search"
    assert prefix_for("globalcatalog.cloud.ibm.com") == "/global-catalog"
    assert prefix_for("quantum.cloud.ibm.com") == ""


def test_the_private_account_file_keeps_no_key_and_no_proxies(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / ".qiskit").mkdir(parents=True)
    (real / ".qiskit" / "settings.conf").write_text("[default]\n")
    (real / ".bashrc").write_text("# mine\n")
    saved = {"work": {"channel": "ibm_quantum_platform", "token": "SECRET", "instance": "lab",
                      "proxies": {"urls": {"https": "http://corp:3128"}},
                      "is_default_account": True}}
    (real / ACCOUNT_FILE).write_text(json.dumps(saved))
    before = (real / ACCOUNT_FILE).read_bytes()
    run = tmp_path / "run"
    run.mkdir()
    home = PrivateHome.make(real, run, "crn:default")
    copy = json.loads((home.path / ACCOUNT_FILE).read_text())
    assert copy == {"work": {"channel": "ibm_quantum_platform", "token": PLACEHOLDER_KEY,
                             "instance": "lab", "is_default_account": True}}
    assert "SECRET" not in (home.path / ACCOUNT_FILE).read_text()
    assert home.instances == ["lab"]
    assert (home.path / ".bashrc").read_text() == "# mine\n"
    assert (home.path / ".qiskit" / "settings.conf").is_symlink()
    # What the child writes: the account file stays private, new files come home.
    (home.path / ACCOUNT_FILE).write_text("{}")
    (home.path / ".new-tool").write_text("x")
    (home.path / ".qiskit" / "cache.json").write_text("{}")
    moved = home.give_back()
    assert sorted(p.name for p in moved) == [".new-tool", "cache.json"]
    assert (real / ".new-tool").read_text() == "x" and (real / ".qiskit" / "cache.json").exists()
    assert (real / ACCOUNT_FILE).read_bytes() == before
    # No default account saved: the copy gets one for the run's first tenant.
    assert private_accounts("not json") == {}
    bare = tmp_path / "bare"
    bare.mkdir()
    empty = PrivateHome.make(tmp_path / "nobody", bare, "crn:default")
    assert json.loads((empty.path / ACCOUNT_FILE).read_text())[
        "default-ibm-quantum-platform"]["instance"] == "crn:default"


def test_the_childs_environment(tmp_path: Path) -> None:
    env = child_env({"NO_PROXY": ".ibm.com", "QISKIT_IBM_URL": "http://127.0.0.1:1",
                     "IAM_URL": "http://x", "PATH": "/bin", "QISKIT_IBM_TOKEN": "mine"},
                    proxy_url="http://127.0.0.1:9", bundle=tmp_path / "b.pem",
                    ca_cert=tmp_path / "ca.pem", home=tmp_path)
    # A NO_PROXY naming IBM's hosts would let the client past the proxy: only loopback stays.
    assert env["NO_PROXY"] == env["no_proxy"] == "127.0.0.1,localhost,::1"
    assert env["HTTPS_PROXY"] == env["http_proxy"] == "http://127.0.0.1:9"
    assert env["REQUESTS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == str(tmp_path / "b.pem")
    assert env["NODE_EXTRA_CA_CERTS"] == str(tmp_path / "ca.pem")
    assert "QISKIT_IBM_URL" not in env and "IAM_URL" not in env
    assert env["QISKIT_IBM_TOKEN"] == "mine" and env["PATH"] == "/bin"


def test_instances_a_program_names_are_found_before_it_runs(tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    program.write_text('service = QiskitRuntimeService(token="API_KEY", instance="CRN")\n'
                       f"other = '{EU_CRN}'\n"
                       "QiskitRuntimeService.save_account(token='k', instance = 'my-lab')\n")
    found = named_instances(["python", str(program), "--flag"], {"QISKIT_IBM_INSTANCE": "env-i"})
    assert found == ["env-i", EU_CRN, "CRN", "my-lab"]


def test_connect_can_intercept_this_process() -> None:
    from qiskit_ibm_runtime import QiskitRuntimeService

    from qsession.server import connect

    before = dict(os.environ)
    conn = connect(intercept=True, clock="virtual", noise=False, backends=("qsession_ideal",))
    try:
        assert "QISKIT_IBM_URL" not in os.environ and "IAM_URL" not in os.environ
        assert os.environ["HTTPS_PROXY"] == conn.interception.proxy.url
        assert [b.name for b in conn.service.backends()] == ["qsession_ideal"]
        # Code as IBM's reference writes it, its own key and IBM's URL, reaches the server.
        # The client checks the instance against Global Search first: in-process, make the
        # tenant beforehand (qsession run finds it in the program's source).
        conn.server.emulator.add_tenant(EU_CRN)
        mine = QiskitRuntimeService(channel="ibm_quantum_platform", token="API_KEY",
                                    url="https://cloud.ibm.com", instance=EU_CRN)
        assert [b.name for b in mine.backends()] == ["qsession_ideal"]
        requests_seen = conn.server.router.requests
        assert requests_seen["quantum.cloud.ibm.com"] > 0
        assert requests_seen["eu-de.quantum.cloud.ibm.com"] > 0
        assert {a.verdict for a in conn.interception.proxy.attempts} == {"answered"}
    finally:
        conn.close()
    assert dict(os.environ) == before


def test_a_client_that_does_not_trust_the_runs_ca_is_reported(rig: Rig) -> None:
    import certifi

    from qsession.server.runreport import traffic_lines

    with pytest.raises(requests.exceptions.SSLError):
        rig.http.get("https://quantum.cloud.ibm.com/api/v1/backends", timeout=30,
                     verify=certifi.where())  # the normal roots only: as a pinning client
    # The proxy sees the refused handshake on its own thread a moment after the client.
    deadline = time.monotonic() + 30
    while not rig.proxy.untrusted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rig.proxy.untrusted == ["quantum.cloud.ibm.com"]
    assert not rig.server.router.requests
    lines = traffic_lines(rig.proxy.attempts, rig.server.router.requests, rig.proxy.untrusted)
    assert lines == ["qsession: the program did not trust the run's certificate for "
                     "quantum.cloud.ibm.com, so those requests were not answered: it pins "
                     "certificates or ignores REQUESTS_CA_BUNDLE and SSL_CERT_FILE; let it "
                     "trust the run's CA certificate, the file named in NODE_EXTRA_CA_CERTS "
                     "(qsession docs server \"Other HTTP clients\" shows how for curl, "
                     "Node.js and Java)"]
