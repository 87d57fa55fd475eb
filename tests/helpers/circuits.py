"""Small circuits the tests share."""

from __future__ import annotations

from math import pi

from qiskit.circuit import Parameter, QuantumCircuit


def bell(measure: bool = True) -> QuantumCircuit:
    """A Bell pair in native gates (ISA on every ideal QPU), measured unless ``measure`` is False.

    H is written rz(π/2)·sx·rz(π/2), as the preset pass manager writes it: the service
    refuses non-ISA circuits, as IBM's does.
    """
    qc = QuantumCircuit(2)
    qc.rz(pi / 2, 0)
    qc.sx(0)
    qc.rz(pi / 2, 0)
    qc.cx(0, 1)
    if measure:
        qc.measure_all()
    return qc


def logical_bell(measure: bool = True) -> QuantumCircuit:
    """A Bell pair written with ``h``: not ISA for any QPU (for transpilation tests)."""
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    if measure:
        qc.measure_all()
    return qc


def rotation() -> QuantumCircuit:
    """One qubit rotated by ry(t) (in native gates: sx·rz(t + π)·sx·rz(3π)), then measured."""
    qc = QuantumCircuit(1)
    t = Parameter("t")
    qc.sx(0)
    qc.rz(t + pi, 0)
    qc.sx(0)
    qc.rz(3 * pi, 0)
    qc.measure_all()
    return qc


def isa(circuit: QuantumCircuit, backend: object) -> QuantumCircuit:
    """``circuit`` transpiled for ``backend`` as IBM's guides do (preset pass manager, level 1)."""
    from qiskit.transpiler import generate_preset_pass_manager

    pm = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0)
    return pm.run(circuit)
