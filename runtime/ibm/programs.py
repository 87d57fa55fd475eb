"""Quantum programs (IBM's ``executor`` jobs) on an emulated QPU: checked, timed, run, decoded.

A ``QuantumProgram`` is what IBM's client-side primitives and ``Executor`` submit: circuit
items (a circuit and its parameter values) and samplex items (a twirled template circuit
and the samplex that draws its randomizations), all with ``shots`` shots per element.
The pre- and post-processing around a program (boxing, twirling, TREX, the Sampler's and
Estimator's result decoders) and its simulation are the installed client's own library
code (``qiskit_ibm_runtime``, ``samplomatic``): this module checks what the QPU must
check (ISA circuits, widths, the measurement level), models the QPU time with the QPU's
``TimingModel`` and hands the run to the client's local-mode runner on the QPU's Aer
simulator.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qiskit_aer import AerSimulator

from ..engine.circuits import AER_PARALLEL_QUBITS, first_unsupported, isa_refusal
from ..engine.errors import IBMInputValueError

try:
    from qiskit_ibm_runtime.decoders.defaults import DEFAULT_DECODERS
    from qiskit_ibm_runtime.fake_provider.executor.run_quantum_program import (
        run_quantum_program,
    )
    from qiskit_ibm_runtime.options_models import ExecutorOptions
    from qiskit_ibm_runtime.quantum_program import QuantumProgram
    from qiskit_ibm_runtime.results.quantum_program import (
        ChunkPart,
        ChunkSpan,
        Metadata,
        QuantumProgramResult,
    )
except ImportError as exc:  # pragma: no cover - the extra is installed for the tests
    raise ImportError(
        "IBM's executor primitives need qiskit-ibm-runtime 0.50 or newer (the ibm and "
        "server extras): pip install -U 'qsession[ibm]'") from exc

if TYPE_CHECKING:
    from ..engine.clock import Clock
    from ..engine.qpu import QPU
    from ..engine.records import JobRecord

__all__ = ["ExecutorOptions", "PreparedProgram", "QuantumProgram", "QuantumProgramResult",
           "decoded_result", "prepare_program", "program_result"]


@dataclass(frozen=True, slots=True)
class PreparedProgram:
    """A checked quantum program, ready to run: its items' modeled QPU times and sizes."""

    program: Any = field(repr=False)
    """The client's ``QuantumProgram``."""
    simulator: Any = field(repr=False)
    """The client's ``SimulatorOptions`` (``seed_simulator``, ``layer_noise_model``, ...)."""
    item_us: tuple[int, ...]
    """Modeled QPU microseconds of each item (one sub-job per item)."""
    num_circuits: int
    """Executed circuits: the elements of every item (parameter sets × randomizations)."""
    shots: int
    """Shots over all executed circuits."""
    num_qubits: int
    """Physical qubits the program's circuits act on (union over items)."""
    kind: str = "executor"

    @property
    def duration_us(self) -> int:
        """The job's modeled QPU time: the sum of its items'."""
        return sum(self.item_us)

    def run_on(self, qpu: QPU, seed: int | None) -> Any:
        """Run the program on the QPU's Aer simulator with the client's local-mode runner.

        ``simulator.seed_simulator`` wins over the job's seed, as in IBM's local mode.
        """
        options = self.simulator
        if options.seed_simulator is None:
            options = options.model_copy(update={"seed_simulator": seed})
        return run_quantum_program(_simulator(qpu, self.num_qubits), self.program, options)


class _ProgramSimulator(AerSimulator):
    """The QPU's Aer simulator for one program; a deep copy shares its noise model.

    The client's runner deep-copies the simulator it is given before every run; for a
    127-qubit noise model that copy took 1.9 s of a 2.2 s job. Aer only reads the noise
    model, so a copy is a fresh simulator (50 µs) around the same one.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._program_options = options

    def __deepcopy__(self, memo: dict[int, Any]) -> _ProgramSimulator:
        return _ProgramSimulator(**self._program_options)


def _simulator(qpu: QPU, num_qubits: int) -> Any:
    """The QPU's Aer simulator for programs (one thread below Aer's parallel threshold)."""
    options: dict[str, Any] = {}
    if num_qubits < AER_PARALLEL_QUBITS:
        options["max_parallel_threads"] = 1
    if qpu.noise_model is not None:
        options["noise_model"] = qpu.noise_model
    return _ProgramSimulator(**options)


def prepare_program(qpu: QPU, program: Any, options: Any) -> PreparedProgram:
    """Check a ``QuantumProgram`` against the QPU and model its QPU time.

    Its circuits must be ISA circuits of the QPU whatever ``strict_isa`` says: a program's
    arguments are bound to its circuits' parameters as written, so they cannot be
    transpiled behind the user's back.
    """
    if not isinstance(program, QuantumProgram):
        raise IBMInputValueError(
            f"Executor.run takes a QuantumProgram, not {type(program).__name__}. Fix: build "
            "one with QuantumProgram(shots=...) and program.append_circuit_item(circuit, ...)")
    if not isinstance(options, ExecutorOptions):
        raise IBMInputValueError(f"options must be ExecutorOptions, not {type(options).__name__}")
    if not program.items:
        raise IBMInputValueError(
            "The quantum program has no items. Fix: add at least one, e.g. "
            "program.append_circuit_item(isa_circuit)")
    shots = program.shots
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise IBMInputValueError(f"QuantumProgram shots={shots!r} must be an integer >= 1")
    if program.meas_level != "classified":
        raise IBMInputValueError(
            f"meas_level={program.meas_level!r} is not available: an emulated QPU has no "
            "measurement traces, it returns classified bits only. Fix: use "
            "meas_level='classified' (the Sampler's execution.meas_type='classified')")
    timing = qpu.timing
    rep_delay = options.execution.rep_delay
    if rep_delay is not None:
        if rep_delay < 0:
            raise IBMInputValueError(
                f"execution.rep_delay={rep_delay!r}: a repetition delay is seconds >= 0 "
                f"(IBM QPUs take 0 to 500e-6; the default is {timing.rep_delay_s!r})")
        timing = dataclasses.replace(timing, rep_delay_s=float(rep_delay))
    target = qpu.target
    item_us: list[int] = []
    qubits: set[int] = set()
    executions = 0
    for index, item in enumerate(program.items):
        where = f"quantum program item {index}"
        circuit = item.circuit
        qpu.check_width(where, circuit)
        unsupported = first_unsupported(circuit, target,
                                         {q: i for i, q in enumerate(circuit.qubits)})
        if unsupported is not None:
            raise IBMInputValueError(isa_refusal(where, unsupported))
        entry = qpu.compiled(where, circuit)
        samplex = getattr(item, "samplex", None)
        if samplex is not None and not getattr(samplex, "_finalized", True):
            # A samplex decoded from the wire (or built by hand) is not finalized yet; the
            # service finalizes it before sampling, as samplomatic requires.
            samplex.finalize()
        size = math.prod(item.shape)
        # One sub-job per item; each element (parameter set, randomization) is one
        # executed circuit of ``shots`` shots.
        item_us.append(timing.job_microseconds([(entry.seconds, shots)] * max(size, 1)))
        executions += size
        qubits |= entry.qubits
    return PreparedProgram(program, options.simulator, tuple(item_us), executions,
                           executions * shots, len(qubits))


def program_result(clock: Clock, record: JobRecord) -> Any:
    """A DONE executor job's ``QuantumProgramResult`` with its chunk timing filled in.

    Each item ran as one chunk, back to back from the job's start on the QPU, for its
    modeled time (the spans IBM reports in ``metadata.chunk_timing``).
    """
    result = record.result
    payload = record.payload
    if record.running is not None and not result.metadata.chunk_timing:
        spans = []
        start = record.running
        for index, (item, us) in enumerate(zip(payload.program.items, payload.item_us,
                                               strict=True)):
            spans.append(ChunkSpan(clock.datetime(start), clock.datetime(start + us),
                                   [ChunkPart(index, math.prod(item.shape))]))
            start += us
        result.metadata = Metadata(chunk_timing=spans)
    return result


def decoded_result(clock: Clock, record: JobRecord) -> Any:
    """What IBM's ``job.result()`` returns for an executor job: the client's decoders applied.

    A plain ``Executor`` program stays a ``QuantumProgramResult``; one built by the
    client-side Sampler or Estimator (its ``semantic_role``) becomes their
    ``PrimitiveResult``, through the client's own post-processors.
    """
    result: Any = program_result(clock, record)
    for decoder in DEFAULT_DECODERS["executor"]:
        if decoder.is_applicable(result):
            result = decoder.decode(result)
    return result
