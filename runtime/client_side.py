"""What IBM's client-side Sampler and Estimator share here: mode, ISA pubs, submission.

IBM's ``executor_sampler.Sampler`` and ``executor_estimator.Estimator`` turn pubs into a
``QuantumProgram`` on the client (boxing, twirling, measurement-noise learning) and decode
the executor's result on the client (TREX rescaling, the Sampler's bit arrays). qsession
subclasses IBM's classes, keeping their options handling, ``finalize_options`` and
``find_unique_layers``, and calls the client's own ``prepare`` functions: only the mode
(a qsession ``Session``, ``Batch`` or QPU) and the submission (a qsession executor job)
are qsession's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.exceptions import QiskitError
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub

from .errors import IBMInputValueError
from .executor import submit_program
from .job import RuntimeJobV2
from .pubs import check_shape, diagnose
from .qpu import QPU
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
