"""``SamplerV2`` and ``EstimatorV2`` with ``qiskit-ibm-runtime``'s constructor, ``run`` and options.

``mode`` is a ``Session``, a ``Batch`` or a QPU (job mode). As in IBM's client, a
primitive built with no mode inside ``with Session(...)`` runs in that session, and so
does one built with the session's own QPU; the mode is fixed when the primitive is built.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from qiskit.circuit import QuantumCircuit

from ..engine.errors import IBMInputValueError
from ..engine.qpu import QPU
from ..engine.records import JobKind
from .job import RuntimeJobV2
from .options import EstimatorOptions, PrimitiveOptions, SamplerOptions, UnsetType
from .session import Session
from .submission import note_dry_run, resolve_mode, submit_job

if TYPE_CHECKING:
    pass


class _Primitive:
    """What both primitives share: mode resolution, options and submission."""

    _kind: ClassVar[JobKind]
    _options_class: ClassVar[type[PrimitiveOptions]]
    version = 2

    def __init__(self, mode: Session | QPU | None = None,
                 options: Mapping[str, Any] | PrimitiveOptions | None = None, *,
                 instance: str | None = None) -> None:
        self._session, self._backend = resolve_mode(mode)
        if self._backend.service is None:
            raise IBMInputValueError(
                f"backend {self._backend.name!r} belongs to no service. Fix: get QPUs from "
                "LocalService().backend() (or add this one with service.add_backend(qpu))")
        self._options = self._options_class.build(options)
        # Job mode bills an instance (fair share); in a session the session's instance wins.
        scheduler = self._backend.service.scheduler_of(self._backend)
        self._instance = scheduler.settings.check_instance(instance)

    @property
    def mode(self) -> Session | None:
        """The session or batch the primitive runs in (None in job mode)."""
        return self._session

    @property
    def options(self) -> Any:
        """The primitive's options (attributes may be set: ``options.default_shots = 100``)."""
        return self._options

    def backend(self) -> QPU:
        """The QPU the primitive runs on."""
        return self._backend

    def _submit(self, prepared: Any) -> RuntimeJobV2:
        options = self._options
        noise = options.simulator.noise_model
        if noise is not None and not isinstance(noise, UnsetType):
            prepared = dataclasses.replace(prepared, noise_model=noise)
        prepared = _with_rep_delay(prepared, options, self._backend)
        requested = options.max_execution_time
        return submit_job(
            self._backend, self._session, kind=self._kind, prepared=prepared,
            instance=self._instance, seed=options.seed,
            max_execution_time=None if isinstance(requested, UnsetType) else requested,
            tags=list(options.job_tags),
            inputs={"pubs": list(prepared.pubs), "options": options.to_dict(unset=False)},
            not_emulated=options.not_emulated())


class SamplerV2(_Primitive):
    """Samples measurement outcomes of circuits on an emulated QPU."""

    _kind = "sampler"
    _options_class = SamplerOptions

    def run(self, pubs: Iterable[Any], *, shots: int | None = None,
            dry_run: bool = False) -> RuntimeJobV2:
        """Submit sampler pubs (``circuit`` or ``(circuit, values[, shots])``); returns a job.

        ``dry_run=True`` runs the job as usual (see ``submission.note_dry_run``).
        """
        note_dry_run(dry_run)
        pubs = _as_pub_list(pubs, "SamplerV2", "sampler.run([circuit])")
        if shots is None:
            shots = self._options.shots
        if isinstance(shots, bool) or not isinstance(shots, int | np.integer) or shots <= 0:
            raise IBMInputValueError(f"shots must be a positive int, not {shots!r}")
        prepared = self._backend.prepare_sampler(pubs, int(shots))
        for index, pub in enumerate(prepared.pubs):
            if not pub.circuit.cregs:
                # IBM's client warns (utils/validations.py, validate_classical_registers).
                warnings.warn(
                    f"The {index}-th circuit has no output classical registers so the result "
                    "will be empty. Did you mean to add measurement instructions?",
                    UserWarning, stacklevel=2)
        return self._submit(prepared)


class EstimatorV2(_Primitive):
    """Estimates expectation values of observables on an emulated QPU."""

    _kind = "estimator"
    _options_class = EstimatorOptions

    def run(self, pubs: Any, observables: Any = None, *, precision: float | None = None,
            parameter_values: Any = None, dry_run: bool = False) -> RuntimeJobV2:
        """Submit estimator pubs ``(circuit, observables[, values[, precision]])``.

        The V1 form ``run(circuit, observable, parameter_values=values)`` (used by IBM's
        session guide) is accepted too: it becomes one pub, and the result's ``.values``
        holds its expectation values.
        """
        note_dry_run(dry_run)
        if observables is not None or parameter_values is not None:
            pubs = _v1_pubs(pubs, observables, parameter_values)
        pubs = _as_pub_list(pubs, "EstimatorV2", "estimator.run([(circuit, observable)])")
        if precision is None:
            precision = self._options.precision()
        if isinstance(precision, bool) or not isinstance(precision, int | float) or not (
            np.isfinite(precision) and precision > 0
        ):
            raise IBMInputValueError(
                f"The precision value must be strictly greater than 0 (got {precision!r}).")
        prepared = self._backend.prepare_estimator(pubs, float(precision))
        return self._submit(prepared)


def _with_rep_delay(prepared: Any, options: PrimitiveOptions, qpu: QPU) -> Any:
    """The job's modeled time with ``execution.rep_delay`` in place of the QPU's default.

    Every shot waits one repetition delay, so the job takes
    ``shots × (rep_delay - default)`` longer (or shorter).
    """
    rep_delay = options.execution.rep_delay  # type: ignore[attr-defined]
    if isinstance(rep_delay, UnsetType):
        return prepared
    if rep_delay < 0:
        raise IBMInputValueError(
            f"execution.rep_delay={rep_delay!r}: a repetition delay is seconds >= 0 "
            f"(IBM QPUs take 0 to 500e-6; the default is {qpu.timing.rep_delay_s!r})")
    change = round(prepared.shots * (rep_delay - qpu.timing.rep_delay_s) * 1e6)
    return dataclasses.replace(prepared, duration_us=max(1, prepared.duration_us + change))


def _as_pub_list(pubs: Any, primitive: str, example: str) -> list[Any]:
    if isinstance(pubs, QuantumCircuit) or (
        isinstance(pubs, tuple) and pubs and isinstance(pubs[0], QuantumCircuit)
    ):
        raise IBMInputValueError(
            f"{primitive}.run takes a list of pubs; wrap a single pub in a list, "
            f"e.g. {example}")
    try:
        return list(pubs)
    except TypeError:
        raise IBMInputValueError(
            f"{primitive}.run takes a list of pubs, not {type(pubs).__name__}; "
            f"e.g. {example}") from None


def _v1_pubs(circuits: Any, observables: Any, values: Any) -> list[Any]:
    """The V1 call (circuits, observables, parameter_values) as V2 pubs."""
    if isinstance(circuits, QuantumCircuit):
        pub = (circuits, observables) if values is None else (circuits, observables, values)
        return [pub]
    fix = ("give one observable (and one parameter value set) per circuit, e.g. "
           "estimator.run([circuit], [observable]), or the V2 form "
           "estimator.run([(circuit, observable)])")
    circuits = _listed(circuits, "circuits", fix)
    observables = (_listed(observables, "observables", fix) if observables is not None
                   else [None] * len(circuits))
    values = (_listed(values, "parameter_values", fix) if values is not None
              else [None] * len(circuits))
    if not len(circuits) == len(observables) == len(values):
        raise IBMInputValueError(
            f"V1-style run got {len(circuits)} circuits, {len(observables)} observables and "
            f"{len(values)} parameter value sets; give one of each per circuit")
    return [(c, o) if v is None else (c, o, v)
            for c, o, v in zip(circuits, observables, values, strict=True)]


def _listed(value: Any, what: str, fix: str) -> list[Any]:
    """A V1-style argument given for several circuits: a list (or tuple) of them."""
    if not isinstance(value, list | tuple):
        raise IBMInputValueError(
            f"EstimatorV2.run got several circuits in the V1 form, so {what} must be a list "
            f"with one entry per circuit, not {type(value).__name__} {value!r}. Fix: {fix}")
    return list(value)
