"""What a QPU reads off a circuit: ISA support, operations and qubits used, and IBM's refusal.

The QPU's transpilation cache (``qpu``) and the quantum-program checks (``programs``) ask
these questions of every circuit they are given.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from qiskit.circuit import ControlFlowOp, QuantumCircuit
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator

AER_PARALLEL_QUBITS = 14
"""Aer's default ``statevector_parallel_threshold``: smaller jobs run on one thread."""

STATEVECTOR_QUBITS = 26
"""Above this many used qubits a job runs on Aer's matrix-product-state method: a statevector
of 27 qubits needs 2 GiB and one of 127 cannot exist, while the wide circuits users send
(an ISA circuit measured on every QPU qubit, as ``measure_all()`` after transpiling does)
entangle few of them, which MPS simulates in memory linear in the qubits."""


def isa_refusal(where: str, unsupported: str) -> str:
    """IBM's message for a non-ISA circuit (``validate_isa_circuits``), then how to fix it."""
    return (
        f"{where}: {unsupported} Circuits that do not match the target hardware definition are "
        "no longer supported after March 4, 2024. See the transpilation documentation "
        "(https://quantum.cloud.ibm.com/docs/guides/transpile) for instructions to transform "
        "circuits and the primitive examples "
        "(https://quantum.cloud.ibm.com/docs/guides/primitives-examples) to see this coupled "
        "with operator transformations. Fix: transpile first, e.g. pm = "
        "generate_preset_pass_manager(optimization_level=1, backend=backend); isa = "
        "pm.run(circuit); for the estimator lay the observables out too: "
        "observable.apply_layout(isa.layout). (LocalService(strict_isa=False) transpiles for "
        "you instead.)"
    )


def first_unsupported(circuit: QuantumCircuit, target: Target,
                       index: Mapping[Any, int]) -> str | None:
    """The first instruction the target cannot run as written, described; None if ISA."""
    for inst in circuit.data:
        op = inst.operation
        if op.name == "barrier":
            continue
        qargs = tuple(index[q] for q in inst.qubits)
        if not target.instruction_supported(op.name, qargs):
            return (f"The instruction {op.name} on qubits {qargs} is not supported by the "
                    "target system.")
        if isinstance(op, ControlFlowOp):
            for block in op.blocks:
                inner = {b: index[q] for b, q in zip(block.qubits, inst.qubits, strict=True)}
                found = first_unsupported(block, target, inner)
                if found is not None:
                    return found
    return None


def operation_names(circuit: QuantumCircuit) -> frozenset[str]:
    names: set[str] = set()
    for inst in circuit.data:
        op = inst.operation
        names.add(op.name)
        if isinstance(op, ControlFlowOp):
            for block in op.blocks:
                names |= operation_names(block)
    return frozenset(names)


def used_qubits(circuit: QuantumCircuit) -> frozenset[int]:
    index = {q: i for i, q in enumerate(circuit.qubits)}
    return frozenset(index[q] for inst in circuit.data
                     if inst.operation.name not in ("barrier", "delay") for q in inst.qubits)


@functools.cache
def aer_instructions() -> frozenset[str]:
    """Instruction names Aer runs without transpilation."""
    return frozenset(AerSimulator().configuration().basis_gates) | {"measure", "barrier"}
