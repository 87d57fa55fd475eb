"""INV-DURATION: the timing model's circuit durations against an independent computation.

Random programs of gates, measurements, barriers, ``if``/``else`` and ``for`` blocks on
three qubits are built into circuits; the expected duration is computed from the
*program* (not from the circuit the model reads) with the target's instruction
durations: each instruction starts when all its wires are free, a branch lasts its longer
block (the branch taken is unknown before running), a loop its body times its
iterations.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.circuit.library import CXGate, Measure, RZGate, SXGate, XGate
from qiskit.transpiler import InstructionProperties, Target

from qsession.runtime.engine.timing import TimingModel

QUBITS, CLBITS = 3, 2
ONE_QUBIT = {"x": 35e-9, "sx": 36e-9, "rz": 0.0}
CX_S = {(a, b): (300 + 40 * a + 7 * b) * 1e-9
        for a in range(QUBITS) for b in range(QUBITS) if a != b}
MEASURE_S = 1.2e-6
STATEMENT = ("a circuit's duration is its critical path from the target's instruction "
             "durations; a branch lasts its longer block, a `for` loop its body times its "
             "iterations")
"""What INV-DURATION states (the catalogue's entry for this check)."""


def target() -> Target:
    """Three qubits with distinct, known durations (per qubit, per pair)."""
    t = Target(num_qubits=QUBITS)
    for name, gate in (("x", XGate()), ("sx", SXGate()), ("rz", RZGate(Parameter("θ")))):
        t.add_instruction(gate, {(q,): InstructionProperties(duration=ONE_QUBIT[name] * (q + 1))
                                 for q in range(QUBITS)})
    t.add_instruction(CXGate(), {pair: InstructionProperties(duration=d)
                                 for pair, d in CX_S.items()})
    t.add_instruction(Measure(), {(q,): InstructionProperties(duration=MEASURE_S)
                                  for q in range(QUBITS)})
    return t


# A program is a list of ops: ("x"|"sx"|"rz", q), ("cx", a, b), ("measure", q, c),
# ("barrier",), ("if", c, then_ops, else_ops), ("for", n, body_ops).
_qubit = st.integers(0, QUBITS - 1)
_gate = st.one_of(
    st.tuples(st.sampled_from(["x", "sx", "rz"]), _qubit),
    st.tuples(st.just("cx"), _qubit, _qubit).filter(lambda op: op[1] != op[2]),
    st.tuples(st.just("measure"), _qubit, st.integers(0, CLBITS - 1)),
    st.just(("barrier",)),
)
programs = st.recursive(
    st.lists(_gate, min_size=1, max_size=6),
    lambda inner: st.lists(st.one_of(
        _gate,
        st.tuples(st.just("if"), st.integers(0, CLBITS - 1), inner, inner),
        st.tuples(st.just("for"), st.integers(1, 3), inner)), min_size=1, max_size=6),
    max_leaves=12,
)


def build(program: list[Any]) -> QuantumCircuit:
    """The circuit of ``program`` (control flow through Qiskit's builder interface)."""
    qc = QuantumCircuit(QUBITS, CLBITS)
    _emit(qc, program)
    return qc


def _emit(qc: QuantumCircuit, ops: list[Any]) -> None:
    for op in ops:
        kind = op[0]
        if kind in ("x", "sx"):
            getattr(qc, kind)(op[1])
        elif kind == "rz":
            qc.rz(0.3, op[1])
        elif kind == "cx":
            qc.cx(op[1], op[2])
        elif kind == "measure":
            qc.measure(op[1], op[2])
        elif kind == "barrier":
            qc.barrier()
        elif kind == "if":
            with qc.if_test((qc.clbits[op[1]], 1)) as otherwise:
                _emit(qc, op[2])
            with otherwise:
                _emit(qc, op[3])
        else:
            with qc.for_loop(range(op[1])):
                _emit(qc, op[2])


def _wires(ops: list[Any]) -> set[str]:
    out: set[str] = set()
    for op in ops:
        kind = op[0]
        if kind in ("x", "sx", "rz"):
            out.add(f"q{op[1]}")
        elif kind == "cx":
            out |= {f"q{op[1]}", f"q{op[2]}"}
        elif kind == "measure":
            out |= {f"q{op[1]}", f"c{op[2]}"}
        elif kind == "barrier":  # Qiskit's builder: a bare barrier spans every qubit
            out |= {f"q{q}" for q in range(QUBITS)}
        elif kind == "if":
            out |= {f"c{op[1]}"} | _wires(op[2]) | _wires(op[3])
        elif kind == "for":
            out |= _wires(op[2])
    return out


def expected_seconds(program: list[Any], scope: set[str] | None = None) -> float:
    """The critical path of ``program`` from the target's durations."""
    everything = {f"q{q}" for q in range(QUBITS)} if scope is None else scope
    free: dict[str, float] = {}

    def occupy(wires: set[str], length: float) -> None:
        start = max((free.get(w, 0.0) for w in wires), default=0.0)
        for w in wires:
            free[w] = start + length

    for op in program:
        kind = op[0]
        if kind in ("x", "sx", "rz"):
            occupy({f"q{op[1]}"}, ONE_QUBIT[kind] * (op[1] + 1))
        elif kind == "cx":
            occupy({f"q{op[1]}", f"q{op[2]}"}, CX_S[(op[1], op[2])])
        elif kind == "measure":
            occupy({f"q{op[1]}", f"c{op[2]}"}, MEASURE_S)
        elif kind == "barrier":
            occupy(everything, 0.0)  # no time, but it synchronises the qubits it spans
        elif kind == "if":
            wires = {f"c{op[1]}"} | _wires(op[2]) | _wires(op[3])
            qubits = {w for w in wires if w.startswith("q")}
            occupy(wires, max(expected_seconds(op[2], qubits), expected_seconds(op[3], qubits)))
        else:
            wires = _wires(op[2])
            qubits = {w for w in wires if w.startswith("q")}
            occupy(wires, op[1] * expected_seconds(op[2], qubits))
    return max(free.values(), default=0.0)


def mismatch(program: list[Any], model: TimingModel | None = None) -> str | None:
    """Why the model's duration of ``program`` differs from the expected one (None: equal)."""
    circuit = build(program)
    got = (model or TimingModel()).circuit_seconds(circuit, target())
    want = expected_seconds(program)
    if math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-15):
        return None
    return (f"INV-DURATION: the timing model gives {got * 1e9:.3f} ns for program {program}; "
            f"the target's instruction durations give {want * 1e9:.3f} ns (critical path, "
            "longer branch, loop body × iterations)")


class DurationMismatch(AssertionError):
    """The timing model disagreed with the independent computation."""

    ids = ("INV-DURATION",)


def run(examples: int, seed: int | None = None) -> int:
    """Check ``examples`` random programs; raise ``DurationMismatch`` (shrunk) on the first."""
    from hypothesis import HealthCheck, Phase

    checked = 0

    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed is None,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(programs)
    def prop(program: list[Any]) -> None:
        nonlocal checked
        checked += 1
        problem = mismatch(program)
        if problem is not None:
            raise DurationMismatch(problem)

    if seed is not None:
        from hypothesis import seed as hseed

        prop = hseed(seed)(prop)
    prop()
    return checked
