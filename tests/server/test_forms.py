"""The request forms of IBM's REST reference and guides: accepted, normalised, or refused.

``forms.normalise`` is checked directly (what each form becomes; every refusal names what
was wrong and how to fix it), then over HTTP: equivalent forms give equal results with a
fixed simulator seed (OpenQASM 3, base64 QPY and the client's QPY; short and full pubs;
values by name, as lists and as the client's arrays; observables as strings, dicts and the
client's encodings), and an OpenQASM 3 Sampler and Estimator job runs end to end over
plain JSON with the ``curl`` binary.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from helpers.rest import Rest, typed
from helpers.server import start
from qiskit import QuantumCircuit, qasm3, qpy
from qiskit.circuit import Parameter
from qiskit.circuit.library import ECRGate
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.quantum_info import SparsePauliOp

from qsession.runtime import IBMInputValueError
from qsession.server import forms
from qsession.server.errors import NotFound, UnknownBackend

QUBITS = {"ibm_manila": 5, "ibm_brisbane": 127}
BELL = ("OPENQASM 3.0; include \"stdgates.inc\"; bit[2] c; h $0; cx $0, $1; "
        "c[0] = measure $0; c[1] = measure $1;")
ANGLES = ("OPENQASM 3.0; include \"stdgates.inc\"; input float[64] theta; input float[64] phi;"
          " bit[2] c; rx(theta) $0; ry(phi) $1; c[0] = measure $0; c[1] = measure $1;")


def job(params: Any, program: str = "sampler", **top: Any) -> dict[str, Any]:
    return {"program_id": program, "backend": "ibm_manila", "params": params, **top}


def normalised(params: Any, program: str = "sampler", **top: Any) -> forms.Submission:
    return forms.normalise(job(params, program, **top), QUBITS)


def refusal(params: Any, program: str = "sampler", **top: Any) -> str:
    with pytest.raises(IBMInputValueError) as caught:
        normalised(params, program, **top)
    return str(caught.value)


def array(wrapper: dict[str, Any]) -> np.ndarray:
    """The array inside a canonical ``{"__type__": "ndarray"}`` wrapper."""
    from qiskit_ibm_runtime import RuntimeDecoder

    return np.asarray(RuntimeDecoder().object_hook(wrapper))


def qpy_bytes(circuit: QuantumCircuit, version: int = 17) -> bytes:
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer, version=version)
    return buffer.getvalue()


# -- what each form becomes ------------------------------------------------------------


def test_a_bare_circuit_and_short_pubs_become_full_pubs_with_ibms_shots() -> None:
    # The reference's sampler pub: "anyOf: an array [circuit, values, shots] ... or the
    # circuit alone"; shots from the pub, else params.shots, else default_shots, else 4096.
    plain = normalised({"pubs": [BELL, [BELL], [BELL, None], [BELL, None, 7]]})
    assert [p[2] for p in plain.canonical["pubs"]] == [4096, 4096, 4096, 7]
    assert [p.shots for p in plain.pubs] == [4096, 4096, 4096, 7]
    assert all(p[0] == BELL and array(p[1]).shape == (0,) for p in plain.canonical["pubs"])
    defaulted = normalised({"pubs": [[BELL]], "options": {"default_shots": 300}})
    assert defaulted.canonical["pubs"][0][2] == 300
    top = normalised({"pubs": [[BELL], [BELL, None, 9]], "shots": 50,
                      "options": {"default_shots": 300}})
    assert [p[2] for p in top.canonical["pubs"]] == [50, 9]
    assert "shots" not in top.canonical  # folded into the pubs, as the schema wants them
    assert plain.schema == "sampler version_0_1" and plain.plain_results
    assert not normalised({"pubs": [BELL], "support_qiskit": True}).plain_results


def test_openqasm_on_physical_qubits_spans_the_qpu_and_keeps_standard_gates() -> None:
    text = ("OPENQASM 3.0; include \"stdgates.inc\"; gate ecr _a, _b { s _a; sx _b; cx _a, _b;"
            " x _a; } bit[1] c; x $3; ecr $3, $4; c[0] = measure $4;")
    (pub,) = normalised({"pubs": [text]}).pubs
    circuit = pub.circuit
    assert circuit.num_qubits == 5  # ibm_manila's width, not 5 = $4 + 1 by chance alone
    assert [circuit.find_bit(q).index for q in circuit.data[0].qubits] == [3]
    assert isinstance(circuit.data[1].operation, ECRGate)  # the exporter's gate ecr {...}
    logical = normalised({"pubs": ["OPENQASM 3.0; qubit[2] q; bit[1] c; c[0] = measure q[1];"]})
    assert logical.pubs[0].circuit.num_qubits == 2  # not on physical qubits: as written


def test_qpy_as_plain_base64_compressed_base64_or_the_clients_form() -> None:
    circuit = qasm3.loads(BELL)
    raw = qpy_bytes(circuit)
    client = typed(circuit)
    for form in (base64.b64encode(raw).decode(), base64.b64encode(zlib.compress(raw)).decode(),
                 client):
        submission = normalised({"pubs": [[form]]})
        canonical = submission.canonical["pubs"][0][0]
        assert canonical["__type__"] == "QuantumCircuit"  # the schema's typed QPY model
        assert submission.pubs[0].circuit == circuit
    assert normalised({"pubs": [[client]]}).canonical["pubs"][0][0] == client  # as sent
    # IBM's schema reads QPY versions 13 to 17 (the client writes at most 17).
    newest = base64.b64encode(qpy_bytes(circuit, version=qpy.QPY_VERSION)).decode()
    message = refusal({"pubs": [newest]})
    assert f"params.pubs.0.0: Value error, The qpy_version is {qpy.QPY_VERSION} but" in message
    assert "Fix: IBM reads QPY versions 13 to 17: write the circuit with" in message


def test_parameter_values_by_name_as_lists_or_as_the_clients_arrays_are_one_array() -> None:
    order = [p.name for p in qasm3.loads(ANGLES).parameters]
    assert order == ["phi", "theta"]  # Qiskit orders parameters by name
    by_name = {"theta": [0.1, 0.2], "phi": [1.0, 2.0]}
    listed = [[1.0, 0.1], [2.0, 0.2]]
    forms_ = [by_name, listed, typed(np.array(listed)),
              typed(BindingsArray({("phi", "theta"): np.array(listed)}))]
    arrays = [array(normalised({"pubs": [[ANGLES, v]]}).canonical["pubs"][0][1])
              for v in forms_]
    for got in arrays:
        np.testing.assert_array_equal(got, np.array(listed))
    one_set = normalised({"pubs": [[ANGLES, {"theta": 0.5, "phi": 1.5}]]})
    assert one_set.pubs[0].shape == () and array(one_set.canonical["pubs"][0][1]).tolist() == [
        1.5, 0.5]


def test_observables_as_strings_dicts_lists_or_the_clients_encodings() -> None:
    isa = "OPENQASM 3.0; include \"stdgates.inc\"; h $0; cx $0, $1;"
    single = [["IIIZZ"], [{"IIIZZ": 1}], [typed(SparsePauliOp("IIIZZ"))],
              [typed(ObservablesArray.coerce("IIIZZ"))]]
    for observable in single:
        submission = normalised({"pubs": [[isa, *observable]]}, "estimator")
        assert submission.canonical["pubs"][0][1] == {"IIIZZ": 1.0}
        assert submission.canonical["pubs"][0][3] is None  # precision: the options' default
    nested = normalised({"pubs": [[isa, [["IIIZZ"], [{"IIIXX": 0.5, "IIIYY": 0.5}]]]]},
                        "estimator")
    assert nested.canonical["pubs"][0][1] == [[{"IIIZZ": 1.0}], [{"IIIXX": 0.5, "IIIYY": 0.5}]]
    assert nested.pubs[0].shape == (2, 1)
    precise = normalised({"pubs": [[isa, "IIIZZ"], [isa, "IIIZZ", None, 0.1]],
                          "precision": 0.05}, "estimator")
    assert [p[3] for p in precise.canonical["pubs"]] == [0.05, 0.1]


def test_the_python_clients_own_body_passes_through_unchanged() -> None:
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    pub = SamplerPub.coerce((qasm3.loads(BELL),))  # shots None: the client's default
    params = typed({"pubs": [pub], "options": {"default_shots": 25}, "version": 2,
                    "support_qiskit": True})
    submission = normalised(params)
    assert submission.params == params and not submission.plain_results
    assert submission.canonical["pubs"][0][2] == 25


# -- refusals, each with what to do --------------------------------------------------------


@pytest.mark.parametrize(("body", "words"), [
    ({"backend": "ibm_manila", "params": {}}, "program_id: name the program to run"),
    ({"program_id": "sampler", "params": {}}, "the job names no backend"),
    (job({}, tags=[f"t{i}" for i in range(9)]), "9 tags; IBM allows at most 8"),
    (job({}, tags=["x" * 87]), "has 87 characters; IBM allows at most 86"),
    (job({}, tags="lab"), "tags must be a list of strings"),
    (job({}, cost=10_801), "cost=10801: the job's cost (its max_execution_time) is a whole"),
    (job({}, cost=-1), "seconds from 0 to 10800"),
    (job({}, cost=1.5), "cost=1.5"),
    (job({}, session_id="s" * 37), "a session id is a string of at most 36 characters"),
    (job({}, log_level="loud"), "log_level='loud' must be one of critical, error"),
    (job({}, private="yes"), "private='yes' must be true or false"),
    (job({}, calibration_id=""), "calibration_id='' must be a string of 1 to 100"),
])
def test_the_bodys_fields_are_checked_against_ibms_limits(body: dict[str, Any],
                                                         words: str) -> None:
    with pytest.raises(IBMInputValueError, match=None) as caught:
        forms.normalise(body, QUBITS)
    assert words in str(caught.value), str(caught.value)


def test_unknown_programs_and_backends_are_ibms_404_and_1007() -> None:
    with pytest.raises(NotFound, match="Program not found: 'qaoa'"):
        forms.normalise({"program_id": "qaoa", "backend": "ibm_manila"}, QUBITS)
    with pytest.raises(UnknownBackend, match="Backend not found: 'ibm_x'; this service has"):
        forms.normalise({"program_id": "sampler", "backend": "ibm_x"}, QUBITS)


@pytest.mark.parametrize(("params", "program", "words"), [
    ("pubs", "sampler", "params: Input should be a valid dictionary"),
    ({"pubs": [BELL], "version": 1}, "sampler", "params.version=1: this service runs version 2"),
    ({"pubs": [BELL], "support_qiskit": "yes"}, "sampler",
     "params.support_qiskit='yes' must be true or false"),
    ({"pubs": BELL}, "sampler", "params.pubs must be a list of pubs, each [circuit]"),
    ({"pubs": [[]]}, "sampler", "sampler pub 0 is not a pub. Fix: write it as [circuit]"),
    ({"pubs": [[BELL, None, 5, 6]]}, "sampler", "sampler pub 0 is not a pub"),
    ({"pubs": [[7]]}, "sampler", "sampler pub 0: the circuit is a int. Fix: send an OpenQASM 3"),
    ({"pubs": ["OPENQASM 3.0; qubit q; h q"]}, "sampler",
     "the circuit is not OpenQASM 3 that Qiskit can read (syntax error at line 1"),
    ({"pubs": ["OPENQASM 3.0; qubit q; foo q;"]}, "sampler", "gate 'foo' is not defined"),
    ({"pubs": [base64.b64encode(b"QISKIT" + bytes(40)).decode()]}, "sampler",
     "sampler pub 0: the QPY data holds 0 programs; a pub takes exactly one circuit"),
    ({"pubs": [{"__type__": "QuantumCircuit", "__value__": "bm90IHFweQ=="}]}, "sampler",
     "sampler pub 0: the circuit cannot be decoded"),
    ({"pubs": [[ANGLES, {"theta": 1, "psi": 2}]]}, "sampler",
     "the circuit has no parameter named 'psi'. Fix: the circuit has 2 parameter(s), in this "
     "order: phi, theta"),
    ({"pubs": [[ANGLES, {"theta": 1}]]}, "sampler", "no value for the parameter(s) phi"),
    ({"pubs": [[ANGLES, [1, 2, 3]]]}, "sampler", "in this order: phi, theta; give one value"),
    ({"pubs": [[ANGLES, ["a", "b"]]]}, "sampler", "the parameter values are not numbers"),
    ({"pubs": [[BELL, None, 0]]}, "sampler", "sampler pub 0 asks for shots=0. Fix: give a "
     "positive integer"),
    ({"pubs": [BELL], "shots": -3}, "sampler",
     "params asks for shots=-3. Fix: give a positive integer (e.g. 1024), or null"),
    ({"pubs": [BELL], "options": {"nope": 1}}, "sampler",
     "params do not fit IBM's sampler schema (ibm-quantum-schemas sampler version_0_1): "
     "params.options.nope: Extra inputs are not permitted"),
    ({"pubs": [BELL], "options": {"shots": 100}}, "sampler",
     "Fix: V2 options call it default_shots"),
    ({"pubs": [BELL], "resilience_level": 1}, "sampler",
     "Fix: the Sampler has no resilience levels"),
    ({"pubs": [BELL], "options": {"default_shots": 0}}, "sampler",
     "params.options.default_shots: Input should be greater than or equal to 1"),
    ({"pubs": [[BELL]]}, "estimator", "estimator pub 0 is not a pub. Fix: write it as "
     "[circuit, observables]"),
    ({"pubs": [[BELL, "ZA"]]}, "estimator",
     "estimator pub 0: the observables cannot be read (labels must only contain"),
    ({"pubs": [["OPENQASM 3.0; qubit[2] q;", "ZZZ"]]}, "estimator",
     "estimator pub 0: The number of qubits of the circuit (2) does not match"),
    ({"pubs": [[BELL, {"IIIZZ": {"__type__": "complex", "__value__": [0, 1]}}]]},
     "estimator", "Non-Hermitian input observable"),
    ({"pubs": [[BELL, "IIIZZ", None, 0]]}, "estimator",
     "estimator pub 0 asks for precision=0. Fix: give a number > 0"),
    ({"pubs": [[BELL, "IIIZZ"]], "precision": -1}, "estimator",
     "params asks for precision=-1. Fix: give a number > 0"),
    # qiskit reads projectors ("0", "1", "+", ...); IBM's schema takes Pauli strings only.
    ({"pubs": [[BELL, "IIIZ0"]]}, "estimator",
     "params.pubs.0.1.IIIZ0.[key]: Value error, Pauli string contains invalid characters"),
    ({"pubs": [[BELL, "IIIZZ"]], "options": {"transpilation": {"optimization_level": 1}}},
     "estimator", "Fix: V2 primitives take ISA circuits and no transpilation options"),
    ({"pubs": [[BELL, "IIIZZ"]], "resilience_level": 3}, "estimator",
     "params.resilience_level: Input should be less than or equal to 2"),
])
def test_each_refusal_says_what_was_wrong_and_how_to_fix_it(params: Any, program: str,
                                                            words: str) -> None:
    message = refusal(params, program)
    assert words in message, message


def test_params_nested_past_the_recursion_limit_are_refused() -> None:
    deep: Any = 1.0
    for _ in range(5000):
        deep = [deep]
    assert "nested too deeply" in refusal({"pubs": [[ANGLES, deep]]})


# -- over HTTP ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rest() -> Iterator[Rest]:
    conn = start(clock="fast", backends=("ibm_brisbane", "ibm_manila"))
    try:
        yield Rest(conn)
    finally:
        conn.close()


SEEDED = {"simulator": {"seed_simulator": 42}}


def _samples(rest: Rest, pubs: list[Any], **params: Any) -> list[Any]:
    body = {"program_id": "sampler", "backend": "ibm_brisbane",
            "params": {"pubs": pubs, "options": SEEDED, **params}}
    return [pub["data"]["meas"]["samples"] for pub in rest.run(body)["results"]]


def test_equivalent_sampler_forms_give_equal_results(rest: Rest) -> None:
    theta, phi = Parameter("theta"), Parameter("phi")
    circuit = QuantumCircuit(2)
    circuit.rx(theta, 0)
    circuit.ry(phi, 1)
    circuit.cx(0, 1)
    circuit.measure_all()
    isa = rest.isa(circuit, "ibm_brisbane")
    qasm = str(qasm3.dumps(isa))
    raw = base64.b64encode(qpy_bytes(isa)).decode()
    values = {"theta": 1.1, "phi": 0.4}
    ordered = [0.4, 1.1]  # phi, theta: Qiskit's order
    reference = _samples(rest, [[qasm, values, 300]])
    assert len(reference[0]) == 300 and len(set(reference[0])) > 1
    equivalent = [
        [[qasm, ordered, 300]],                      # values as a list
        [[raw, values, 300]],                        # plain base64 QPY
        [[typed(isa), typed(np.array(ordered)), 300]],  # the Python client's form
    ]
    for pubs in equivalent:
        assert _samples(rest, pubs) == reference, pubs[0][0][:20]
    assert _samples(rest, [[qasm, values]], shots=300) == reference  # short pub + shots
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    bell_qasm = rest.isa_qasm(bell, "ibm_brisbane")
    full = _samples(rest, [[bell_qasm, None, 4096]])
    assert _samples(rest, [bell_qasm]) == full == _samples(rest, [[bell_qasm]])  # bare, short


def test_equivalent_estimator_forms_give_equal_results(rest: Rest) -> None:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.ry(Parameter("a"), 1)
    circuit.cx(0, 1)
    isa = rest.isa(circuit, "ibm_manila")
    qasm = str(qasm3.dumps(isa))
    zz = SparsePauliOp("ZZ").apply_layout(isa.layout)
    label = zz.paulis[0].to_label()

    def evs(pub: list[Any]) -> Any:
        body = {"program_id": "estimator", "backend": "ibm_manila",
                "params": {"pubs": [pub], "options": SEEDED}}
        return rest.run(body)["results"][0]["data"]["evs"]

    reference = evs([qasm, label, {"a": 0.7}])
    assert isinstance(reference, float)
    for pub in ([qasm, {label: 1.0}, [0.7]], [qasm, typed(zz), {"a": 0.7}],
                [typed(isa), typed(ObservablesArray.coerce(zz)), typed(np.array([0.7]))]):
        assert evs(pub) == reference
    both = evs([qasm, [label, {label: 1.0}], {"a": 0.7}])
    assert len(both) == 2 and both[0] == reference


def test_results_are_204_until_final_plain_or_typed_as_asked_and_private_ones_read_once(
) -> None:
    conn = start(clock="virtual", backends=("ibm_manila",))
    try:
        rest = Rest(conn)
        url = f"{rest.base}/api/v1/jobs"
        import requests

        bell = QuantumCircuit(2)
        bell.h(0)
        bell.cx(0, 1)
        bell.measure_all()
        isa = rest.isa_qasm(bell, "ibm_manila")
        plain = rest.submit({"program_id": "sampler", "backend": "ibm_manila",
                             "params": {"pubs": [[isa, None, 10]]}})
        encoded = rest.submit({"program_id": "sampler", "backend": "ibm_manila",
                               "params": {"pubs": [[isa, None, 10]], "support_qiskit": True}})
        # IBM's reference, "List job results": 204, "Job's final result not found".
        early = requests.get(f"{url}/{plain}/results", headers=rest.headers(), timeout=60)
        assert early.status_code == 204 and early.content == b""
        conn.server.run_until_idle()
        assert rest.results(plain)["results"][0]["data"]["meas"]["num_bits"] == 2
        from qiskit_ibm_runtime import RuntimeDecoder

        text = requests.get(f"{url}/{encoded}/results", headers=rest.headers(), timeout=60).text
        result = json.loads(text, cls=RuntimeDecoder)
        assert set(result[0].data.meas.get_counts()) <= {"00", "11"}
        # Written with IBM's result model: it validates, data bins carry their field types.
        from ibm_quantum_schemas.sampler.version_0_1.primitive_result import (
            PrimitiveResultWrapperModel,
        )

        model = PrimitiveResultWrapperModel.model_validate_json(text)
        assert model.value_.pub_results[0].value_.data.value_.field_types == ["BitArray"]
        # A private job's results are read once (IBM's reference: then deleted).
        private = rest.submit({"program_id": "sampler", "backend": "ibm_manila",
                               "private": True, "params": {"pubs": [[isa, None, 10]]}})
        conn.server.run_until_idle()
        assert rest.results(private)["results"][0]["data"]["meas"]["num_bits"] == 2
        again = requests.get(f"{url}/{private}/results", headers=rest.headers(), timeout=60)
        assert again.status_code == 204 and again.content == b""
        assert requests.get(f"{url}/{plain}/results", headers=rest.headers(),
                            timeout=60).status_code == 200  # others: as often as asked
    finally:
        conn.close()


CURL = shutil.which("curl")


@pytest.mark.skipif(CURL is None, reason="the curl binary is not installed")
def test_openqasm3_sampler_and_estimator_jobs_end_to_end_with_curl(rest: Rest) -> None:
    """IBM's set-up guide's curl token request, then an OpenQASM 3 Sampler and Estimator
    job over plain JSON, every request made by the curl binary."""

    def curl(*args: str) -> Any:
        done = subprocess.run([str(CURL), "-sS", "--fail-with-body", *args],
                              capture_output=True, text=True, timeout=120, check=True)
        return json.loads(done.stdout) if done.stdout.strip() else None

    token = curl("-X", "POST", rest.iam,
                 "-H", "Content-Type: application/x-www-form-urlencoded",
                 "-d", f"grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey="
                 f"{rest.api_key}")
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    headers = ["-H", f"Authorization: Bearer {token['access_token']}",
               "-H", f"Service-CRN: {rest.crn}", "-H", "Content-Type: application/json",
               "-H", "Accept: application/json"]
    jobs = f"{rest.base}/api/v1/jobs"
    bell = QuantumCircuit(2, 2)
    bell.h(0)
    bell.cx(0, 1)
    isa = rest.isa(bell, "ibm_manila")
    zz, xx, zi = (SparsePauliOp(p).apply_layout(isa.layout).paulis[0].to_label()
                  for p in ("ZZ", "XX", "ZI"))
    measured = isa.copy()
    measured.measure(isa.layout.final_index_layout()[:2], [0, 1])
    sampler = {"program_id": "sampler", "backend": "ibm_manila",
               "params": {"pubs": [[str(qasm3.dumps(measured)), None, 200]]}}
    estimator = {"program_id": "estimator", "backend": "ibm_manila",
                 "params": {"pubs": [[str(qasm3.dumps(isa)), [zz, xx, zi]]]}}
    ids = [curl("-X", "POST", jobs, *headers, "-d", json.dumps(body))["id"]
           for body in (sampler, estimator)]
    for job_id in ids:
        for _ in range(50):
            if curl(f"{jobs}/{job_id}", *headers)["state"]["status"] == "Completed":
                break
        else:
            pytest.fail(f"job {job_id} did not complete")
    sampled = curl(f"{jobs}/{ids[0]}/results", *headers)["results"][0]["data"]["c"]
    assert sampled["num_bits"] == 2 and len(sampled["samples"]) == 200
    assert set(sampled["samples"]) <= {"0x0", "0x3"} and len(set(sampled["samples"])) == 2
    estimated = curl(f"{jobs}/{ids[1]}/results", *headers)["results"][0]
    evs, stds = estimated["data"]["evs"], estimated["data"]["stds"]
    # A Bell pair: <ZZ> = <XX> = 1, <ZI> = 0, within the shot noise it reports.
    for value, exact, std in zip(evs, [1.0, 1.0, 0.0], stds, strict=True):
        assert abs(value - exact) <= 5 * std + 1e-9
    assert estimated["data"]["ensemble_standard_error"] == stds
    assert estimated["metadata"]["target_precision"] == 0.015625
