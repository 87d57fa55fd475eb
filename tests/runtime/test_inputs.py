"""Inputs checked as IBM's client checks them: ISA refusal, the sampler's
no-classical-bits warning, and Estimator circuits with final measurements."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers.circuits import bell, isa, logical_bell
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qsession.runtime import EstimatorV2, IBMInputValueError, LocalService, SamplerV2

# IBM's text, from qiskit_ibm_runtime/utils/validations.py (validate_isa_circuits) 0.51.
IBM_ISA = ("The instruction h on qubits (0,) is not supported by the target system. "
           "Circuits that do not match the target hardware definition are no longer "
           "supported after March 4, 2024.")


def test_non_isa_circuits_are_refused_at_submission() -> None:
    service = LocalService(seed=1)
    qpu = service.backend()
    with pytest.raises(IBMInputValueError) as refused:
        SamplerV2(mode=qpu).run([logical_bell()])
    assert IBM_ISA in str(refused.value) and "sampler pub 0" in str(refused.value)
    assert "generate_preset_pass_manager" in str(refused.value)  # and how to fix it
    with pytest.raises(IBMInputValueError, match="is not supported by the target system"):
        EstimatorV2(mode=qpu).run([(logical_bell(False), "ZZ")])
    assert service.all_jobs() == []  # nothing was submitted
    # Transpiled as IBM's guides do, the same circuit runs.
    counts = SamplerV2(mode=qpu).run([isa(logical_bell(), qpu)], shots=100).result()[0]
    assert set(counts.data.meas.get_counts()) <= {"00", "11"}


def test_strict_isa_false_keeps_the_auto_transpile() -> None:
    service = LocalService(seed=1, strict_isa=False)
    job = SamplerV2(mode=service.backend()).run([logical_bell()], shots=100)
    assert set(job.result()[0].data.meas.get_counts()) <= {"00", "11"}


def test_a_fake_backend_refuses_gates_off_its_coupling_map() -> None:
    service = LocalService(seed=1, backends=["fake_manila"])
    qpu = service.backend()
    qc = QuantumCircuit(5)
    qc.cx(0, 4)  # native gate, but fake_manila is a line: 0 and 4 are not coupled
    qc.measure_all()
    with pytest.raises(IBMInputValueError,
                       match=r"The instruction cx on qubits \(0, 4\) is not supported"):
        SamplerV2(mode=qpu).run([qc])


def test_a_sampler_circuit_without_classical_bits_warns_as_ibm_does() -> None:
    service = LocalService(seed=1)
    with pytest.warns(UserWarning, match=r"The 0-th circuit has no output classical registers "
                      r"so the result will be empty\. Did you mean to add measurement "
                      r"instructions\?"):
        job = SamplerV2(mode=service.backend()).run([bell(False)], shots=10)
    result = job.result()
    assert job.status() == "DONE" and len(result[0].data) == 0  # empty, as IBM's


def test_estimator_final_measurements_are_removed_and_change_nothing() -> None:
    service = LocalService(seed=1)
    qpu = service.backend()
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XX"), SparsePauliOp("ZI")]
    bare, measured = bell(False), bell(True)
    seed = {"simulator": {"seed_simulator": 5}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either way
        a = EstimatorV2(mode=qpu, options=seed).run([(bare, observables)]).result()[0]
        b = EstimatorV2(mode=qpu, options=seed).run([(measured, observables)]).result()[0]
    assert np.array_equal(a.data.evs, b.data.evs)
    assert np.array_equal(a.data.stds, b.data.stds)
    assert a.data.evs == pytest.approx([1.0, 1.0, 0.0], abs=0.05)
    # What Aer runs has no measurement left (the cause of the ~100x slowdown).
    prepared = qpu.prepare_estimator([(measured, observables)], 0.015625)
    assert "measure" not in prepared.run_pubs[0].circuit.count_ops()
    assert "measure" in prepared.pubs[0].circuit.count_ops()  # the user's pub is untouched


def test_dry_run_is_accepted_and_runs_as_a_normal_job() -> None:
    # qiskit-ibm-runtime 0.51: run(pubs, *, shots/precision, dry_run=False)
    service = LocalService(seed=1)
    qpu = service.backend()
    assert SamplerV2(mode=qpu).run([bell()], shots=10, dry_run=False).result()
    with pytest.warns(UserWarning, match="dry_run=True is accepted, not emulated"):
        job = EstimatorV2(mode=qpu).run([(bell(False), "ZZ")], dry_run=True)
    assert float(job.result()[0].data.evs) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(IBMInputValueError, match="dry_run must be True or False"):
        SamplerV2(mode=qpu).run([bell()], dry_run="yes")  # type: ignore[arg-type]


def test_every_account_argument_of_ibms_constructor_is_accepted() -> None:
    from qsession.runtime import QiskitRuntimeService

    service = QiskitRuntimeService(
        channel="ibm_cloud", token="x", url="https://example.invalid", filename=None,
        name=None, instance="crn:v1:x", proxies={}, verify=True, private_endpoint=False,
        url_resolver=None, region="us-east", plans_preference=["open"], tags=["t"], seed=3)
    assert service.channel == "ibm_cloud" and service.seed == 3
    assert service.active_account()["instance"] == "crn:v1:x"
