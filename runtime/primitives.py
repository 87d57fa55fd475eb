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
from qiskit.providers import BackendV2

from .clock import to_seconds, to_us
from .errors import IBMInputValueError
from .job import RuntimeJobV2
from .options import EstimatorOptions, SamplerOptions, UnsetType, _PrimitiveOptions
from .qpu import QPU
from .records import JobKind
from .session import Session, current_session
from .settings import job_time_limit

if TYPE_CHECKING:
    from .service import LocalService


class _Primitive:
    """What both primitives share: mode resolution, options and submission."""

    _kind: ClassVar[JobKind]
    _options_class: ClassVar[type[_PrimitiveOptions]]
    version = 2

    def __init__(self, mode: Session | QPU | None = None,
                 options: Mapping[str, Any] | _PrimitiveOptions | None = None, *,
                 instance: str | None = None) -> None:
        self._session, self._backend = _resolve_mode(mode)
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
        service: LocalService = self._backend.service
        noise = self._options.simulator.noise_model
        if noise is not None and not isinstance(noise, UnsetType):
            prepared = dataclasses.replace(prepared, noise_model=noise)
        prepared = _with_rep_delay(prepared, self._options, self._backend)
        scheduler = service.scheduler_of(self._backend)
        options = self._options
        owner = None if self._session is None else self._session._record
        requested = options.max_execution_time
        limit = job_time_limit(None if isinstance(requested, UnsetType) else requested,
                               None if owner is None else to_seconds(owner.max_time_us))
        _report_not_emulated(service, options)
        with service.call(), scheduler.clock.instant():
            seed = options.seed
            if seed is None:
                seed = service.next_seed()
            record = scheduler.submit(
                owner,
                instance=self._instance,
                kind=self._kind,
                payload=prepared,
                duration_us=prepared.duration_us,
                seed=seed,
                time_limit_us=to_us(limit),
                circuits=prepared.num_circuits,
                shots=prepared.shots,
                tags=tuple(options.job_tags),
            )
            record.inputs = {"pubs": list(prepared.pubs), "options": options.to_dict(unset=False),
                             "not_emulated": options.not_emulated()}
        return RuntimeJobV2(service, record)


class SamplerV2(_Primitive):
    """Samples measurement outcomes of circuits on an emulated QPU."""

    _kind = "sampler"
    _options_class = SamplerOptions

    def run(self, pubs: Iterable[Any], *, shots: int | None = None,
            dry_run: bool = False) -> RuntimeJobV2:
        """Submit sampler pubs (``circuit`` or ``(circuit, values[, shots])``); returns a job.

        ``dry_run=True`` runs the job as usual (see ``_note_dry_run``).
        """
        _note_dry_run(dry_run)
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
        _note_dry_run(dry_run)
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


def _note_dry_run(dry_run: bool) -> None:
    """IBM's ``dry_run`` returns random mock data from a mock device; here the job runs."""
    if not isinstance(dry_run, bool):
        raise IBMInputValueError(f"dry_run must be True or False, not {dry_run!r}")
    if dry_run:
        warnings.warn(
            "dry_run=True is accepted, not emulated: the job runs on the emulated QPU as "
            "usual (its results are simulated, not random mock data, and it takes QPU time)",
            UserWarning, stacklevel=3)


def _with_rep_delay(prepared: Any, options: _PrimitiveOptions, qpu: QPU) -> Any:
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


def _report_not_emulated(service: LocalService, options: _PrimitiveOptions) -> None:
    """Warn once per service and option name about options that only hardware honours."""
    reported = service._not_emulated_reported
    fresh = [name for name in options.not_emulated() if name not in reported]
    if fresh:
        reported.update(fresh)
        warnings.warn(
            f"options accepted, not emulated (an emulated QPU has no hardware for them; they "
            f"are kept in job.inputs): {', '.join(fresh)}", UserWarning, stacklevel=4)


def _resolve_mode(mode: Session | QPU | None) -> tuple[Session | None, QPU]:
    context = current_session()
    if isinstance(mode, BackendV2) and not isinstance(mode, QPU):
        # IBM's local mode: a fake backend object runs on the QPU copied from it.
        from .local_mode import qpu_for

        mode = qpu_for(mode)
    if isinstance(mode, Session):
        return mode, mode.qpu
    if isinstance(mode, QPU):
        if context is None:
            return None, mode
        if context.qpu is not mode:
            raise ValueError(
                "The backend passed in to the primitive is different from the session "
                "backend. Please check which backend you intend to use or leave the mode "
                "parameter empty to use the session backend.")
        return context, mode
    if mode is None:
        if context is None:
            raise ValueError("A backend or session must be specified.")
        return context, context.qpu
    raise ValueError(f"mode must be of type Backend, Session, Batch or None, not "
                     f"{type(mode).__name__}")


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
