"""Helpers for the server tests: a server with the tests' defaults, ISA circuits, exact times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qsession.server import Connection, connect

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def at(seconds: float) -> str:
    """The REST timestamp of ``seconds`` after the virtual epoch."""
    when = EPOCH + timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def start(**options: Any) -> Connection:
    """A server with the tests' defaults (virtual clock, no noise, seed 7)."""
    options.setdefault("clock", "virtual")
    options.setdefault("noise", False)
    options.setdefault("seed", 7)
    return connect(**options)


_PM: dict[str, Any] = {}


def isa_bell(backend: Any, measure: bool = True) -> QuantumCircuit:
    """A Bell circuit made ISA for ``backend`` (the real client refuses non-ISA circuits)."""
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    if measure:
        qc.measure_all()
    pm = _PM.get(backend.name)
    if pm is None:
        pm = _PM[backend.name] = generate_preset_pass_manager(optimization_level=1,
                                                              backend=backend, seed_transpiler=1)
    return pm.run(qc)


def zz(isa: QuantumCircuit) -> SparsePauliOp:
    """The ZZ observable laid out like ``isa``."""
    return SparsePauliOp("ZZ").apply_layout(isa.layout)
