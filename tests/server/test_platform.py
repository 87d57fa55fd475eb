"""Milestone 1: the real client finds its account, instance and backends on the local server.

The client resolves an instance through IAM, Global Search and Global Catalog
(qiskit_ibm_runtime/accounts/account.py ``list_instances``), then lists ``/backends``
and builds ``IBMBackend`` objects from ``configuration`` and ``properties``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.server import isa_bell, start
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qiskit_ibm_runtime.accounts.exceptions import InvalidAccountError
from qiskit_ibm_runtime.fake_provider import FakeBrisbane, FakeTorino

from qsession.server import Connection, Instance, Server
from qsession.server.emulator import Emulator


def test_backend_configuration_properties_and_status_are_ibms(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    fake = FakeBrisbane()
    config = backend.configuration()
    # Served under the IBM name, and not a simulator (so Session opens one).
    assert backend.name == "ibm_brisbane"
    assert config.simulator is False and config.n_qubits == 127
    assert config.basis_gates == fake.configuration().basis_gates
    props = backend.properties()
    assert props.t1(0) == fake.properties().t1(0)
    assert props.readout_error(5) == fake.properties().readout_error(5)
    assert backend.target.num_qubits == 127
    assert set(backend.target.operation_names) >= {"ecr", "rz", "sx", "x", "measure"}
    status = backend.status()
    assert status.operational is True and status.status_msg == "active"
    assert status.pending_jobs == 0


def test_the_ideal_qpu_is_served_with_the_runtimes_gates_and_connectivity(
        conn: Connection) -> None:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_ibm_runtime import Session

    from qsession.runtime import QPU

    backend = conn.service.backend("qsession_ideal")
    ours = QPU.ideal().target
    assert backend.configuration().simulator is False and backend.num_qubits == 16
    from qiskit.circuit import Gate

    gates = {n for n in ours.operation_names if isinstance(ours.operation_from_name(n), Gate)}
    # Every gate comes through; the client's converter knows no box/break/continue.
    assert gates <= set(backend.target.operation_names) <= set(ours.operation_names)
    assert set(backend.target.qargs_for_operation_name("cx")) == set(
        ours.qargs_for_operation_name("cx"))  # all-to-all: no SWAPs
    assert backend.properties() is None  # noiseless: no errors to report
    ghz = QuantumCircuit(3)
    ghz.h(0)
    ghz.cx(0, 1)
    ghz.cx(0, 2)
    ghz.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend).run(ghz)
    with Session(backend=backend) as session:
        job = SamplerV2(mode=session).run([isa], shots=300)
        conn.server.run_until_idle()
        counts = job.result()[0].data.meas.get_counts()
    assert set(counts) == {"000", "111"} and sum(counts.values()) == 300


def fresh(connection: Connection) -> QiskitRuntimeService:
    """A new client service on the same server (as a second program would make)."""
    env = connection.server.env()
    return QiskitRuntimeService(channel="ibm_quantum_platform", token=env["QISKIT_IBM_TOKEN"],
                                url=env["QISKIT_IBM_URL"], instance=env["QISKIT_IBM_INSTANCE"])


def test_least_busy_reads_real_queue_lengths() -> None:
    connection = start(backends=("ibm_brisbane", "ibm_torino"))
    try:
        service = connection.service
        assert {b.name for b in service.backends()} == {"ibm_brisbane", "ibm_torino"}
        brisbane = service.backend("ibm_brisbane")
        torino = service.backend("ibm_torino")
        assert torino.configuration().n_qubits == FakeTorino().configuration().n_qubits
        sampler = SamplerV2(mode=brisbane)
        isa = isa_bell(brisbane)
        jobs = [sampler.run([isa], shots=10) for _ in range(3)]  # 1 runs, 2 queue
        assert brisbane.status().pending_jobs == 2
        # With a default instance the client caches /backends from its construction
        # (qiskit_runtime_service.py least_busy), so a fresh service reads the queues now.
        assert fresh(connection).least_busy().name == "ibm_torino"
        torino_sampler = SamplerV2(mode=torino)
        isa_t = isa_bell(torino)
        more = [torino_sampler.run([isa_t], shots=10) for _ in range(4)]  # 1 runs, 3 queue
        assert torino.status().pending_jobs == 3
        assert fresh(connection).least_busy().name == "ibm_brisbane"
        connection.server.run_until_idle()
        assert all(j.status() == "DONE" for j in jobs + more)
    finally:
        connection.close()


def test_instance_by_name_resolves_to_its_crn_through_global_search(conn: Connection) -> None:
    env = conn.server.env()
    service = QiskitRuntimeService(channel="ibm_quantum_platform", token=env["QISKIT_IBM_TOKEN"],
                                   url=env["QISKIT_IBM_URL"], instance="qsession")
    tenant = conn.server.emulator.instances["qsession"]
    assert service.active_instance() == tenant.crn
    assert [i["name"] for i in service.instances()] == ["qsession"]
    assert service.instances()[0]["plan"] == "premium"
    assert service.backend("ibm_brisbane").name == "ibm_brisbane"


def test_a_wrong_api_key_is_refused_by_iam_when_strict() -> None:
    """``--strict-accounts``: IAM's own refusal (BXNIM0415E), which the client reports as
    InvalidAccountError; without it any key gets a token (test_intercept.py)."""
    conn = start(strict_accounts=True)
    try:
        env = conn.server.env()
        with pytest.raises(InvalidAccountError):
            QiskitRuntimeService(channel="ibm_quantum_platform", token="not-the-key",
                                 url=env["QISKIT_IBM_URL"], instance="qsession")
    finally:
        conn.close()


def test_an_unknown_instance_name_is_the_clients_error_when_strict() -> None:
    from qiskit_ibm_runtime.exceptions import IBMInputValueError

    conn = start(strict_accounts=True)
    try:
        env = conn.server.env()
        with pytest.raises(IBMInputValueError, match="not a valid instance name"):
            QiskitRuntimeService(channel="ibm_quantum_platform",
                                 token=env["QISKIT_IBM_TOKEN"], url=env["QISKIT_IBM_URL"],
                                 instance="nobody")
    finally:
        conn.close()


def test_the_environment_alone_reaches_the_server(tmp_path: Path) -> None:
    """A program with a bare ``QiskitRuntimeService()`` runs unchanged, by environment."""
    server = Server(Emulator(noise=False, instances=[Instance("lab", "premium", 1.0)])).start()
    # ibm_brisbane and qsession_ideal both idle: least_busy takes the first listed
    try:
        program = textwrap.dedent("""
            import json
            from qiskit_ibm_runtime import QiskitRuntimeService
            service = QiskitRuntimeService()
            backend = service.least_busy(min_num_qubits=5)
            print(json.dumps({"backend": backend.name, "instance": service.active_instance(),
                              "simulator": backend.configuration().simulator}))
        """)
        env = {**os.environ, **server.env(), "HOME": str(tmp_path)}
        done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out == {"backend": "ibm_brisbane", "instance": Instance("lab").crn,
                       "simulator": False}
    finally:
        server.stop()


def test_openapi_document_is_served_and_matches_docs(conn: Connection) -> None:
    import urllib.request

    with urllib.request.urlopen(conn.server.url + "/openapi.json", timeout=30) as response:
        served = json.loads(response.read())
    paths = set(served["paths"])
    for path in ("/identity/token", "/api/v1/backends", "/api/v1/sessions",
                 "/api/v1/sessions/{session_id}/close", "/api/v1/jobs/{job_id}/results",
                 "/experimental/api/v1/jobs", "/qsession/v1/run-until-idle"):
        assert path in paths
    docs = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
    assert json.loads(docs.read_text()) == served, (
        "docs/openapi.json is stale: regenerate it with "
        "python -m qsession.server.openapi > docs/openapi.json")
