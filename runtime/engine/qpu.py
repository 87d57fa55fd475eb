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
import re
import threading
import warnings
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from qiskit.circuit import QuantumCircuit
from qiskit.exceptions import QiskitError
from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.providers import BackendV2, Options
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.transpiler import Target, generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from .circuits import (
    AER_PARALLEL_QUBITS,
    STATEVECTOR_QUBITS,
    aer_instructions,
    first_unsupported,
    isa_refusal,
    operation_names,
    used_qubits,
)
from .errors import IBMBackendValueError, IBMInputValueError
from .pubs import (
    MAX_EXECUTIONS,
    PubKind,
    check_precision,
    check_precision_value,
    check_sets,
    coerce_pub,
    is_int_at_least,
    is_positive_real,
    num_bases,
    pauli_terms,
    pub_list,
    shots_for_precision,
)
from .timing import TimingModel


def _silence_aer_empty_result_warning() -> None:
    """The sampler warns at submission with IBM's text; Aer's own copy at run time (from
    the scheduler's worker thread) would say the same thing a second time."""
    # Installed when needed (not only at import) so that it holds inside warning contexts
    # opened after the import; an identical filter replaces the previous one.
    warnings.filterwarnings("ignore", message=r"The \d+-th pub's circuit has no output "
                            "classical", category=UserWarning)


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


@dataclass
class _JobParts:
    """A primitive job's pubs, executions and qubits, gathered pub by pub as it is prepared."""

    kind: PubKind
    logical: list[Any] = field(default_factory=list)
    isa_pubs: list[Any] = field(default_factory=list)
    run_pubs: list[Any] = field(default_factory=list)
    executions: list[tuple[float, int]] = field(default_factory=list)
    """(seconds of one execution, its shots) for every executed circuit."""
    qubits: set[int] = field(default_factory=set)

    @property
    def shots(self) -> int:
        return sum(shots for _, shots in self.executions)

    def add(self, entry: CompiledCircuit, pub: Any, isa_pub: Any, run_pub: Any,
            executions: list[tuple[float, int]]) -> None:
        self.logical.append(pub)
        self.isa_pubs.append(isa_pub)
        self.run_pubs.append(run_pub)
        self.executions.extend(executions)
        self.qubits |= entry.qubits

    def job(self, timing: TimingModel) -> PreparedJob:
        return PreparedJob(self.kind, tuple(self.logical), tuple(self.isa_pubs),
                           tuple(self.run_pubs), len(self.executions), self.shots,
                           timing.job_microseconds(self.executions, len(self.logical)),
                           len(self.qubits))


class CacheInfo(NamedTuple):
    """Counters of a QPU's transpilation cache."""

    hits: int
    misses: int
    size: int


class CompiledCircuit:
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
        self._entries: dict[int, CompiledCircuit] = {}
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    # -- constructors ----------------------------------------------------------------

    @classmethod
    def ideal(cls, name: str = "qsession_ideal", num_qubits: int = 16, seed: int = 0, *,
              timing: TimingModel | None = None, strict_isa: bool = False) -> QPU:
        """A noiseless QPU on Qiskit's generic target (all-to-all, with gate durations)."""
        if not is_int_at_least(num_qubits, 2):
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
                          strict_isa: bool = False, name: str | None = None,
                          noise: bool = True) -> QPU:
        """A copy of a ``qiskit-ibm-runtime`` fake backend, by name or instance.

        ``fake`` may be ``fake_brisbane``, ``FakeBrisbaneV2`` or IBM's ``ibm_brisbane``;
        ``name`` renames the QPU (the server serves IBM's names); ``noise=False`` keeps
        the fake backend's data but runs Aer without its noise model.
        """
        backend = _fake_backend(fake) if isinstance(fake, str) else fake
        if not isinstance(backend, BackendV2):
            raise IBMBackendValueError(
                f"from_fake_backend takes a fake backend name such as 'fake_manila' or a "
                f"BackendV2 instance, not {type(fake).__name__}"
            )
        model = NoiseModel.from_backend(backend) if noise else None
        label = name or backend.name
        qpu = cls(label, backend.target, timing=timing, noise_model=model,
                  strict_isa=strict_isa,
                  description=f"qsession {'noisy' if noise else 'noiseless'} emulation of "
                              f"{label}")
        qpu.fake_backend = backend
        return qpu

    @staticmethod
    def fake_backend_names() -> list[str]:
        """IBM's names (``ibm_kyiv``) of the fake backends ``from_fake_backend`` knows, in
        the client's order; none without ``qiskit-ibm-runtime``."""
        try:
            classes = _fake_classes()
        except ImportError:
            return []
        return [f"ibm_{normal}" for normal in classes]

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
        """Calibration data: the fake backend's ``BackendProperties``; None on an ideal QPU
        and before the one calibration's date (``datetime``, IBM's argument)."""
        from . import backend_info

        return backend_info.properties(self, before=datetime)

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
        if not is_int_at_least(shots, 1):
            raise IBMInputValueError(
                f"shots={shots!r}: shots must be a positive integer, e.g. shots=4096"
            )
        parts = _JobParts("sampler")
        for where, pub, entry in self._compiled_pubs(pubs, "sampler", int(shots)):
            if pub.circuit.cregs and not entry.has_measure:
                raise IBMInputValueError(
                    f"{where}: the circuit has classical bits but no measurements, so every "
                    "sample would be zeros. Fix: add measurements, e.g. circuit.measure_all()"
                )
            isa_pub = pub if entry.isa is None else SamplerPub(
                entry.isa, pub.parameter_values, pub.shots, validate=False)
            parts.add(entry, pub, isa_pub, self._run_pub(entry, pub, isa_pub),
                      [(entry.seconds, pub.shots)] * check_sets(where, pub))
        if parts.shots > MAX_EXECUTIONS:
            raise IBMInputValueError(
                f"the sampler job has {parts.shots:,} executions (circuits x shots), over "
                f"IBM's job limit of {MAX_EXECUTIONS:,} executions per Sampler job. Fix: fewer "
                "shots or parameter sets, or split the pubs over several jobs"
            )
        return parts.job(self.timing)

    def prepare_estimator(self, pubs: Iterable[Any], precision: float) -> PreparedJob:
        """Validate estimator pubs, make them ISA and model their duration (``precision`` default).

        Each pub executes, per parameter set, one circuit per measurement basis (a group of
        qubit-wise commuting Pauli terms of its observables), with ``ceil(1/precision²)``
        shots each.
        """
        if not is_positive_real(precision):
            raise IBMInputValueError(
                f"precision={precision!r}: the precision must be a number > 0 (the target "
                "standard error; e.g. 0.015625 for about 4096 shots)"
            )
        parts = _JobParts("estimator")
        for where, pub, entry in self._compiled_pubs(pubs, "estimator", float(precision)):
            if entry.isa is None:
                isa_pub = pub
            else:
                observables = pub.observables.apply_layout(entry.isa.layout,
                                                           entry.isa.num_qubits)
                isa_pub = EstimatorPub(entry.isa, observables, pub.parameter_values,
                                       pub.precision, validate=False)
            circuits = check_sets(where, pub) * num_bases(*pauli_terms(pub.observables))
            run_pub = self._run_pub(entry, pub, isa_pub)
            if entry.has_measure:
                run_pub = _without_final_measurements(entry, run_pub)
            # An estimator circuit ends by measuring every qubit it uses.
            parts.add(entry, pub, isa_pub, run_pub,
                      [(entry.seconds + entry.readout_s,
                        shots_for_precision(pub.precision))] * circuits)
        return parts.job(self.timing)

    def _compiled_pubs(self, pubs: Iterable[Any], kind: PubKind,
                       default: float) -> Iterator[tuple[str, Any, CompiledCircuit]]:
        """Each pub coerced, checked against this QPU and compiled, with its name for errors."""
        for index, item in enumerate(pub_list(pubs, kind)):
            where = f"{kind} pub {index}"
            pub = coerce_pub(where, item, kind, default)
            if kind == "estimator":
                # An EstimatorPub given as such skips check_shape's look at its precision.
                check_precision_value(where, pub.precision)
                check_precision(where, pub.precision)
            self.check_width(where, pub.circuit)
            # No classical register: IBM warns (the primitive does) and the result is empty.
            if kind == "sampler" and not pub.circuit.cregs:
                _silence_aer_empty_result_warning()
            yield where, pub, self.compiled(where, pub.circuit)

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
        if prepared.num_qubits < AER_PARALLEL_QUBITS:
            # Below Aer's statevector-parallel threshold its threads only synchronise: on a
            # busy machine they made a 200-shot Bell job 3-6x slower (4-7 ms, not 1.2 ms).
            run_options["max_parallel_threads"] = 1
        if prepared.num_qubits > STATEVECTOR_QUBITS:
            run_options["method"] = "matrix_product_state"
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

    def compiled(self, where: str, circuit: QuantumCircuit) -> CompiledCircuit:
        """The circuit's cache entry (ISA version, duration, traits), compiled on a miss;
        refuses a non-ISA circuit when ``strict_isa`` is on."""
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
                 shape: tuple[int, ...]) -> CompiledCircuit:
        target = self._target
        instructions = list(circuit.data)
        unsupported = first_unsupported(circuit, target,
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
        used = used_qubits(physical)
        names = operation_names(circuit)
        return CompiledCircuit(
            weakref.ref(circuit, functools.partial(_forget, self._entries, id(circuit))),
            shape, instructions, isa, unsupported, seconds,
            self.timing.readout_seconds(target, sorted(used)), used,
            "measure" in names, names <= aer_instructions(),
        )

    def _pass_manager(self) -> Any:
        # Built on first need: the first build in a process imports the transpiler (~2 s),
        # later ones take ~6 ms; a fixed seed makes layout and routing reproducible.
        if self._pm is None:
            self._pm = generate_preset_pass_manager(optimization_level=1, target=self._target,
                                                    seed_transpiler=0)
        return self._pm

    # -- helpers ---------------------------------------------------------------------

    def check_width(self, where: str, circuit: QuantumCircuit) -> None:
        """Refuse a circuit wider than the QPU, naming ``where`` it came from."""
        if circuit.num_qubits > self._target.num_qubits:
            raise IBMInputValueError(
                f"{where}: the circuit has {circuit.num_qubits} qubits but {self.name} has "
                f"{self._target.num_qubits}. Fix: use at most {self._target.num_qubits} "
                "qubits, or a larger QPU"
            )

    def _run_pub(self, entry: CompiledCircuit, pub: Any, isa_pub: Any) -> Any:
        if self.noise_model is None and entry.aer_ok:
            return pub
        return isa_pub

    def __repr__(self) -> str:
        kind = "noisy" if self.noise_model is not None else "ideal"
        return f"<QPU {self.name!r} {kind} {self._target.num_qubits} qubits>"


def _without_final_measurements(entry: CompiledCircuit, pub: Any) -> Any:
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


def _forget(entries: dict[int, CompiledCircuit], key: int, ref: weakref.ref[Any]) -> None:
    # A weakref callback may run in any thread at any allocation, so it takes no lock: at
    # worst a racing re-insert for a reused id is dropped, which costs a cache miss.
    entry = entries.get(key)
    if entry is not None and entry.ref is ref:
        entries.pop(key, None)


# -- fake backends ---------------------------------------------------------------------


def _normal_name(name: str) -> str:
    """``fake_brisbane``, ``FakeBrisbaneV2``, ``ibm_brisbane`` and ``ibmq_brisbane`` alike."""
    text = re.sub(r"[^a-z0-9_]", "", name.lower())
    text = re.sub(r"^(fake_?|ibmq_|ibm_)", "", text).replace("_", "")
    return text.removesuffix("v2")


def _fake_classes() -> dict[str, str]:
    """The client's fake backend classes by normal name (``kyiv``: ``FakeKyivV2``)."""
    from qiskit_ibm_runtime import fake_provider

    return {_normal_name(attr): attr for attr in dir(fake_provider)
            if attr.startswith("Fake") and not attr.startswith("FakeProvider")}


def _fake_backend(name: str) -> BackendV2:
    """An instance of the ``qiskit-ibm-runtime`` fake backend called ``name``."""
    try:
        from qiskit_ibm_runtime import fake_provider

        classes = _fake_classes()
    except ImportError as exc:
        raise ImportError(
            f"the fake backend {name!r} comes from qiskit-ibm-runtime, an optional extra: "
            "pip install 'qsession[ibm]'"
        ) from exc
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
