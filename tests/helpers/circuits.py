"""Small circuits the tests share."""

from __future__ import annotations

from qiskit.circuit import Parameter, QuantumCircuit


def bell(measure: bool = True) -> QuantumCircuit:
    """A Bell pair, measured unless ``measure`` is False (for the estimator)."""
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    if measure:
        qc.measure_all()
    return qc


def rotation() -> QuantumCircuit:
    """One qubit rotated by a free parameter, then measured."""
    qc = QuantumCircuit(1)
    qc.ry(Parameter("t"), 0)
    qc.measure_all()
    return qc


def isa(circuit: QuantumCircuit, backend: object) -> QuantumCircuit:
    """``circuit`` transpiled for ``backend`` as IBM's guides do (preset pass manager, level 1)."""
    from qiskit.transpiler import generate_preset_pass_manager

    pm = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0)
    return pm.run(circuit)
