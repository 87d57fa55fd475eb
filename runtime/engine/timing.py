"""A deterministic model of how long a job holds an emulated QPU: IBM's estimate.

IBM's guide "workload usage" estimates a job's QPU time as about 2 s of overhead per
sub-job plus, per execution (one shot of one circuit with one parameter set), the
repetition delay and the circuit's duration (plus an initialisation time where the QPU
has one); its quick form is ``2 + 0.00035 × executions`` seconds. This model is that
formula with one sub-job per pub (a decision, ``qsession docs semantics "Decisions"``: IBM
does not document the split):

    job seconds = sub_jobs × sub_job_overhead_s
                  + Σ over executed circuits c of shots_c × (rep_delay_s + duration_c + init_s)

``job_microseconds`` returns that as integer microseconds (rounded half to even, at least
1 µs), the unit of the service's clocks, so virtual time stays exact and reproducible.

A circuit's duration is its critical path: the longest chain of instructions through
its qubits and classical bits, each instruction taking the duration the QPU's ``Target``
gives for it on those qubits. Instructions without a duration in the target take the
model's defaults: 50 ns for a one-qubit gate, 500 ns for a gate on two or more qubits,
1.5 µs for a measurement and 1 µs for a reset. Barriers take no time but synchronise the
qubits they span; delays take their own duration; a branch of a dynamic circuit takes its
longest block (the branch taken is unknown before running), a ``for`` loop its body times
its iterations, a ``while`` loop its body once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from numbers import Integral, Real
from typing import Any

from qiskit.circuit import ControlFlowOp, ForLoopOp, QuantumCircuit
from qiskit.exceptions import QiskitError
from qiskit.transpiler import Target

from .clock import to_us

_UNIT_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "ps": 1e-12}


@dataclass(frozen=True, slots=True)
class TimingModel:
    """Per-sub-job overhead, repetition delay, init time and fallback gate durations of a QPU."""

    sub_job_overhead_s: float = 2.0
    rep_delay_s: float = 250e-6
    init_s: float = 0.0
    default_1q_s: float = 50e-9
    default_2q_s: float = 500e-9
    default_measure_s: float = 1.5e-6
    default_reset_s: float = 1e-6

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if not _is_seconds(value):
                raise ValueError(
                    f"TimingModel.{spec.name}={value!r} must be a finite number of seconds >= 0"
                )

    def circuit_seconds(self, isa_circuit: QuantumCircuit, target: Target | None) -> float:
        """The critical-path duration of one shot of ``isa_circuit`` on ``target``, in seconds."""
        if target is not None:
            try:
                return float(isa_circuit.estimate_duration(target, unit="s"))
            except QiskitError:
                # Qiskit refuses when an instruction has no duration in the target (targets
                # built from basis gates, control flow) or a delay is in ns/us: the walk
                # below gives those instructions the model's defaults instead.
                pass
        index = {bit: i for i, bit in enumerate(isa_circuit.qubits)}
        return self._critical_path(isa_circuit, target, index)

    def readout_seconds(self, target: Target | None, qubits: Iterable[int]) -> float:
        """The time to measure ``qubits`` together: the slowest of their measurements."""
        return max((self._duration("measure", (q,), target) for q in qubits), default=0.0)

    def job_microseconds(self, executions: Iterable[tuple[float, int]],
                         sub_jobs: int = 1) -> int:
        """The modeled QPU time of a job, from (circuit seconds, shots) per executed circuit.

        ``sub_jobs`` is the number of sub-jobs the job is split into (one per pub).
        """
        if not _is_count(sub_jobs) or sub_jobs < 1:
            raise ValueError(f"sub_jobs={sub_jobs!r} must be an integer >= 1 (one per pub)")
        terms: list[float] = [sub_jobs * self.sub_job_overhead_s]
        for i, execution in enumerate(executions):
            seconds, shots = execution
            if not _is_seconds(seconds):
                raise ValueError(
                    f"execution {i}: circuit duration {seconds!r} must be a finite number of "
                    "seconds >= 0"
                )
            if not _is_count(shots):
                raise ValueError(f"execution {i}: shots={shots!r} must be an integer >= 0")
            terms.append(int(shots) * (self.rep_delay_s + seconds + self.init_s))
        if len(terms) == 1:
            raise ValueError("a job executes at least one circuit; no executions were given")
        # At least 1 µs: a job always takes virtual time, so it starts and ends at distinct
        # instants.
        return max(1, to_us(math.fsum(terms)))

    # -- the fallback walk -------------------------------------------------------------

    def _critical_path(self, circuit: QuantumCircuit, target: Target | None,
                       index: Mapping[Any, int]) -> float:
        finish: dict[Any, float] = {}
        for inst in circuit.data:
            wires = (*inst.qubits, *inst.clbits)
            start = max((finish.get(wire, 0.0) for wire in wires), default=0.0)
            end = start + self._instruction_seconds(inst, target, index)
            for wire in wires:
                finish[wire] = end
        return max(finish.values(), default=0.0)

    def _instruction_seconds(self, inst: Any, target: Target | None,
                             index: Mapping[Any, int]) -> float:
        op = inst.operation
        name = op.name
        if name == "barrier":
            return 0.0
        if name == "delay":
            return _delay_seconds(op, target)
        if isinstance(op, ControlFlowOp):
            longest = 0.0
            for block in op.blocks:
                inner = {b: index[q] for b, q in zip(block.qubits, inst.qubits, strict=True)}
                longest = max(longest, self._critical_path(block, target, inner))
            if isinstance(op, ForLoopOp):
                return longest * len(op.params[0])
            return longest
        return self._duration(name, tuple(index[q] for q in inst.qubits), target)

    def _duration(self, name: str, qargs: tuple[int, ...], target: Target | None) -> float:
        if target is not None and name in target:
            by_qargs = target[name]
            props = by_qargs.get(qargs)
            if props is None:
                props = by_qargs.get(None)  # an instruction the target allows on any qubits
            if props is not None and props.duration is not None:
                return float(props.duration)
        if name == "measure":
            return self.default_measure_s
        if name == "reset":
            return self.default_reset_s
        if not qargs:
            return 0.0
        return self.default_1q_s if len(qargs) == 1 else self.default_2q_s


def _is_seconds(value: object) -> bool:
    """True for a finite real number >= 0 that is not a bool."""
    return (not isinstance(value, bool) and isinstance(value, Real)
            and math.isfinite(float(value)) and float(value) >= 0)


def _is_count(value: object) -> bool:
    """True for an integer >= 0 that is not a bool."""
    return not isinstance(value, bool) and isinstance(value, Integral) and int(value) >= 0


def _delay_seconds(op: Any, target: Target | None) -> float:
    unit = op.unit
    try:
        duration = float(op.duration)
    except TypeError:
        raise ValueError(
            f"a delay's duration must be a number, not {op.duration!r}; bind its parameters "
            "before running"
        ) from None
    if unit == "dt":
        dt = None if target is None else target.dt
        if dt is None:
            raise ValueError("a delay is given in dt, but the target has no dt; give it in s")
        return duration * float(dt)
    if unit not in _UNIT_S:
        raise ValueError(f"a delay's unit {unit!r} is not one of dt, {', '.join(_UNIT_S)}")
    return duration * _UNIT_S[unit]
