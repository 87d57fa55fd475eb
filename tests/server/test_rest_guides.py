"""IBM's REST guides, their requests as IBM prints them, against the server.

Each test copies the requests of one of IBM's guides (quantum.cloud.ibm.com/docs/guides/:
"Set up to use IBM Quantum Platform with REST API" (cloud-setup-rest-api), "Sampler with
the REST API" (sampler-rest-api), "Estimator with the REST API" (estimator-rest-api),
"Execution modes using REST API" (execution-modes-rest-api)) with only the base URL, the
token and the names the guide leaves to the reader (``<BACKEND_NAME>``, ``<SERVICE-CRN>``,
the transpiled ``resulting_qasm``, ``obs1``...) filled in, sends them with ``requests``, and
asserts what the guide then reads from the response. Where a guide's request cannot run as
printed, the test says why and what IBM's published schema answers instead.

The server runs on the ``fast`` clock (``qsession run``'s): the guides ask for a job's state
once and then for its results, and a client asking about an unfinished job waits on it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import requests
from helpers.server import start
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager

from qsession.server import Connection

CURL = shutil.which("curl")

# The qasm_string of the Sampler and Estimator guides, as IBM prints it.
QASM_STRING = '''
OPENQASM 3;
include "stdgates.inc";
qreg q[2];
creg c[2];
x q[0];
cx q[0], q[1];
c[0] = measure q[0];
c[1] = measure q[1];
'''


class Guide:
    """What a guide's reader has: the jobs URL, a bearer token, the instance CRN."""

    def __init__(self, conn: Connection) -> None:
        env = conn.server.env()
        self.conn = conn
        self.base = conn.server.url
        self.url = f"{self.base}/api/v1/jobs"
        # "Set up to use IBM Quantum Platform with REST API", step 1 (Python tab): the IAM
        # request as IBM prints it, its header's typo included.
        url = f"{env['IAM_URL']}/identity/token"
        api_key = env["QISKIT_IBM_TOKEN"]
        headers = {
            'Content-Type': 'application/x-www-form-urlendcoded',
        }
        data = f'grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey={api_key}'
        response = requests.post(url, headers=headers, data=data, timeout=60)
        bearer_token = response.json()['access_token']
        self.auth_id = f"Bearer {bearer_token}"
        self.crn = env["QISKIT_IBM_INSTANCE"]

    def headers(self) -> dict[str, str]:
        """The headers every guide builds."""
        return {
            'Content-Type': 'application/json',
            'Authorization': self.auth_id,
            'Service-CRN': self.crn,
        }

    def transpiled(self, circuit: QuantumCircuit, backend: str) -> str:
        """``resulting_qasm``: the circuit made ISA for ``backend``, as OpenQASM 3."""
        target = self.conn.service.backend(backend)
        pm = generate_preset_pass_manager(optimization_level=1, backend=target,
                                          seed_transpiler=1)
        return str(qasm3.dumps(pm.run(circuit)))

    def outcome(self, job_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Step 4 of the Sampler and Estimator guides: the job's state, then its results."""
        url, headers = self.url, self.headers()
        response_status_singlejob = requests.get(url + '/' + job_id, headers=headers,
                                                 timeout=120)
        state = response_status_singlejob.json().get('state')
        response_result = requests.get(url + '/' + job_id + '/results', headers=headers,
                                       timeout=120)
        assert response_result.status_code == 200, response_result.text
        res_dict = response_result.json()
        return state, res_dict

    def run(self, job_input: dict[str, Any]) -> dict[str, Any]:
        """POST a guide's ``job_input`` (200 expected) and return its results."""
        response = requests.post(self.url, headers=self.headers(), json=job_input, timeout=120)
        assert response.status_code == 200, response.text
        job_id = response.json().get('id')
        _, res_dict = self.outcome(job_id)
        return res_dict

    def refused(self, job_input: dict[str, Any]) -> str:
        """POST a ``job_input`` IBM's schema refuses: the 400's message."""
        response = requests.post(self.url, headers=self.headers(), json=job_input, timeout=120)
        assert response.status_code == 400, response.text
        body = response.json()
        assert set(body) == {"errors", "trace"}
        return str(body["errors"][0]["message"])


@pytest.fixture
def guide() -> Iterator[Guide]:
    # ibm_manila has 5 qubits: the Estimator guide's observables have 5 letters.
    connection = start(clock="fast", backends=("ibm_brisbane", "ibm_manila"))
    try:
        yield Guide(connection)
        assert connection.server.state()["faults"] == 0
    finally:
        connection.close()


def parameterized() -> tuple[QuantumCircuit, dict[str, float]]:
    """Steps 2-3 of the guides' "Parameterized circuits": theta, phi and their values."""
    theta = Parameter('theta')
    phi = Parameter('phi')
    # In case we want to pass a dictionary:
    parameter_values = {'theta': 1.57, 'phi': 3.14}
    qc = QuantumCircuit(2)
    # Add parameterized gates
    qc.rx(theta, 0)
    qc.ry(phi, 1)
    qc.cx(0, 1)
    qc.measure_all()
    return qc, parameter_values


# -- Set up to use IBM Quantum Platform with REST API ----------------------------------


@pytest.mark.skipif(CURL is None, reason="the curl binary is not installed")
def test_setup_guide_checks_the_credentials_with_usage(guide: Guide) -> None:
    """Step 2, "Authenticate requests ... by including the CRN and bearer token": the
    guide's curl line, ``GET /api/v1/usage``. IBM's REST reference lists no ``/v1/usage``
    (its instances document has ``GET /v1/instances/usage``, operation ``get_usage``); the
    server answers the guide's path as it answers ``/instances/usage``.

    As printed, each header argument is quoted whole (``'-H accept: application/json'``),
    so curl sends `` accept: ...`` with a leading space: HTTP reads such a line as the
    continuation of the line before (obsolete line folding), and the request carries no
    Authorization at all. It is sent as printed (a 401 naming the missing credentials, as
    any server folding lines answers), then with curl's usual quoting.
    """
    assert CURL is not None
    url = f"{guide.base}/api/v1/usage"
    bearer = guide.auth_id.removeprefix("Bearer ")

    def curl(*args: str) -> tuple[int, Any]:
        done = subprocess.run([CURL, "-s", "-w", "\n%{http_code}", *args],
                              capture_output=True, text=True, timeout=60, check=True)
        body, status = done.stdout.rsplit("\n", 1)
        return int(status), json.loads(body)

    status, refused = curl('-X', 'GET',
                           url,
                           '-H accept: application/json',
                           f'-H authorization: Bearer {bearer}',
                           f'-H Service-CRN: {guide.crn}')
    assert status == 401 and set(refused) == {"errors", "trace"}, refused
    assert refused["errors"][0]["code"] == 1201  # IBM's "invalid credentials"
    assert "send 'Authorization: Bearer TOKEN'" in refused["errors"][0]["message"]
    status, usage = curl('-X', 'GET',
                         url,
                         '-H', 'accept: application/json',
                         '-H', f'authorization: Bearer {bearer}',
                         '-H', f'Service-CRN: {guide.crn}')
    assert status == 200, usage
    assert usage["instance_id"] == guide.crn and usage["usage_consumed_seconds"] == 0
    same = requests.get(f"{guide.base}/api/v1/instances/usage", headers=guide.headers(),
                        timeout=60).json()
    assert {k: v for k, v in usage.items() if k != "usage_period"} == \
        {k: v for k, v in same.items() if k != "usage_period"}


# -- Sampler with the REST API ---------------------------------------------------------


def test_sampler_guide_job_and_results(guide: Guide) -> None:
    """Steps 3-4: two pubs, ``[resulting_qasm]`` and ``[resulting_qasm, None, 500]``; the
    guide reads ``res_dict['results'][0]['data']['c']['samples']`` (hex strings)."""
    resulting_qasm = guide.transpiled(qasm3.loads(QASM_STRING), "ibm_brisbane")
    url, backend = guide.url, "ibm_brisbane"
    headers = guide.headers()
    job_input = {
        'program_id': 'sampler',
        "backend": backend,
        "params": {
            # primitive unified blocs (PUBs) containing one circuit each:
            "pubs": [[resulting_qasm], [resulting_qasm, None, 500]]
        }}
    response = requests.post(url, headers=headers, json=job_input, timeout=120)
    assert response.status_code == 200, response.text
    job_id = response.json().get('id')
    state, res_dict = guide.outcome(job_id)
    assert state in ({"status": "Running"}, {"status": "Completed"})
    # Get results for the first PUB
    counts = res_dict['results'][0]['data']['c']['samples']
    # x q[0]; cx q[0], q[1]: both bits are 1 in every shot of the noiseless QPU.
    assert counts[:20] == ['0x3'] * 20
    assert len(counts) == 4096  # IBM's default shots
    second = res_dict['results'][1]['data']['c']
    assert second == {"samples": ['0x3'] * 500, "num_bits": 2}
    assert res_dict['results'][0]['metadata'] == {"shots": 4096, "circuit_metadata": {}}
    spans = res_dict['metadata']['execution']['execution_spans']
    assert res_dict['metadata']['version'] == 2 and len(spans) == 1
    # A DoubleSliceSpan: the shape with shots, the parameter sets, the shots.
    assert spans[0]["data_slices"] == {"0": [[4096], 0, 1, 0, 4096], "1": [[500], 0, 1, 0, 500]}


@pytest.mark.parametrize("options", [
    # Step 5, "Dynamical decoupling", as printed.
    {"dynamical_decoupling": {"enable": True, "sequence_type": 'XpXm',
                              "extra_slack_distribution": 'middle',
                              "scheduling_method": 'alap'}},
    # Step 5, "Twirling", as printed.
    {"twirling": {"enable_gates": True, "enable_measure": True, "num_randomizations": "auto",
                  "shots_per_randomization": "auto", "strategy": "active-accum"}},
], ids=["dynamical_decoupling", "twirling"])
def test_sampler_guide_options(guide: Guide, options: dict[str, Any]) -> None:
    resulting_qasm = guide.transpiled(qasm3.loads(QASM_STRING), "ibm_brisbane")
    job_input = {
        'program_id': 'sampler',
        "backend": "ibm_brisbane",
        "params": {
            # primitive unified blocs (PUBs) containing one circuit each:
            "pubs": [[resulting_qasm]],
            "options": options,
        }
    }
    res_dict = guide.run(job_input)
    # Accepted as IBM's schema accepts them; the emulated QPU runs the circuit as written.
    assert set(res_dict['results'][0]['data']['c']['samples']) == {'0x3'}


def test_sampler_guide_parameterized_circuits(guide: Guide) -> None:
    """"Parameterized circuits": the values as a dict by name, and (the guide's commented
    alternative) as a list in the circuit's parameter order."""
    qc, parameter_values = parameterized()
    qasm_str = guide.transpiled(qc, "ibm_brisbane")
    url, headers = guide.url, guide.headers()
    job_input = {
        'program_id': 'sampler',
        "backend": "ibm_brisbane",
        "params": {
            # primitive unified blocs (PUBs) containing one circuit each:
            "pubs": [[qasm_str, parameter_values, 500]],
        }}
    response = requests.post(url, headers=headers, json=job_input, timeout=120)
    assert response.status_code == 200, response.text
    job_id = response.json().get('id')
    state, res_dict = guide.outcome(job_id)
    assert state in ({"status": "Running"}, {"status": "Completed"})
    # Step 6's printed output, once the job has finished:
    assert requests.get(f"{url}/{job_id}", headers=headers, timeout=60).json().get(
        'state') == {'status': 'Completed'}
    # The guide reads ['c'], but measure_all() names the register "meas" (on IBM too).
    assert 'c' not in res_dict['results'][0]['data']
    counts = res_dict['results'][0]['data']['meas']['samples']
    assert len(counts) == 500
    # rx(1.57)|0> is an even superposition and ry(3.14)|0> is |1>; then cx: bit 1 is
    # always 1 (measured q1 = q0 XOR 1) and bit 0 is random: 0x2 and 0x1.
    assert set(counts) <= {'0x1', '0x2'} and min(counts.count('0x1'), counts.count('0x2')) > 150
    # Choose one option: direct parameter transfer ... "pubs": [[qasm_str,[1,2],500]]
    job_input["params"]["pubs"] = [[qasm_str, [1, 2], 500]]
    res_dict = guide.run(job_input)
    assert len(res_dict['results'][0]['data']['meas']['samples']) == 500


# -- Estimator with the REST API -------------------------------------------------------


def _exact(resulting_qasm: str, observable: SparsePauliOp,
           values: dict[str, float] | None = None) -> float:
    """The noiseless expectation value of ``observable`` on ``resulting_qasm``."""
    circuit = qasm3.loads(resulting_qasm).remove_final_measurements(inplace=False)
    if values:
        circuit = circuit.assign_parameters({p: values[p.name] for p in circuit.parameters})
    wide = QuantumCircuit(observable.num_qubits)
    wide.compose(circuit, qubits=range(circuit.num_qubits), inplace=True)
    return float(Statevector(wide).expectation_value(observable).real)


def test_estimator_guide_job_and_results(guide: Guide) -> None:
    """Steps 3-4: ``[resulting_qasm, {"IIZII": 1, "XIZZZ": 2.3}, None]``; the guide prints
    ``res_dict['results']``: data ``evs``, ``stds``, ``ensemble_standard_error`` and the
    pub's metadata. Its observables have 5 letters, so the backend here has 5 qubits."""
    resulting_qasm = guide.transpiled(qasm3.loads(QASM_STRING), "ibm_manila")
    url, backend, headers = guide.url, "ibm_manila", guide.headers()
    job_input = {
        'program_id': 'estimator',
        "backend": backend,
        "params": {
            "pubs": [  # primitive unified blocs (PUBs) containing one circuit each.
                [resulting_qasm,  # QASM circuit
                 {"IIZII": 1, "XIZZZ": 2.3},  # Observable
                 None  # parameter values
                 ]]
        }}
    response = requests.post(url, headers=headers, json=job_input, timeout=120)
    assert response.status_code == 200, response.text
    job_id = response.json().get('id')
    _, res_dict = guide.outcome(job_id)
    estimator_result = res_dict['results']
    (pub,) = estimator_result
    assert set(pub['data']) == {'evs', 'stds', 'ensemble_standard_error'}
    assert all(isinstance(pub['data'][k], float) for k in pub['data'])
    assert pub['metadata'] == {'shots': 4096, 'target_precision': 0.015625,
                               'circuit_metadata': {}, 'resilience': {},
                               'num_randomizations': 1}
    exact = _exact(resulting_qasm, SparsePauliOp.from_list([("IIZII", 1), ("XIZZZ", 2.3)]))
    assert abs(pub['data']['evs'] - exact) < 5 * pub['data']['stds'] + 1e-9
    assert res_dict['metadata']['version'] == 2


@pytest.mark.parametrize("options", [
    # "TREX + ZNE" (the printed request lacks a comma after the pubs' "]]", a Python
    # syntax error; with it the request is this).
    {"resilience": {"measure_mitigation": True, "zne_mitigation": True,
                    "zne": {"extrapolator": ["exponential", "linear"],
                            "noise_factors": [1, 3, 5]}}},
    # "Dynamical Decoupling" (the same missing comma).
    {"dynamical_decoupling": {"enable": True, "sequence_type": 'XpXm',
                              "extra_slack_distribution": 'middle',
                              "scheduling_method": 'alap'}},
    # "Twirling" (the same missing comma).
    {"twirling": {"enable_gates": True, "enable_measure": True, "num_randomizations": "auto",
                  "shots_per_randomization": "auto", "strategy": "active-accum"}},
], ids=["trex_zne", "dynamical_decoupling", "twirling"])
def test_estimator_guide_options(guide: Guide, options: dict[str, Any]) -> None:
    resulting_qasm = guide.transpiled(qasm3.loads(QASM_STRING), "ibm_manila")
    job_input = {
        'program_id': 'estimator',
        "backend": "ibm_manila",
        "params": {
            "pubs": [  # primitive unified blocs (PUBs) containing one circuit each
                [resulting_qasm,  # QASM circuit
                 {"IIZII": 1, "XIZZZ": 2.3},  # Observable
                 None  # parameter values
                 ]],
            "options": options,
        }
    }
    res_dict = guide.run(job_input)
    assert isinstance(res_dict['results'][0]['data']['evs'], float)


def test_estimator_guide_parameterized_circuits(guide: Guide) -> None:
    """"Parameterized circuits", step 5 prints ``"pubs": [[qasm_str, parameter_values,
    500]]``: in an estimator pub the second element is the observables, so the parameter
    dict stands where Pauli strings belong, and IBM's schema (Pauli strings of I, X, Y, Z)
    refuses it. With observables in their place the pub runs."""
    qc, parameter_values = parameterized()
    qasm_str = guide.transpiled(qc, "ibm_manila")
    job_input = {
        'program_id': 'estimator',
        "backend": "ibm_manila",
        "params": {
            # Choose one option: direct parameter transfer or through a dictionary
            "pubs": [[qasm_str, parameter_values, 500]],
        }}
    message = guide.refused(job_input)
    assert message.startswith("estimator pub 0: the observables cannot be read"), message
    assert "Pauli strings" in message
    job_input["params"]["pubs"] = [[qasm_str, "IIIZZ", parameter_values]]
    (pub,) = guide.run(job_input)['results']
    exact = _exact(qasm_str, SparsePauliOp("IIIZZ"), parameter_values)
    assert abs(pub['data']['evs'] - exact) < 5 * pub['data']['stds'] + 1e-9


# -- Execution modes using REST API ----------------------------------------------------


def test_execution_modes_guide(guide: Guide) -> None:
    """Session mode: start a session, the guide's six job inputs in it, close it; batch
    mode: start a batch. Every printed job input has ``"transpilation":
    {"optimization_level": 1}`` in its options, which IBM's V2 option schema (REST
    reference, ``additionalProperties: false``; ibm-quantum-schemas) refuses: each is sent
    as printed and refused with the reason, then runs without that option."""
    from helpers.rest import Rest

    rest = Rest(guide.conn)
    backend, auth_id, crn = "ibm_manila", guide.auth_id, guide.crn
    sessionsUrl = f"{guide.base}/api/v1/sessions"  # noqa: N806 (the guide's names)
    headersList = {  # noqa: N806
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Authorization": auth_id,
        "Service-CRN": crn
    }
    payload = json.dumps({
        "backend": backend,
        "mode": 'dedicated',
    })
    response = requests.request("POST", sessionsUrl, data=payload, headers=headersList,
                                timeout=60)
    sessionId = response.json()['id']  # noqa: N806
    assert isinstance(sessionId, str) and sessionId

    # What the guide leaves to the reader: a transpiled circuit, one with a parameter,
    # four observables (5 letters: ibm_manila has 5 qubits), parameter values.
    resulting_qasm = guide.transpiled(qasm3.loads(QASM_STRING), backend)
    one = QuantumCircuit(2)
    one.ry(Parameter("a"), 0)
    one.cx(0, 1)
    one.measure_all()
    resulting_qasm_p = guide.transpiled(one, backend)
    obs1, obs2, obs3, obs4 = "IIIZZ", "IIIZI", {"IIIZZ": 0.5, "IIIIZ": 0.5}, "IIIXX"
    vals1, vals2, vals3, val1 = 0.0, np.pi / 2, np.pi, np.pi
    options = {"transpilation": {"optimization_level": 1},
               "twirling": {"enable_gates": True, "enable_measure": True}}
    jobs = [
        # Estimator, "1 circuit, 4 observables"
        ("estimator", [[resulting_qasm, [obs1, obs2, obs3, obs4]]]),
        # Estimator, "1 circuit, 4 observables, 2 parameter sets" (a circuit with a
        # parameter, since the pub gives values)
        ("estimator", [[resulting_qasm_p, [[obs1], [obs2], [obs3], [obs4]],
                        [[vals1], [vals2]]]]),
        # Estimator, "2 circuits, 2 observables"
        ("estimator", [[resulting_qasm, obs1], [resulting_qasm, obs2]]),
        # Sampler, "1 circuit, no parameters"
        ("sampler", [[resulting_qasm]]),
        # Sampler, "1 circuit, 3 parameter sets"
        ("sampler", [[resulting_qasm_p, [vals1, vals2, vals3]]]),
        # Sampler, "2 circuits, 1 parameter set"
        ("sampler", [[resulting_qasm_p, [val1]], [resulting_qasm, None, 100]]),
    ]
    ids = []
    for program, pubs in jobs:
        job_input = {
            'program_id': program,
            "backend": backend,
            "session_id": sessionId,  # This specifies the previously created Session
            "params": {
                "pubs": pubs,  # primitive unified blocs (PUBs) containing one circuit each
                "options": options,
            }
        }
        message = guide.refused(job_input)
        assert (f"params do not fit IBM's {program} schema (ibm-quantum-schemas "
                f"{program} version_0_1): params.options.transpilation: Extra inputs are "
                "not permitted") in message
        assert "Fix: V2 primitives take ISA circuits and no transpilation options" in message
        job_input["params"]["options"] = {"twirling": options["twirling"]}
        ids.append(rest.submit(job_input))
    shapes = []
    for job_id in ids:
        assert rest.wait(job_id) == {"status": "Completed"}
        results = rest.results(job_id)["results"]
        for pub in results:
            data = pub["data"]
            value = data["evs"] if "evs" in data else data["meas" if "meas" in data
                                                           else "c"]["samples"]
            shapes.append(np.shape(value))
    assert shapes == [(4,), (4, 2), (), (), (4096,), (3, 4096), (4096,), (100,)]
    # The jobs ran in the session, one after the other.
    listed = requests.get(f"{guide.base}/api/v1/jobs?session_id={sessionId}",
                          headers=guide.headers(), timeout=60).json()["jobs"]
    assert sorted(j["id"] for j in listed) == sorted(ids)

    closureURL = f"{guide.base}/api/v1/sessions/" + sessionId + "/close"  # noqa: N806
    headersList = {  # noqa: N806
        "Accept": "application/json",
        "Authorization": auth_id,
        "Service-CRN": crn
    }
    closure_response = requests.request("DELETE", closureURL, headers=headersList,
                                        timeout=60)
    assert closure_response.ok  # "Session closure response ok?: True"

    # Batch mode (the printed payload still names a legacy hub/group/project instance).
    headersList = {  # noqa: N806
        "Accept": "application/json",
        "Authorization": auth_id,
        "Service-CRN": crn,
        'Content-Type': 'application/json'
    }
    payload = json.dumps({
        "backend": backend,
        "instance": "hub1/group1/project1",
        "mode": "batch"
    })
    response = requests.request("POST", sessionsUrl, data=payload, headers=headersList,
                                timeout=60)
    sessionId = response.json()['id']  # noqa: N806
    session = requests.get(f"{guide.base}/api/v1/sessions/{sessionId}",
                           headers=guide.headers(), timeout=60).json()
    assert session["mode"] == "batch"
