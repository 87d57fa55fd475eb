"""Emulated QPUs: a ``BackendV2`` that validates primitive pubs, times them and runs them on Aer.

A QPU serves the scheduler at two moments:

* at submission, ``prepare_sampler`` / ``prepare_estimator`` coerce and validate the pubs
  (every mistake is an ``IBMInputValueError`` naming the pub and the fix), make their
  circuits ISA for the QPU's target (one preset pass manager per QPU, one transpilation
  per circuit object, cached) and model the job's duration with the QPU's
  ``TimingModel``; the outcome is a ``PreparedJob``;
* when the job starts, ``execute`` runs the prepared pubs on Aer with the job's seed.

An ideal QPU (no noise model) runs the *logical* pubs: the numbers are the same, and Aer
skips the ISA circuit's idle ancillas and basis changes, so a job costs about what a bare
Aer primitive call costs. A noisy QPU runs the ISA pubs under its noise model, since noise
is defined on physical qubits and native gates.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import threading
import warnings
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal, NamedTuple

import numpy as np
from qiskit.circuit import ControlFlowOp, QuantumCircuit
from qiskit.exceptions import QiskitError
from qiskit.primitives import BindingsArray, PrimitiveResult
from qiskit.primitives.containers import EstimatorPub, SamplerPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.providers import BackendV2, Options
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import Target, generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from .errors import IBMBackendValueError, IBMInputValueError
from .timing import TimingModel

PubKind = Literal["sampler", "estimator"]



def _silence_aer_empty_result_warning() -> None:
    """The sampler warns at submission with IBM's text; Aer's own copy at run time (from
    the scheduler's worker thread) would say the same thing a second time."""
    # Installed when needed (not only at import) so that it holds inside warning contexts
    # opened after the import; an identical filter replaces the previous one.
    warnings.filterwarnings("ignore", message=r"The \d+-th pub's circuit has no output "
                            "classical", category=UserWarning)

_SAMPLER_FORM = "a sampler pub is a circuit or a tuple (circuit, parameter_values, shots)"
_ESTIMATOR_FORM = (
    "an estimator pub is a tuple (circuit, observables, parameter_values, precision), "
    "the last two optional"
)

# Projector letters of SparseObservable labels are measured in the basis of their Pauli.
_BASIS_OF = str.maketrans({"0": "Z", "1": "Z", "+": "X", "-": "X", "r": "Y", "l": "Y"})


@dataclass(frozen=True, slots=True)
class PreparedJob:
    """A validated primitive job, ready to run: its pubs, its size and its modeled QPU time."""

    kind: PubKind
    pubs: tuple[Any, ...] = field(repr=False)
    """The coerced logical pubs (``SamplerPub`` or ``EstimatorPub``), as the user gave them."""
    isa_pubs: tuple[Any, ...] = field(repr=False)
    """The pubs made ISA for the QPU (estimator observables laid out like their circuits)."""
    run_pubs: tuple[Any, ...] = field(repr=False)
    """The pubs Aer runs: logical on an ideal QPU where Aer knows every instruction, else ISA."""
    num_circuits: int
    """Executed circuits: parameter sets, times measurement bases for the estimator."""
    shots: int
    """Shots over all executed circuits."""
    duration_us: int
    """The job's modeled QPU time (``TimingModel.job_microseconds``)."""
    num_qubits: int
    """Physical qubits the job's ISA circuits act on (union over pubs)."""
    noise_model: Any = field(default=None, repr=False)
    """``options.simulator.noise_model``: when set, Aer runs the ISA pubs under it instead."""


_AER_PARALLEL_QUBITS = 14
"""Aer's default ``statevector_parallel_threshold``: smaller jobs run on one thread."""


class CacheInfo(NamedTuple):
    """Counters of a QPU's transpilation cache."""

    hits: int
    misses: int
    size: int


class _Compiled:
    """What a QPU knows about one circuit object: its ISA version, duration and traits."""

    __slots__ = ("aer_ok", "has_measure", "instructions", "isa", "qubits", "readout_s", "ref",
                 "seconds", "shape", "stripped", "unsupported")

    def __init__(self, ref: weakref.ref[QuantumCircuit], shape: tuple[int, ...],
                 instructions: list[Any], isa: QuantumCircuit | None, unsupported: str | None,
                 seconds: float, readout_s: float, qubits: frozenset[int], has_measure: bool,
                 aer_ok: bool) -> None:
        self.ref = ref
        self.shape = shape
        # A copy of the instruction list as compiled: an edit in place (an instruction
        # replaced, parameters bound) makes the circuit differ from it.
        self.instructions = instructions
        # None when the circuit is ISA already; never the circuit itself, which would keep
        # the weakly referenced key alive for ever.
        self.isa = isa
        self.unsupported = unsupported
        self.seconds = seconds
        self.readout_s = readout_s
        self.qubits = qubits
        self.has_measure = has_measure
        self.aer_ok = aer_ok
        self.stripped: QuantumCircuit | None = None
        """The run circuit without its final measurements (Estimator), made on first need."""


class QPU(BackendV2):
    """An emulated QPU: a Qiskit backend with a target, a timing model and an Aer simulator."""

    def __init__(self, name: str, target: Target, *, timing: TimingModel | None = None,
                 noise_model: NoiseModel | None = None, strict_isa: bool = False,
                 description: str = "") -> None:
        if not isinstance(name, str) or not name:
            raise IBMInputValueError(f"a QPU needs a non-empty name, not {name!r}")
        if not isinstance(target, Target):
            raise IBMInputValueError(
                f"QPU {name!r}: target must be a qiskit.transpiler.Target, not "
                f"{type(target).__name__} (a backend's is backend.target)"
            )
        if timing is not None and not isinstance(timing, TimingModel):
            raise IBMInputValueError(
                f"QPU {name!r}: timing must be a TimingModel, not {type(timing).__name__}"
            )
        if noise_model is not None and not isinstance(noise_model, NoiseModel):
            raise IBMInputValueError(
                f"QPU {name!r}: noise_model must be a qiskit_aer.noise.NoiseModel, not "
                f"{type(noise_model).__name__}"
            )
        kind = "noisy" if noise_model is not None else "ideal"
        super().__init__(
            name=name,
            description=description or f"qsession {kind} emulated QPU, {target.num_qubits} qubits",
            backend_version="1",
        )
        self._target = target
        self.timing = timing if timing is not None else TimingModel()
        self.noise_model = noise_model
        self.strict_isa = bool(strict_isa)
        self.service: Any = None
        """The ``LocalService`` this QPU belongs to (set by the service)."""
        self.fake_backend: BackendV2 | None = None
        """The fake backend this QPU copies (its configuration and calibration data)."""
        # One simulator per QPU: a noisy one costs a noise-model conversion to build.
        self._simulator = (
            AerSimulator(noise_model=noise_model) if noise_model is not None else AerSimulator()
        )
        self._pm: Any = None
        self._entries: dict[int, _Compiled] = {}
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    # -- constructors ----------------------------------------------------------------

    @classmethod
    def ideal(cls, name: str = "qsession_ideal", num_qubits: int = 16, seed: int = 0, *,
              timing: TimingModel | None = None, strict_isa: bool = False) -> QPU:
        """A noiseless QPU on Qiskit's generic target (all-to-all, with gate durations)."""
        if not _is_int_at_least(num_qubits, 2):
            raise IBMInputValueError(
                f"an ideal QPU needs an integer num_qubits >= 2, not {num_qubits!r}"
            )
        # GenericBackendV2 draws its durations and error rates from ``seed``; with no
        # coupling map it connects every pair, so an ideal QPU never needs SWAPs.
        backend = GenericBackendV2(int(num_qubits), seed=seed, control_flow=True)
        return cls(name, backend.target, timing=timing, strict_isa=strict_isa,
                   description=f"qsession ideal emulated QPU, {num_qubits} qubits, noiseless")

    @classmethod
    def from_fake_backend(cls, fake: str | BackendV2, *, timing: TimingModel | None = None,
                          strict_isa: bool = False) -> QPU:
        """A noisy copy of a ``qiskit-ibm-runtime`` fake backend, by name or instance."""
        backend = _fake_backend(fake) if isinstance(fake, str) else fake
        if not isinstance(backend, BackendV2):
            raise IBMBackendValueError(
                f"from_fake_backend takes a fake backend name such as 'fake_manila' or a "
                f"BackendV2 instance, not {type(fake).__name__}"
            )
        noise = NoiseModel.from_backend(backend)
        qpu = cls(backend.name, backend.target, timing=timing, noise_model=noise,
                  strict_isa=strict_isa,
                  description=f"qsession noisy emulation of {backend.name}")
        qpu.fake_backend = backend
        return qpu

    # -- BackendV2 plumbing ----------------------------------------------------------

    @property
    def target(self) -> Target:
        """The QPU's instruction set, connectivity and durations."""
        return self._target

    @property
    def max_circuits(self) -> None:
        """No limit on circuits per job (as IBM's V2 backends)."""
        return None

    # -- inspection (IBM's IBMBackend methods) ------------------------------------

    def configuration(self) -> Any:
        """IBM's backend configuration (a fake backend's own data, or built from the target)."""
        from . import backend_info

        return backend_info.configuration(self)

    def properties(self, refresh: bool = False, datetime: Any = None) -> Any:
        """Calibration data: the fake backend's ``BackendProperties``; None on an ideal QPU."""
        from . import backend_info

        return backend_info.properties(self)

    def status(self) -> Any:
        """``BackendStatus`` fields: operational, ``pending_jobs`` from the scheduler's queue."""
        from . import backend_info

        return backend_info.status(self)

    @property
    def dtm(self) -> float | None:
        """Time resolution of output signals: the fake backend's, else the target's ``dt``."""
        if self.fake_backend is not None:
            return float(self.fake_backend.dtm)
        dt = self._target.dt
        return None if dt is None else float(dt)

    @property
    def meas_map(self) -> list[list[int]]:
        """Qubits measured together: the fake backend's map, else each qubit on its own."""
        if self.fake_backend is not None:
            return [list(group) for group in self.fake_backend.meas_map]
        return [[q] for q in range(self._target.num_qubits)]

    @property
    def calibration_id(self) -> None:
        """No calibration set is chosen: an emulated QPU's data never changes."""
        return None

    @property
    def is_mock(self) -> bool:
        """False: it plays a QPU (IBM's mock backends are simulators)."""
        return False

    def check_faulty(self, circuit: QuantumCircuit) -> None:
        """No qubit or edge of an emulated QPU is faulty: nothing to refuse."""

    def refresh(self) -> None:
        """Nothing to reload: the target and calibration data are fixed."""

    def target_history(self, datetime: Any = None) -> Target:
        """The target at any date: the same one (calibration does not drift)."""
        return self._target

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=4096)

    def run(self, run_input: Any, **options: Any) -> Any:
        """Not supported, as on IBM Quantum: run circuits through the primitives."""
        raise NotImplementedError(
            f"{self.name}.run() is not supported, as on IBM Quantum QPUs: run circuits "
            "through the primitives, e.g. SamplerV2(mode=qpu).run([circuit]) or "
            "EstimatorV2(mode=session).run([(circuit, observable)]) from qsession.runtime"
        )

    # -- preparation -----------------------------------------------------------------

    def prepare_sampler(self, pubs: Iterable[Any], shots: int) -> PreparedJob:
        """Validate sampler pubs, make them ISA and model their duration (``shots`` default)."""
        if not _is_int_at_least(shots, 1):
            raise IBMInputValueError(
                f"shots={shots!r}: shots must be a positive integer, e.g. shots=4096"
            )
        logical: list[Any] = []
        isa_pubs: list[Any] = []
        run_pubs: list[Any] = []
        executions: list[tuple[float, int]] = []
        qubits: set[int] = set()
        total_shots = 0
        for index, item in enumerate(_pub_list(pubs, "sampler")):
            where = f"sampler pub {index}"
            pub = _coerce(where, item, "sampler", int(shots))
            circuit = pub.circuit
            self._check_width(where, circuit)
            # No classical register: IBM warns (the primitive does) and the result is empty.
            if not circuit.cregs:
                _silence_aer_empty_result_warning()
            entry = self._compiled(where, circuit)
            if circuit.cregs and not entry.has_measure:
                raise IBMInputValueError(
                    f"{where}: the circuit has classical bits but no measurements, so every "
                    "sample would be zeros. Fix: add measurements, e.g. circuit.measure_all()"
                )
            isa_pub = pub if entry.isa is None else SamplerPub(
                entry.isa, pub.parameter_values, pub.shots, validate=False)
            sets = _check_sets(where, pub)
            executions.extend([(entry.seconds, pub.shots)] * sets)
            total_shots += sets * pub.shots
            qubits |= entry.qubits
            logical.append(pub)
            isa_pubs.append(isa_pub)
            run_pubs.append(self._run_pub(entry, pub, isa_pub))
        if total_shots > MAX_EXECUTIONS:
            raise IBMInputValueError(
                f"the sampler job has {total_shots:,} executions (circuits x shots), over "
                f"IBM's job limit of {MAX_EXECUTIONS:,} executions per Sampler job. Fix: fewer "
                "shots or parameter sets, or split the pubs over several jobs"
            )
        return PreparedJob("sampler", tuple(logical), tuple(isa_pubs), tuple(run_pubs),
                           len(executions), total_shots,
                           self.timing.job_microseconds(executions, len(logical)),
                           len(qubits))

    def prepare_estimator(self, pubs: Iterable[Any], precision: float) -> PreparedJob:
        """Validate estimator pubs, make them ISA and model their duration (``precision`` default).

        Each pub executes, per parameter set, one circuit per measurement basis (a group of
        qubit-wise commuting Pauli terms of its observables), with ``ceil(1/precision²)``
        shots each.
        """
        if not _is_positive_real(precision):
            raise IBMInputValueError(
                f"precision={precision!r}: the precision must be a number > 0 (the target "
                "standard error; e.g. 0.015625 for about 4096 shots)"
            )
        logical: list[Any] = []
        isa_pubs: list[Any] = []
        run_pubs: list[Any] = []
        executions: list[tuple[float, int]] = []
        qubits: set[int] = set()
        total_shots = 0
        for index, item in enumerate(_pub_list(pubs, "estimator")):
            where = f"estimator pub {index}"
            pub = _coerce(where, item, "estimator", float(precision))
            if not (math.isfinite(pub.precision) and pub.precision > 0):
                raise IBMInputValueError(
                    f"{where}: precision {pub.precision!r} must be > 0. Fix: give a positive "
                    "precision (the target standard error), or None for the default"
                )
            _check_precision(where, pub.precision)
            circuit = pub.circuit
            self._check_width(where, circuit)
            entry = self._compiled(where, circuit)
            if entry.isa is None:
                isa_pub = pub
            else:
                observables = pub.observables.apply_layout(entry.isa.layout,
                                                           entry.isa.num_qubits)
                isa_pub = EstimatorPub(entry.isa, observables, pub.parameter_values,
                                       pub.precision, validate=False)
            circuits = _check_sets(where, pub) * _num_bases(*_pauli_terms(pub.observables))
            shots_each = shots_for_precision(pub.precision)
            # An estimator circuit ends by measuring every qubit it uses.
            executions.extend([(entry.seconds + entry.readout_s, shots_each)] * circuits)
            total_shots += circuits * shots_each
            qubits |= entry.qubits
            logical.append(pub)
            isa_pubs.append(isa_pub)
            run_pub = self._run_pub(entry, pub, isa_pub)
            if entry.has_measure:
                run_pub = _without_final_measurements(entry, run_pub)
            run_pubs.append(run_pub)
        return PreparedJob("estimator", tuple(logical), tuple(isa_pubs), tuple(run_pubs),
                           len(executions), total_shots,
                           self.timing.job_microseconds(executions, len(logical)),
                           len(qubits))

    # -- execution -------------------------------------------------------------------

    def execute(self, prepared: PreparedJob, seed: int | None) -> PrimitiveResult:
        """Run a prepared job on Aer; the same seed gives the same counts and values.

        Aer's exceptions propagate unchanged: the scheduler turns them into a failed job.
        A quantum program (``programs.PreparedProgram``) runs itself on this QPU.
        """
        run_on = getattr(prepared, "run_on", None)
        if run_on is not None:
            return run_on(self, seed)
        # Aer's primitives take their seed at construction only; building one around the
        # QPU's simulator costs ~40 µs against milliseconds for the run itself.
        run_options: dict[str, Any] = {}
        simulator = self._simulator
        pubs = prepared.run_pubs
        if prepared.noise_model is not None:
            # The user's noise model (IBM: options.simulator.noise_model) is defined on
            # physical qubits and native gates, so it applies to the ISA pubs.
            model = prepared.noise_model
            if isinstance(model, dict):
                model = NoiseModel.from_dict(model)
            simulator = AerSimulator(noise_model=model)
            pubs = prepared.isa_pubs
        if prepared.num_qubits < _AER_PARALLEL_QUBITS:
            # Below Aer's statevector-parallel threshold its threads only synchronise: on a
            # busy machine they made a 200-shot Bell job 3-6x slower (4-7 ms, not 1.2 ms).
            run_options["max_parallel_threads"] = 1
        if prepared.kind == "sampler":
            sampler = AerSamplerV2.from_backend(simulator, seed=seed,
                                                options={"run_options": run_options})
            return sampler.run(pubs).result()
        if seed is not None:
            run_options["seed_simulator"] = seed
        estimator = AerEstimatorV2.from_backend(simulator,
                                                options={"run_options": run_options})
        return estimator.run(pubs).result()

    # -- the transpilation cache -----------------------------------------------------

    def transpile_cache_info(self) -> CacheInfo:
        """Hits, misses and size of the per-circuit transpilation cache."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._entries))

    def _compiled(self, where: str, circuit: QuantumCircuit) -> _Compiled:
        # Keyed on the circuit object (VQE loops pass the same ansatz hundreds of times),
        # and valid only while the circuit's instructions are those compiled: any edit in
        # place (append, measure_all, binding, an instruction replaced) is a miss. The
        # comparison costs ~0.3 µs an instruction, against milliseconds to transpile.
        key = id(circuit)
        data = circuit.data
        shape = (len(data), circuit.num_parameters, circuit.num_qubits, circuit.num_clbits)
        with self._lock:
            entry = self._entries.get(key)
            if (entry is not None and entry.ref() is circuit
                    and entry.shape == shape and entry.instructions == data
                    # a circuit refused while strict_isa was on was never transpiled
                    and (entry.unsupported is None or entry.isa is not None
                         or self.strict_isa)):
                self._hits += 1
            else:
                self._misses += 1
                entry = self._compile(where, circuit, shape)
                self._entries[key] = entry
        if self.strict_isa and entry.unsupported is not None:
            raise IBMInputValueError(isa_refusal(where, entry.unsupported))
        return entry

    def _compile(self, where: str, circuit: QuantumCircuit,
                 shape: tuple[int, ...]) -> _Compiled:
        target = self._target
        instructions = list(circuit.data)
        unsupported = _first_unsupported(circuit, target,
                                         {q: i for i, q in enumerate(circuit.qubits)})
        isa: QuantumCircuit | None = None
        if unsupported is not None and not self.strict_isa:
            try:
                isa = self._pass_manager().run(circuit)
            except QiskitError as exc:
                raise IBMInputValueError(
                    f"{where}: the circuit cannot be transpiled for {self.name}: {exc}. Fix: "
                    f"use only operations the QPU can run ({', '.join(target.operation_names)}"
                    ") or ones Qiskit can decompose into them"
                ) from exc
        physical = circuit if isa is None else isa
        try:
            seconds = self.timing.circuit_seconds(physical, target)
        except ValueError as exc:
            raise IBMInputValueError(f"{where}: {exc}") from exc
        used = _used_qubits(physical)
        names = _operation_names(circuit)
        return _Compiled(
            weakref.ref(circuit, functools.partial(_forget, self._entries, id(circuit))),
            shape, instructions, isa, unsupported, seconds,
            self.timing.readout_seconds(target, sorted(used)), used,
            "measure" in names, names <= _aer_instructions(),
        )

    def _pass_manager(self) -> Any:
        # Built on first need: the first build in a process imports the transpiler (~2 s),
        # later ones take ~6 ms; a fixed seed makes layout and routing reproducible.
        if self._pm is None:
            self._pm = generate_preset_pass_manager(optimization_level=1, target=self._target,
                                                    seed_transpiler=0)
        return self._pm

    # -- helpers ---------------------------------------------------------------------

    def _check_width(self, where: str, circuit: QuantumCircuit) -> None:
        if circuit.num_qubits > self._target.num_qubits:
            raise IBMInputValueError(
                f"{where}: the circuit has {circuit.num_qubits} qubits but {self.name} has "
                f"{self._target.num_qubits}. Fix: use at most {self._target.num_qubits} "
                "qubits, or a larger QPU"
            )

    def _run_pub(self, entry: _Compiled, pub: Any, isa_pub: Any) -> Any:
        if self.noise_model is None and entry.aer_ok:
            return pub
        return isa_pub

    def __repr__(self) -> str:
        kind = "noisy" if self.noise_model is not None else "ideal"
        return f"<QPU {self.name!r} {kind} {self._target.num_qubits} qubits>"


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


def _without_final_measurements(entry: _Compiled, pub: Any) -> Any:
    """An estimator pub whose circuit's final measurements are removed.

    They do not change an expectation value, and with them Aer samples shot by shot
    instead of computing the expectation from one statevector (12x to 40x slower, measured).
    The stripped circuit is kept with the circuit's cache entry: a VQE loop strips once.
    """
    # The run circuit of an entry is always the same object (logical or ISA, by the QPU),
    # so one stripped copy per entry serves every later job.
    if entry.stripped is None:
        entry.stripped = pub.circuit.remove_final_measurements(inplace=False)
    return EstimatorPub(entry.stripped, pub.observables, pub.parameter_values, pub.precision,
                        validate=False)


def _is_int_at_least(value: object, least: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, Integral) and int(value) >= least


def _is_positive_real(value: object) -> bool:
    return (not isinstance(value, bool) and isinstance(value, Real)
            and math.isfinite(float(value)) and float(value) > 0)


MAX_EXECUTIONS = 10_000_000
"""IBM's job limit: executions (circuits x shots) per Sampler job (guide "Job limits")."""

MIN_PRECISION = 1 / math.sqrt(MAX_EXECUTIONS)
"""The finest estimator precision: ``1/precision²`` shots per circuit within ``MAX_EXECUTIONS``."""


def _check_sets(where: str, pub: Any) -> int:
    """The pub's number of parameter sets (observables broadcast in): at least one."""
    size = math.prod(pub.shape)
    if pub.parameter_values.size == 0 or size == 0:
        raise IBMInputValueError(
            f"{where} broadcasts to shape {tuple(pub.shape)}: it has no parameter sets (or no "
            "observables), so nothing would run. Fix: give at least one set of parameter "
            "values (and one observable), or leave the pub out"
        )
    return int(pub.parameter_values.size)


def _check_precision(where: str, precision: float) -> None:
    # Decision: IBM splits estimator jobs into sub-jobs, so its 10 M execution limit is
    # not a job limit there; one circuit's shots are kept within it (1/precision² shots).
    if precision < MIN_PRECISION:
        raise IBMInputValueError(
            f"{where}: precision={precision!r} asks for 1/precision² = ({1 / precision:.3g})² "
            f"shots per circuit, over IBM's limit of {MAX_EXECUTIONS:,} executions. Fix: give "
            f"a precision >= {MIN_PRECISION:.6f}"
        )


def shots_for_precision(precision: float) -> int:
    """Shots per executed estimator circuit for a target standard error: ``ceil(1/precision²)``."""
    # Rounding first keeps float noise (1/0.1² = 100.00000000000001) from adding a shot.
    return max(1, math.ceil(round(1.0 / (precision * precision), 6)))


# -- pub coercion and diagnosis --------------------------------------------------------


def _pub_list(pubs: Iterable[Any], kind: PubKind) -> list[Any]:
    example = "sampler.run([circuit])" if kind == "sampler" else (
        "estimator.run([(circuit, observable)])")
    if isinstance(pubs, QuantumCircuit | SamplerPub | EstimatorPub):
        raise IBMInputValueError(
            f"{kind} pubs must be a list of pubs, not a single {type(pubs).__name__}. Fix: "
            f"wrap it in a list, e.g. {example}"
        )
    try:
        items = list(pubs)
    except TypeError:
        raise IBMInputValueError(
            f"{kind} pubs must be a list of pubs, not {type(pubs).__name__}. Fix: e.g. {example}"
        ) from None
    if not items:
        raise IBMInputValueError(f"no {kind} pubs were given. Fix: pass at least one, e.g. "
                                 f"{example}")
    return items


def _coerce(where: str, item: Any, kind: PubKind, default: float) -> Any:
    _check_shape(where, item, kind)
    try:
        if kind == "sampler":
            return SamplerPub.coerce(item, int(default))
        return EstimatorPub.coerce(item, default)
    except (ValueError, TypeError, QiskitError, AttributeError, IndexError, KeyError) as exc:
        raise IBMInputValueError(f"{where}: {exc} Fix: {_diagnose(item, kind)}") from exc


def _check_shape(where: str, item: Any, kind: PubKind) -> None:
    form = _SAMPLER_FORM if kind == "sampler" else _ESTIMATOR_FORM
    if isinstance(item, SamplerPub if kind == "sampler" else EstimatorPub):
        return
    if isinstance(item, QuantumCircuit):
        if kind == "sampler":
            return
        raise IBMInputValueError(
            f"{where} is a bare circuit, without observables. Fix: {form}, e.g. "
            "estimator.run([(circuit, observable)]); to run one pub, wrap it in a list"
        )
    sizes = (1, 2, 3) if kind == "sampler" else (2, 3, 4)
    if not isinstance(item, tuple | list):
        raise IBMInputValueError(
            f"{where} is a {type(item).__name__}, not a pub. Fix: {form}; pubs go in a list"
        )
    if len(item) not in sizes:
        raise IBMInputValueError(f"{where} has {len(item)} elements. Fix: {form}")
    if not isinstance(item[0], QuantumCircuit):
        raise IBMInputValueError(
            f"{where} starts with a {type(item[0]).__name__}, not a QuantumCircuit. Fix: {form}"
        )
    if kind == "sampler" and len(item) == 3 and item[2] is not None and not _is_int_at_least(
            item[2], 1):
        raise IBMInputValueError(
            f"{where} asks for shots={item[2]!r}. Fix: give a positive integer (e.g. 1024), or "
            "None for the default"
        )
    if kind == "estimator" and len(item) == 4 and item[3] is not None and not (
            _is_positive_real(item[3])):
        raise IBMInputValueError(
            f"{where} asks for precision={item[3]!r}. Fix: give a number > 0 (the target "
            "standard error, e.g. 0.015625), or None for the default"
        )


def _diagnose(item: Any, kind: PubKind) -> str:
    """The most likely fix for a pub that qiskit refused (only ever called on failure)."""
    if not isinstance(item, tuple | list) or not item or not isinstance(item[0], QuantumCircuit):
        return _SAMPLER_FORM if kind == "sampler" else _ESTIMATOR_FORM
    circuit = item[0]
    if kind == "estimator":
        hint = _diagnose_observables(circuit, item[1])
        if hint:
            return hint
    position = 1 if kind == "sampler" else 2
    values = item[position] if len(item) > position else None
    return _diagnose_values(circuit, values) or (
        _SAMPLER_FORM if kind == "sampler" else _ESTIMATOR_FORM)


def _diagnose_observables(circuit: QuantumCircuit, observables: Any) -> str | None:
    width = circuit.num_qubits
    forms = (f"give a SparsePauliOp, a Pauli string such as {'Z' * width!r}, or a (nested) "
             "list of them")
    try:
        array = ObservablesArray.coerce(observables)
    except (ValueError, TypeError, QiskitError) as exc:
        return f"the observables are not valid ({exc}); {forms}"
    widths = {len(next(iter(obs))) for obs in array.ravel() if obs}
    if widths - {width}:
        return (f"the observables act on {', '.join(map(str, sorted(widths)))} qubits but the "
                f"circuit has {width}; give observables on exactly {width} qubits (for an ISA "
                "circuit: observable.apply_layout(isa_circuit.layout))")
    return None


def _diagnose_values(circuit: QuantumCircuit, values: Any) -> str | None:
    count = circuit.num_parameters
    names = ", ".join(p.name for p in circuit.parameters)
    if values is None:
        if count:
            return (f"the circuit has {count} parameter(s) ({names}) but no values were "
                    f"given; give {count} value(s) per parameter set")
        return None
    if isinstance(values, Mapping | BindingsArray):
        return (f"the circuit has {count} parameter(s) ({names}); the bindings must give "
                "each exactly one value per parameter set")
    if count == 0:
        return "the circuit has no parameters; leave the parameter values out (or None)"
    try:
        shape = np.asarray(values, dtype=float).shape
    except (ValueError, TypeError):
        return (f"parameter values must be numbers in a rectangular array whose last axis "
                f"has length {count} (one value for each of {names})")
    if (shape[-1] if shape else 1) != count:
        return (f"the circuit has {count} parameter(s) ({names}); give an array whose last "
                f"axis has length {count}: a list of {count} numbers for one set, or shape "
                f"(k, {count}) for k sets")
    return None


# -- circuit traits --------------------------------------------------------------------


def _first_unsupported(circuit: QuantumCircuit, target: Target,
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
                found = _first_unsupported(block, target, inner)
                if found is not None:
                    return found
    return None


def _operation_names(circuit: QuantumCircuit) -> frozenset[str]:
    names: set[str] = set()
    for inst in circuit.data:
        op = inst.operation
        names.add(op.name)
        if isinstance(op, ControlFlowOp):
            for block in op.blocks:
                names |= _operation_names(block)
    return frozenset(names)


def _used_qubits(circuit: QuantumCircuit) -> frozenset[int]:
    index = {q: i for i, q in enumerate(circuit.qubits)}
    return frozenset(index[q] for inst in circuit.data
                     if inst.operation.name not in ("barrier", "delay") for q in inst.qubits)


@functools.cache
def _aer_instructions() -> frozenset[str]:
    """Instruction names Aer runs without transpilation."""
    return frozenset(AerSimulator().configuration().basis_gates) | {"measure", "barrier"}


def _pauli_terms(observables: Any) -> tuple[int, frozenset[tuple[str, tuple[int, ...]]]]:
    """The width and the sparse terms (label, qubits) of all observables of a pub."""
    # Read from the SparseObservables the array stores: going through its dict view
    # costs ~55 µs for a 7-term Hamiltonian, this ~5 µs.
    array = observables.sparse_observables_array()
    terms = frozenset((label, tuple(indices)) for obs in array.flat
                      for label, indices, _ in obs.to_sparse_list())
    return observables.num_qubits, terms


@functools.lru_cache(maxsize=4096)
def _num_bases(width: int, terms: frozenset[tuple[str, tuple[int, ...]]]) -> int:
    """Measurement bases for a set of Pauli terms: their qubit-wise commuting groups."""
    # Cached on the term set: grouping costs ~300 µs, and a VQE loop asks for the same
    # Hamiltonian's terms on every call.
    if not terms:
        return 1
    paulis = SparsePauliOp.from_sparse_list(
        [(label.translate(_BASIS_OF), indices, 1.0) for label, indices in sorted(terms)], width)
    return len(paulis.group_commuting(qubit_wise=True))


def _forget(entries: dict[int, _Compiled], key: int, ref: weakref.ref[Any]) -> None:
    # A weakref callback may run in any thread at any allocation, so it takes no lock: at
    # worst a racing re-insert for a reused id is dropped, which costs a cache miss.
    entry = entries.get(key)
    if entry is not None and entry.ref is ref:
        entries.pop(key, None)


# -- fake backends ---------------------------------------------------------------------


def _normal_name(name: str) -> str:
    text = re.sub(r"[^a-z0-9]", "", name.lower())
    text = text.removeprefix("fake")
    return text.removesuffix("v2")


def _fake_backend(name: str) -> BackendV2:
    """An instance of the ``qiskit-ibm-runtime`` fake backend called ``name``."""
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError as exc:
        raise ImportError(
            f"the fake backend {name!r} comes from qiskit-ibm-runtime, an optional extra: "
            "pip install 'qsession[ibm]'"
        ) from exc
    classes = {_normal_name(attr): attr for attr in dir(fake_provider)
               if attr.startswith("Fake") and not attr.startswith("FakeProvider")}
    wanted = _normal_name(name)
    if wanted not in classes:
        known = sorted(f"fake_{n}" for n in classes)
        close = difflib.get_close_matches(f"fake_{wanted}", known, n=3)
        suggestion = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise IBMBackendValueError(
            f"no fake backend named {name!r}; {suggestion}known names: {', '.join(known)}"
        )
    backend = getattr(fake_provider, classes[wanted])()
    if not isinstance(backend, BackendV2):
        raise IBMBackendValueError(f"{name!r} is not a BackendV2 fake backend")
    return backend
