"""The emulated QPU and its timing model: real Aer runs, exact durations, actionable errors."""

from __future__ import annotations

import functools
import gc
import math
import sys
from typing import Any

import numpy as np
import pytest
from helpers.circuits import bell, logical_bell
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import transpile
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.primitives.containers import EstimatorPub, SamplerPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import Target, generate_preset_pass_manager

from qsession.runtime import IBMBackendValueError, IBMInputValueError
from qsession.runtime.engine.pubs import shots_for_precision
from qsession.runtime.engine.qpu import QPU, PreparedJob
from qsession.runtime.engine.timing import TimingModel


@pytest.fixture(scope="module")
def qpu() -> QPU:
    return QPU.ideal(num_qubits=4, seed=3)


def isa_circuit() -> QuantumCircuit:
    """A circuit written in the ideal QPU's native gates (rz, sx, cx, measure)."""
    qc = QuantumCircuit(2, 2)
    qc.rz(0.3, 0)
    qc.sx(0)
    qc.cx(0, 1)
    qc.sx(1)
    qc.measure([0, 1], [0, 1])
    return qc


def counts(result: Any, index: int = 0) -> dict[str, int]:
    return dict(result[index].data.meas.get_counts())


# -- results -------------------------------------------------------------------------


def test_bell_sampler_gives_only_correlated_outcomes_reproducibly(qpu: QPU) -> None:
    prepared = qpu.prepare_sampler([bell()], 1000)
    first = counts(qpu.execute(prepared, 17))
    assert set(first) <= {"00", "11"} and sum(first.values()) == 1000
    assert counts(qpu.execute(prepared, 17)) == first
    assert counts(qpu.execute(prepared, 18)) != first


def test_estimator_zz_on_bell_is_one_and_reproducible(qpu: QPU) -> None:
    prepared = qpu.prepare_estimator([(bell(False), ["ZZ", "ZI"])], 0.01)
    evs = qpu.execute(prepared, 5)[0].data.evs
    assert evs[0] == pytest.approx(1.0, abs=0.05)
    assert evs[1] == pytest.approx(0.0, abs=0.05)
    assert np.array_equal(qpu.execute(prepared, 5)[0].data.evs, evs)


def test_parameter_sets_broadcast_in_one_pub(qpu: QPU) -> None:
    theta = Parameter("theta")
    qc = QuantumCircuit(1)
    qc.ry(theta, 0)
    angles = np.linspace(0, np.pi, 5).reshape(5, 1)
    prepared = qpu.prepare_estimator([(qc, "Z", angles)], 0.001)
    evs = qpu.execute(prepared, 1)[0].data.evs
    assert evs.shape == (5,)
    assert np.allclose(evs, np.cos(angles[:, 0]), atol=0.01)
    assert prepared.num_circuits == 5

    measured = qc.copy()
    measured.measure_all()
    sampled = qpu.prepare_sampler([(measured, np.zeros((2, 3, 1)), 64)], 1000)
    result = qpu.execute(sampled, 1)
    assert result[0].data.meas.shape == (2, 3)
    assert (sampled.num_circuits, sampled.shots) == (6, 6 * 64)


def test_prepared_job_records_logical_and_isa_pubs(qpu: QPU) -> None:
    prepared = qpu.prepare_sampler([logical_bell(), (logical_bell(), None, 10)], 100)
    assert isinstance(prepared, PreparedJob) and prepared.kind == "sampler"
    assert [p.shots for p in prepared.pubs] == [100, 10]
    assert prepared.shots == 110 and prepared.num_circuits == 2 and prepared.num_qubits == 2
    isa = prepared.isa_pubs[0].circuit
    assert isa.num_qubits == 4 and set(isa.count_ops()) <= set(qpu.target.operation_names) | {
        "barrier"}
    # An ideal QPU runs the logical pubs.
    assert prepared.run_pubs == prepared.pubs


def test_ideal_qpu_runs_isa_pubs_for_instructions_aer_lacks(qpu: QPU) -> None:
    inner = QuantumCircuit(2, name="entangle")
    inner.h(0)
    inner.cx(0, 1)
    qc = QuantumCircuit(2)
    qc.append(inner.to_gate(), [0, 1])
    qc.measure_all()
    prepared = qpu.prepare_sampler([qc], 200)
    assert prepared.run_pubs[0] is prepared.isa_pubs[0]
    assert set(counts(qpu.execute(prepared, 2))) <= {"00", "11"}


def test_aer_errors_propagate_from_execute(qpu: QPU) -> None:
    inner = QuantumCircuit(1, name="opaque_thing")
    inner.x(0)
    qc = QuantumCircuit(1)
    qc.append(inner.to_gate(), [0])
    qc.measure_all()
    pub = SamplerPub.coerce(qc, 10)
    job = PreparedJob("sampler", (pub,), (pub,), (pub,), 1, 10, 1, 1)
    with pytest.raises(Exception, match="opaque_thing"):
        qpu.execute(job, 1)


def test_run_is_not_supported(qpu: QPU) -> None:
    with pytest.raises(NotImplementedError, match="SamplerV2"):
        qpu.run(bell())


# -- Qiskit backend plumbing ---------------------------------------------------------


def test_transpile_and_preset_pass_manager_accept_the_qpu(qpu: QPU) -> None:
    assert qpu.max_circuits is None and qpu.num_qubits == 4
    strict = QPU("strict", qpu.target, strict_isa=True)
    for isa in (transpile(bell(), qpu),
                generate_preset_pass_manager(optimization_level=1, backend=qpu).run(bell())):
        prepared = strict.prepare_sampler([isa], 100)
        assert set(counts(strict.execute(prepared, 3))) <= {"00", "11"}


def test_strict_isa_rejects_logical_circuits(qpu: QPU) -> None:
    strict = QPU("strict", qpu.target, strict_isa=True)
    # IBM's message (qiskit_ibm_runtime/utils/validations.py, validate_isa_circuits)
    with pytest.raises(IBMInputValueError, match=r"sampler pub 0: The instruction h on qubits "
                       r"\(0,\) is not supported by the target system\. Circuits that do not "
                       r"match the target hardware definition.*generate_preset_pass_manager"
                       ) as info:
        strict.prepare_sampler([logical_bell()], 10)
    assert "apply_layout" in str(info.value)
    strict.prepare_sampler([isa_circuit()], 10)  # native gates pass unchanged


def test_strict_isa_applies_to_circuits_cached_before_it_was_set() -> None:
    qpu = QPU.ideal(num_qubits=2)
    circuit = logical_bell()
    qpu.prepare_sampler([circuit], 10)
    qpu.strict_isa = True
    with pytest.raises(IBMInputValueError, match="is not supported by the target system"):
        qpu.prepare_sampler([circuit], 10)
    other = logical_bell()
    with pytest.raises(IBMInputValueError, match="is not supported by the target system"):
        qpu.prepare_sampler([other], 10)
    qpu.strict_isa = False  # now the refused circuit is transpiled after all
    assert qpu.prepare_sampler([other], 10).isa_pubs[0].circuit is not other


def test_constructor_validation(qpu: QPU) -> None:
    with pytest.raises(IBMInputValueError, match="Target"):
        QPU("x", "not a target")  # type: ignore[arg-type]
    with pytest.raises(IBMInputValueError, match="name"):
        QPU("", qpu.target)
    with pytest.raises(IBMInputValueError, match="num_qubits >= 2"):
        QPU.ideal(num_qubits=1)
    assert repr(QPU.ideal()) == "<QPU 'qsession_ideal' ideal 16 qubits>"


# -- timing --------------------------------------------------------------------------


def test_sampler_duration_is_the_timing_formula(qpu: QPU) -> None:
    timing = qpu.timing
    circuit = isa_circuit()
    seconds = timing.circuit_seconds(circuit, qpu.target)
    target = qpu.target
    by_hand = (target["rz"][(0,)].duration + target["sx"][(0,)].duration
               + target["cx"][(0, 1)].duration + target["sx"][(1,)].duration
               + max(target["measure"][(1,)].duration,
                     target["measure"][(0,)].duration - target["sx"][(1,)].duration))
    assert seconds == pytest.approx(by_hand, rel=1e-12)
    for shots in (1000, 3000):
        prepared = qpu.prepare_sampler([circuit], shots)
        expected = round((2.0 + shots * (250e-6 + seconds)) * 1e6)
        assert prepared.duration_us == expected
    # Two pubs are two sub-jobs: 2 s of overhead each.
    assert qpu.prepare_sampler([circuit, circuit], 1000).duration_us == round(
        2 * (2.0 + 1000 * (250e-6 + seconds)) * 1e6)
    # Parameter sets multiply executions, not sub-jobs.
    theta = Parameter("t")
    rotated = QuantumCircuit(1, 1)
    rotated.rz(theta, 0)
    rotated.measure(0, 0)
    one = timing.circuit_seconds(rotated, target)
    assert qpu.prepare_sampler([(rotated, [[0.1], [0.2], [0.3]])], 100).duration_us == round(
        (2.0 + 300 * (250e-6 + one)) * 1e6)


def test_timing_model_against_ibms_quick_formula(qpu: QPU) -> None:
    # IBM's guide "workload usage" (estimate job run time): "approximately 2 s per
    # sub-job" and, as a quick estimate, 2 + 0.00035 × executions seconds — 350 µs an
    # execution: the 250 µs default rep_delay plus ~100 µs of circuit. A one-pub job of a
    # 100 µs circuit is exactly the quick form.
    timing = TimingModel()
    for executions in (1, 1000, 10_000, 100_000):
        quick = 2 + 0.00035 * executions
        assert timing.job_microseconds([(100e-6, executions)]) == round(quick * 1e6)
    # Worked example of docs/timing.md: 4 pubs × 4,096 shots of a 2.5 µs circuit.
    assert timing.job_microseconds([(2.5e-6, 4096)] * 4, sub_jobs=4) == 8_000_000 + round(
        4 * 4096 * 252.5)
    # A short Bell job on the ideal QPU: the overhead dominates, as on IBM's QPUs.
    bell_job = qpu.prepare_sampler([isa_circuit()], 1000)
    assert 2.2e6 < bell_job.duration_us < 2.3e6


@pytest.mark.parametrize(("observables", "bases"), [
    (["ZZ"], 1),
    (["ZZ", "ZI", "IZ"], 1),
    (["ZZ", "XX"], 2),
    (SparsePauliOp(["XX", "YY", "ZZ", "XI"]), 3),
])
def test_estimator_duration_counts_measurement_bases(qpu: QPU, observables: Any,
                                                     bases: int) -> None:
    circuit = isa_circuit().remove_final_measurements(inplace=False)
    prepared = qpu.prepare_estimator([(circuit, observables, None, 0.02)], 0.1)
    timing, target = qpu.timing, qpu.target
    seconds = timing.circuit_seconds(circuit, target) + timing.readout_seconds(target, [0, 1])
    shots = shots_for_precision(0.02)
    assert shots == 2500
    assert prepared.num_circuits == bases and prepared.shots == bases * shots
    # One pub is one sub-job whatever its measurement bases.
    assert prepared.duration_us == round((2.0 + bases * shots * (250e-6 + seconds)) * 1e6)


def test_shots_for_precision() -> None:
    assert [shots_for_precision(p) for p in (0.015625, 0.1, 0.01, 0.3)] == [4096, 100, 10000,
                                                                          12]


def test_job_microseconds_formula_and_validation() -> None:
    timing = TimingModel(sub_job_overhead_s=0.5, rep_delay_s=1e-3, init_s=1e-6)
    expected = 2 * 500_000 + 100 * (1000 + 1 + 1) + 10 * (1000 + 2 + 1)
    assert timing.job_microseconds([(1e-6, 100), (2e-6, 10)], sub_jobs=2) == expected
    assert TimingModel(sub_job_overhead_s=0, rep_delay_s=0).job_microseconds([(0.0, 5)]) == 1
    with pytest.raises(ValueError, match="sub_jobs"):
        timing.job_microseconds([(1e-6, 1)], sub_jobs=0)
    for bad, fragment in [([], "at least one"), ([(-1.0, 5)], "duration"),
                          ([(1e-6, -1)], "shots"), ([(math.nan, 1)], "finite"),
                          ([(1e-6, 1.5)], "integer")]:
        with pytest.raises(ValueError, match=fragment):
            timing.job_microseconds(bad)
    with pytest.raises(ValueError, match="rep_delay_s"):
        TimingModel(rep_delay_s=-1.0)


def test_circuit_seconds_falls_back_to_defaults_without_durations() -> None:
    target = Target.from_configuration(["sx", "rz", "cx", "measure", "reset"], num_qubits=2)
    timing = TimingModel()
    qc = QuantumCircuit(2, 2)
    qc.sx(0)
    qc.rz(0.1, 1)
    qc.cx(0, 1)
    qc.reset(0)
    qc.delay(200, 1, unit="ns")
    qc.barrier()
    qc.measure([0, 1], [0, 1])
    # sx (50 ns) | rz (50 ns), cx (500 ns), reset 1 µs | delay 200 ns, barrier, measure 1.5 µs
    assert timing.circuit_seconds(qc, target) == pytest.approx(50e-9 + 500e-9 + 1e-6 + 1.5e-6)
    assert timing.circuit_seconds(qc, None) == pytest.approx(50e-9 + 500e-9 + 1e-6 + 1.5e-6)
    assert timing.readout_seconds(target, [0, 1]) == 1.5e-6


def test_circuit_seconds_of_control_flow_and_ns_delays(qpu: QPU) -> None:
    timing, target = qpu.timing, qpu.target
    sx = target["sx"][(0,)].duration
    qc = QuantumCircuit(1, 1)
    with qc.for_loop(range(3)):
        qc.sx(0)
    qc.delay(100, 0, unit="ns")
    # Qiskit's estimator refuses both; the fallback walks them.
    assert timing.circuit_seconds(qc, target) == pytest.approx(3 * sx + 100e-9)


@functools.cache
def _generic_target() -> Target:
    return QPU.ideal(num_qubits=4, seed=3).target


_GATES = st.sampled_from(["sx", "x", "rz", "cx", "measure", "barrier", "delay"])


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(_GATES, st.integers(0, 3), st.integers(0, 3)), max_size=25))
def test_fallback_walk_agrees_with_qiskit_estimate(ops: list[tuple[str, int, int]]) -> None:
    target = _generic_target()
    qc = QuantumCircuit(4, 4)
    for name, a, b in ops:
        if name == "cx":
            if a != b:
                qc.cx(a, b)
        elif name == "rz":
            qc.rz(0.5, a)
        elif name == "measure":
            qc.measure(a, b)
        elif name == "barrier":
            qc.barrier(a, b)
        elif name == "delay":
            qc.delay(7 * (b + 1), a)  # dt, which Qiskit's estimate accepts
        else:
            getattr(qc, name)(a)
    timing = TimingModel()
    walked = timing._critical_path(qc, target, {q: i for i, q in enumerate(qc.qubits)})
    assert walked == pytest.approx(timing.circuit_seconds(qc, target), rel=1e-9, abs=1e-15)


# -- the transpilation cache ---------------------------------------------------------


def test_transpile_cache_hits_per_object_and_sees_mutation() -> None:
    qpu = QPU.ideal(num_qubits=3)
    circuit = logical_bell()
    first = qpu.prepare_sampler([circuit], 10).isa_pubs[0].circuit
    assert qpu.transpile_cache_info()[:2] == (0, 1)
    assert qpu.prepare_sampler([circuit], 20).isa_pubs[0].circuit is first
    assert qpu.transpile_cache_info()[:2] == (1, 1)

    circuit.x(0)  # mutate in place: the fingerprint changes
    mutated = qpu.prepare_sampler([circuit], 10).isa_pubs[0].circuit
    assert mutated is not first and mutated.size() > first.size()
    assert qpu.transpile_cache_info()[:2] == (1, 2)

    qpu.prepare_sampler([bell()], 10)  # an equal but distinct object is a miss
    assert qpu.transpile_cache_info().misses == 3

    size = qpu.transpile_cache_info().size
    del circuit
    gc.collect()
    assert qpu.transpile_cache_info().size < size


def test_estimator_observables_follow_the_layout() -> None:
    # On a line, a GHZ star needs its centre placed on a middle qubit: a real layout.
    line = GenericBackendV2(5, coupling_map=[[0, 1], [1, 2], [2, 3], [3, 4]], seed=1)
    qpu = QPU("line", line.target)
    qc = QuantumCircuit(3)
    qc.h(2)
    qc.cx(2, 0)
    qc.cx(2, 1)
    prepared = qpu.prepare_estimator([(qc, ["IZZ", "ZIZ", "XXX", "IIZ"])], 0.01)
    isa = prepared.isa_pubs[0]
    assert isa.observables.num_qubits == 5 == isa.circuit.num_qubits
    assert isa.circuit.layout.final_index_layout() != [0, 1, 2]
    job = PreparedJob("estimator", prepared.pubs, prepared.isa_pubs, prepared.isa_pubs, 1, 1,
                      1, 3)
    assert np.allclose(qpu.execute(job, 4)[0].data.evs, [1, 1, 1, 0], atol=0.05)


# -- bad input -----------------------------------------------------------------------


def _params_circuit(measure: bool) -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.rx(Parameter("a"), 0)
    qc.ry(Parameter("b"), 1)
    if measure:
        qc.measure_all()
    return qc


def _unmeasured_with_bits() -> QuantumCircuit:
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    return qc


SAMPLER_ERRORS = [
    ("wrong parameter count", [(_params_circuit(True), [0.1])],
     ["sampler pub 0", "2 parameter(s) (a, b)", "last axis has length 2"]),
    ("values for a parameterless circuit", [(bell(), [0.1])],
     ["sampler pub 0", "no parameters"]),
    ("not a circuit", ["circuit"], ["sampler pub 0", "str", "a sampler pub is"]),
    ("tuple of non-circuit", [("x", None)], ["sampler pub 0", "not a QuantumCircuit"]),
    ("too wide", [QuantumCircuit(5, 5)], ["sampler pub 0", "5 qubits", "has 4"]),
    ("zero shots in pub", [(bell(), None, 0)], ["sampler pub 0", "shots=0", "positive"]),
    ("no measurements", [_unmeasured_with_bits()], ["sampler pub 0", "no measurements"]),
    ("second pub bad", [bell(), (bell(), None, -3)], ["sampler pub 1", "shots=-3"]),
    ("single circuit", bell(), ["list of pubs", "sampler.run([circuit])"]),
    ("no pubs", [], ["no sampler pubs"]),
]


@pytest.mark.parametrize(("pubs", "fragments"), [c[1:] for c in SAMPLER_ERRORS],
                         ids=[c[0] for c in SAMPLER_ERRORS])
def test_bad_sampler_input_names_the_pub_and_the_fix(qpu: QPU, pubs: Any,
                                                     fragments: list[str]) -> None:
    with pytest.raises(IBMInputValueError) as info:
        qpu.prepare_sampler(pubs, 100)
    for fragment in fragments:
        assert fragment in str(info.value)


ESTIMATOR_ERRORS = [
    ("wrong parameter count", [(_params_circuit(False), "ZZ", [1, 2, 3])],
     ["estimator pub 0", "2 parameter(s) (a, b)", "last axis has length 2"]),
    ("observable too wide", [(bell(False), "ZZZ")],
     ["estimator pub 0", "act on 3 qubits", "apply_layout"]),
    ("bad observable", [(bell(False), "AB")], ["estimator pub 0", "not valid"]),
    ("bare circuit", [bell(False)], ["estimator pub 0", "bare circuit", "wrap it in a list"]),
    ("not a circuit", [(42, "Z")], ["estimator pub 0", "int", "not a QuantumCircuit"]),
    ("zero precision in pub", [(bell(False), "ZZ", None, 0.0)],
     ["estimator pub 0", "precision=0.0", "> 0"]),
    ("too wide", [(QuantumCircuit(6), "Z" * 6)], ["estimator pub 0", "6 qubits"]),
    ("wrong length", [(bell(False),)], ["estimator pub 0", "1 elements"]),
]


@pytest.mark.parametrize(("pubs", "fragments"), [c[1:] for c in ESTIMATOR_ERRORS],
                         ids=[c[0] for c in ESTIMATOR_ERRORS])
def test_bad_estimator_input_names_the_pub_and_the_fix(qpu: QPU, pubs: Any,
                                                       fragments: list[str]) -> None:
    with pytest.raises(IBMInputValueError) as info:
        qpu.prepare_estimator(pubs, 0.1)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize("shots", [0, -5, 1.5, True])
def test_bad_shots(qpu: QPU, shots: Any) -> None:
    with pytest.raises(IBMInputValueError, match="positive integer"):
        qpu.prepare_sampler([bell()], shots)


@pytest.mark.parametrize("precision", [0.0, -0.1, math.inf, "0.1"])
def test_bad_precision(qpu: QPU, precision: Any) -> None:
    with pytest.raises(IBMInputValueError, match="> 0"):
        qpu.prepare_estimator([(bell(False), "ZZ")], precision)


def test_an_estimator_pub_object_with_a_nan_precision_gets_the_tuple_message(qpu: QPU) -> None:
    # An EstimatorPub given as such skips the tuple's shape check; qiskit's own validation
    # lets NaN through, so the QPU checks the coerced precision with the same rule and words.
    pub = EstimatorPub(bell(False), ObservablesArray.coerce("ZZ"), precision=0.1,
                       validate=False)
    object.__setattr__(pub, "_precision", math.nan)
    with pytest.raises(IBMInputValueError) as as_object:
        qpu.prepare_estimator([pub], 0.1)
    with pytest.raises(IBMInputValueError) as as_tuple:
        qpu.prepare_estimator([(bell(False), "ZZ", None, math.nan)], 0.1)
    assert str(as_object.value) == str(as_tuple.value)
    assert str(as_object.value).startswith("estimator pub 0 asks for precision=nan. Fix: ")


def test_untranspilable_circuit_is_an_input_error() -> None:
    qpu = QPU.ideal(num_qubits=2)
    qc = QuantumCircuit(2)
    qc.append(bell(False).to_instruction(), [0, 1])  # fine: it has a definition
    qpu.prepare_estimator([(qc, "ZZ")], 0.1)
    opaque = QuantumCircuit(1)
    from qiskit.circuit import Gate

    opaque.append(Gate("mystery", 1, []), [0])
    opaque.measure_all()
    with pytest.raises(IBMInputValueError, match=r"sampler pub 0: the circuit cannot be "
                       r"transpiled for qsession_ideal.*Fix"):
        qpu.prepare_sampler([opaque], 10)


# -- fake backends -------------------------------------------------------------------


def test_fake_backend_qpu_is_noisy() -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    qpu = QPU.from_fake_backend("fake_manila")
    assert qpu.name == "fake_manila" and qpu.num_qubits == 5 and qpu.noise_model is not None
    prepared = qpu.prepare_sampler([bell()], 4000)
    assert prepared.run_pubs == prepared.isa_pubs
    result = counts(qpu.execute(prepared, 9))
    assert result.get("01", 0) + result.get("10", 0) > 0
    assert counts(qpu.execute(prepared, 9)) == result
    assert QPU.from_fake_backend("FakeManilaV2").name == "fake_manila"


def test_unknown_fake_backend_suggests_names() -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    with pytest.raises(IBMBackendValueError, match="did you mean 'fake_manila'"):
        QPU.from_fake_backend("fake_manilla")


def test_fake_backend_without_the_extra_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "qiskit_ibm_runtime", None)
    with pytest.raises(ImportError, match=r"pip install 'qsession\[ibm\]'"):
        QPU.from_fake_backend("fake_manila")
