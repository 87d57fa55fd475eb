"""IBM's client-side ``Sampler`` and ``Estimator`` (its ``executor_*`` modules) on emulated QPUs.

IBM's ``executor_sampler.Sampler`` and ``executor_estimator.Estimator`` turn pubs into a
``QuantumProgram`` on the client (boxing, twirling, measurement-noise learning) and decode
the executor's result on the client (TREX rescaling, the Sampler's bit arrays). qsession
subclasses IBM's classes, keeping their options handling, ``finalize_options`` and
``find_unique_layers``, and calls the client's own ``prepare`` functions: only the mode
(a qsession ``Session``, ``Batch`` or QPU) and the submission (a qsession executor job)
are qsession's.

``Sampler(mode=None, options=None)`` with ``run(pubs, *, shots=None, dry_run=False)`` and
``Estimator(mode=None, options=None)`` with ``run(pubs, *, precision=None,
dry_run=False)`` are IBM's. The pubs become a ``QuantumProgram`` through the client's own
``prepare`` (boxing and twirling when ``options.twirling`` asks for it; measurement bases
and measurement-noise learning at resilience level 1 for the Estimator), the program runs
as an ``executor`` job, and ``job.result()`` is the client's post-processed
``PrimitiveResult``. IBM's module paths ``qsession.runtime.executor_sampler`` and
``qsession.runtime.executor_estimator`` name these classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.exceptions import QiskitError
from qiskit.primitives.base import BaseEstimatorV2, BaseSamplerV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_ibm_runtime.executor_estimator import Estimator as _IBMEstimator
from qiskit_ibm_runtime.executor_estimator.prepare import prepare as prepare_estimator
from qiskit_ibm_runtime.executor_sampler import Sampler as _IBMSampler
from qiskit_ibm_runtime.executor_sampler.prepare import prepare as prepare_sampler
from qiskit_ibm_runtime.options_models import EstimatorOptions, SamplerOptions

from ..engine.errors import IBMInputValueError
from ..engine.pubs import check_shape, diagnose
from ..engine.qpu import QPU
from .executor import submit_program
from .job import RuntimeJobV2
from .session import Session
from .submission import note_dry_run, resolve_mode


class ClientSidePrimitive:
    """Mode resolution and submission for a client-side primitive (mixed into IBM's class)."""

    _kind: str
    _session: Session | None
    _backend: QPU
    _prepare: Callable[..., tuple[Any, Any]]
    _role: str

    def _init_mode(self, mode: Session | QPU | None) -> None:
        session, backend = resolve_mode(mode)
        self._session = session
        self._backend = backend

    def backend(self) -> QPU:
        """The QPU the primitive runs on."""
        return self._backend

    @property
    def mode(self) -> Session | None:
        """The session or batch the primitive runs in (None in job mode)."""
        return self._session

    def _submit(self, pubs: Iterable[Any], default: Any, dry_run: bool) -> RuntimeJobV2:
        note_dry_run(dry_run)
        qpu = self.backend()
        isa = isa_pubs(qpu, pubs, self._kind)
        # add_tags=False as IBM's client does for its cloud service: the tags only steer
        # local-mode noise injection.
        program, executor_options = self._prepare(
            isa, getattr(self, "options"), default, add_tags=False, backend=qpu)  # noqa: B009
        program._semantic_role = self._role
        return submit_program(qpu, self.mode, program, executor_options, instance=None)


def isa_pubs(qpu: QPU, pubs: Iterable[Any], kind: str) -> list[Any]:
    """The pubs coerced, their circuits checked as ISA (or transpiled, ``strict_isa=False``)."""
    if isinstance(pubs, QuantumCircuit | SamplerPub | EstimatorPub):
        raise IBMInputValueError(
            f"{kind} pubs must be a list of pubs, not a single {type(pubs).__name__}. Fix: "
            "wrap it in a list")
    out: list[Any] = []
    for index, item in enumerate(pubs):
        where = f"{kind} pub {index}"
        check_shape(where, item, kind)  # type: ignore[arg-type]
        try:
            pub = (SamplerPub.coerce(item, None) if kind == "sampler"
                   else EstimatorPub.coerce(item, None))
        except (ValueError, TypeError, QiskitError, AttributeError, IndexError) as exc:
            raise IBMInputValueError(
                f"{where}: {exc} Fix: {diagnose(item, kind)}") from exc  # type: ignore[arg-type]
        qpu.check_width(where, pub.circuit)
        entry = qpu.compiled(where, pub.circuit)  # refuses non-ISA circuits when strict
        if entry.isa is not None:
            if kind == "sampler":
                pub = SamplerPub(entry.isa, pub.parameter_values, pub.shots, validate=False)
            else:
                observables = pub.observables.apply_layout(entry.isa.layout,
                                                           entry.isa.num_qubits)
                pub = EstimatorPub(entry.isa, observables, pub.parameter_values,
                                   pub.precision, validate=False)
        out.append(pub)
    if not out:
        raise IBMInputValueError("No pubs provided. At least one pub is required.")
    return out


class Sampler(ClientSidePrimitive, _IBMSampler):
    """Samples circuits through IBM's client-side processing and an emulated QPU."""

    _kind = "sampler"
    _role = "sampler_v2"
    _prepare = staticmethod(prepare_sampler)

    def __init__(self, mode: Session | QPU | None = None,
                 options: SamplerOptions | dict[str, Any] | None = None) -> None:
        BaseSamplerV2.__init__(self)  # IBM's own __init__ resolves IBM's modes only
        self._init_mode(mode)
        self.options = options if options is not None else SamplerOptions()

    def run(self, pubs: Iterable[Any], *, shots: int | None = None,
            dry_run: bool = False) -> RuntimeJobV2:
        """Submit sampler pubs (``circuit`` or ``(circuit, values[, shots])``); returns a job."""
        return self._submit(pubs, shots, dry_run)


class Estimator(ClientSidePrimitive, _IBMEstimator):
    """Estimates expectation values through IBM's client-side processing and an emulated QPU."""

    _kind = "estimator"
    _role = "estimator_v2"
    _prepare = staticmethod(prepare_estimator)

    def __init__(self, mode: Session | QPU | None = None,
                 options: EstimatorOptions | dict[str, Any] | None = None) -> None:
        BaseEstimatorV2.__init__(self)  # IBM's own __init__ resolves IBM's modes only
        self._init_mode(mode)
        self.options = options if options is not None else EstimatorOptions()

    def run(self, pubs: Iterable[Any], *, precision: float | None = None,
            dry_run: bool = False) -> RuntimeJobV2:
        """Submit estimator pubs ``(circuit, observables[, values[, precision]])``."""
        return self._submit(pubs, precision, dry_run)
