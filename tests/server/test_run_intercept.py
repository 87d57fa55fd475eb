"""``qsession run`` with the real client: any credentials, IBM's hosts, nothing leaves.

Each test runs ``qsession run -- python PROGRAM`` with a temporary HOME (the user's home for
the test), PROGRAM one of tests/server/programs/, written as IBM's guides and reference
write them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.faults import assert_no_server_faults
from helpers.outside import outside_host

from qsession.server.launch import ENV_KEYS

QSESSION = str(Path(sys.executable).parent / "qsession")
PROGRAMS = Path(__file__).parent / "programs"


def qsession_run(*args: str, home: Path, extra_env: dict[str, str] | None = None,
                 prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``qsession run`` with ``home`` as HOME, in it, no inherited client variables."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["HOME"] = str(home)
    env.update(extra_env or {})
    done = subprocess.run([*prefix, QSESSION, "run", "--no-noise", "--seed", "5", *args],
                          cwd=home, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert_no_server_faults(done.stderr, summary=False)  # each test asks for its summary
    return done


def test_ibm_reference_programs_with_placeholder_credentials_run_unchanged(
        tmp_path: Path) -> None:
    # The user's own saved account, with a key that must never reach the program, and a
    # proxies entry that would send requests past the run's proxy.
    account_file = tmp_path / ".qiskit" / "qiskit-ibm.json"
    account_file.parent.mkdir()
    account_file.write_text(json.dumps({"users-own": {
        "channel": "ibm_quantum_platform", "token": "SECRET-REAL-KEY", "instance": "my-lab",
        "proxies": {"urls": {"https": "http://corp-proxy:3128"}}}}, indent=1))
    before = account_file.read_bytes()
    done = qsession_run("--", sys.executable, str(PROGRAMS / "placeholder_credentials.py"),
                        home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "counts ['00', '11']" in done.stdout
    # instance="CRN" became a tenant; the saved default account and a named one work.
    assert "default account instance crn:v1:bluemix:public:quantum-computing:us-east:" \
           "a/qsession:CRN::" in done.stdout
    assert "named account backends ['ibm_brisbane', 'qsession_ideal']" in done.stdout
    assert "user account token qsession-local-api-key" in done.stdout
    # save_account(..., overwrite=True) twice: the user's file is byte for byte unchanged.
    assert account_file.read_bytes() == before
    assert "SECRET-REAL-KEY" not in done.stdout + done.stderr
    assert "qsession: 1 session(s) and batch(es)" in done.stderr
    assert "qsession: jobs: 1 DONE" in done.stderr
    assert "CRN 2." in done.stderr  # the session's usage is billed to the tenant "CRN"
    assert "quantum.cloud.ibm.com" in done.stderr and "iam.cloud.ibm.com" in done.stderr
    assert "refused" not in done.stderr


def _can_isolate_network() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "--net", "sh", "-c", "ip link set lo up"],
                           capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def test_a_real_looking_key_for_ibms_hosts_reaches_only_the_emulator(tmp_path: Path) -> None:
    """The check that nothing leaves loopback is twofold. Every Python process of the run
    (qsession, its proxy and server, and the program) logs each socket connect and name
    lookup through CPython's audit hooks (programs/audit/sitecustomize.py): the log must
    hold loopback addresses only. And where the machine allows it (root, as CI), the run
    happens in a network namespace that has nothing but loopback, so an attempt that
    escaped the log would fail the program instead of reaching IBM."""
    log = tmp_path / "connects.log"
    isolated = _can_isolate_network()
    prefix = ("unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh") \
        if isolated else ()
    done = qsession_run("--", sys.executable, str(PROGRAMS / "real_looking_key.py"),
                        home=tmp_path, prefix=prefix,
                        extra_env={"PYTHONPATH": str(PROGRAMS / "audit"),
                                   "QSESSION_AUDIT_LOG": str(log)})
    assert done.returncode == 0, done.stderr
    assert "job" in done.stdout and "DONE ['1']" in done.stdout
    # The CRN names eu-de, so the client called eu-de.quantum.cloud.ibm.com, answered here.
    assert "eu-de.quantum.cloud.ibm.com" in done.stderr
    assert "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a" in done.stderr  # the tenant billed
    lines = [line.split("\t") for line in log.read_text().splitlines()]
    pids = {pid for pid, _, _ in lines}
    assert len(pids) >= 2, "both qsession and the program must have logged"
    connects = [eval(addr) for _, event, addr in lines if event == "socket.connect"]
    lookups = [eval(addr)[0] for _, event, addr in lines if event == "socket.getaddrinfo"]
    assert connects, "the program connected to the proxy at least"
    for address in connects:
        host = address[0] if isinstance(address, tuple) else address
        assert isinstance(host, str) and ipaddress.ip_address(host).is_loopback, address
    # IBM's names are never looked up: the client hands them to the proxy, which answers.
    assert not [h for h in lookups if isinstance(h, str | bytes) and "ibm.com" in str(h)]
    print(f"network namespace: {isolated}; {len(connects)} connects, all loopback")


def test_other_hosts_are_refused_unless_allowed(tmp_path: Path) -> None:
    # The child asks the proxy for 127.0.0.2 as for any host of the network.
    with outside_host(b"outside says hello") as url:
        done = qsession_run("--allow-host", "127.0.0.2", "--", sys.executable,
                            str(PROGRAMS / "other_hosts.py"), url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ("https refused: " in done.stdout and "qsession refused example.com: not one of "
            "IBM's hosts" in done.stdout and "--allow-host example.com" in done.stdout)
    assert "allowed: outside says hello" in done.stdout
    assert ("qsession: refused 1 connection(s) to hosts that are not IBM's (example.com:443); "
            "nothing left the machine. To let them out: --allow-host example.com"
            in done.stderr)
    host_port = url.removeprefix("http://").rstrip("/")
    assert f"let out, as --allow-host asked: {host_port}" in done.stderr


def test_a_run_that_reached_no_platform_says_why(tmp_path: Path) -> None:
    done = qsession_run("--", sys.executable, str(PROGRAMS / "local_testing_mode.py"),
                        home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "local counts 50" in done.stdout
    assert "the program made no request to the emulated platform" in done.stderr
    assert "local testing mode" in done.stderr and "service.backend(" in done.stderr
    assert "a url= naming a host that is not IBM's" in done.stderr


def test_an_unknown_backend_is_explained_with_the_backends_fix(tmp_path: Path) -> None:
    done = qsession_run("--", sys.executable, str(PROGRAMS / "unknown_backend.py"),
                        home=tmp_path)
    assert done.returncode == 1
    assert "QiskitBackendNotFoundError" in done.stderr  # the client's error passes through
    assert "qsession: backends served: ibm_brisbane, qsession_ideal" in done.stderr
    assert ("qsession: the program asked for backend 'ibm_kyiv', which this run does not "
            "serve (it serves ibm_brisbane, qsession_ideal); run with --backends "
            "ibm_kyiv,ibm_brisbane,qsession_ideal") in done.stderr


def test_strict_accounts_refuses_a_key_the_server_does_not_know(tmp_path: Path) -> None:
    program = ("from qiskit_ibm_runtime import QiskitRuntimeService\n"
               "QiskitRuntimeService(channel='ibm_quantum_platform', token='API_KEY', "
               "instance='CRN')\n")
    done = qsession_run("--strict-accounts", "--", sys.executable, "-c", program,
                        home=tmp_path)
    assert done.returncode == 1
    # IAM refused the key (BXNIM0415E); the client reports it as InvalidAccountError.
    assert "InvalidAccountError" in done.stderr
    assert "iam.cloud.ibm.com" in done.stderr


@pytest.mark.parametrize("flag", ["--allow-host", "--strict-accounts"])
def test_the_options_are_in_the_help(flag: str, tmp_path: Path) -> None:
    done = subprocess.run([QSESSION, "run", "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert flag in done.stdout


def test_a_program_with_only_the_environment_runs_unchanged(tmp_path: Path) -> None:
    crn = "crn:v1:bluemix:public:quantum-computing:us-east:a/feedbeef:env-instance::"
    done = qsession_run("--", sys.executable, str(PROGRAMS / "environment_only.py"),
                        home=tmp_path, extra_env={
                            "QISKIT_IBM_TOKEN": "the-users-own-real-looking-key-0123456789abc",
                            "QISKIT_IBM_INSTANCE": crn,
                            "QISKIT_IBM_CHANNEL": "ibm_quantum_platform"})
    assert done.returncode == 0, done.stderr
    assert f"instance {crn}" in done.stdout and "job DONE {'1': 10}" in done.stdout
    assert "usage billed: qsession 0 s, env-instance " in done.stderr
    assert "quantum.cloud.ibm.com" in done.stderr and "refused" not in done.stderr
