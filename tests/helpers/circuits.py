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
