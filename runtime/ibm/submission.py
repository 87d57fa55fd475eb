"""The one door a job of any primitive goes through into a QPU's scheduler.

``SamplerV2``/``EstimatorV2`` (``primitives``), IBM's ``Executor`` and its client-side
Sampler and Estimator (``executor``, ``client_side``) each prepare their payload their own
way; what happens next is the same for all of them and is written here once: the mode is
resolved (a session, a batch or a QPU, or the ``with`` block's session), ``dry_run`` is
noted, options only hardware honours are reported once per service, the job's time limit
is the smaller of what was asked and the session's ``max_time``, and the scheduler queues
it with its seed, size and tags under the service's lock.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit.providers import BackendV2

from ..engine.clock import to_seconds, to_us
from ..engine.errors import IBMInputValueError
from ..engine.qpu import QPU
from ..engine.records import JobKind
from ..engine.settings import job_time_limit
from .job import RuntimeJobV2
from .session import Session, current_session

if TYPE_CHECKING:
    from .service import LocalService


def resolve_mode(mode: Session | QPU | None) -> tuple[Session | None, QPU]:
    """The session (None in job mode) and QPU a primitive given ``mode`` runs on, as IBM's
    primitives resolve it (inside ``with Session(...)`` a primitive without a mode joins it)."""
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


def note_dry_run(dry_run: bool) -> None:
    """IBM's ``dry_run`` returns random mock data from a mock device; here the job runs."""
    if not isinstance(dry_run, bool):
        raise IBMInputValueError(f"dry_run must be True or False, not {dry_run!r}")
    if dry_run:
        warnings.warn(
            "dry_run=True is accepted, not emulated: the job runs on the emulated QPU as "
            "usual (its results are simulated, not random mock data, and it takes QPU time)",
            UserWarning, stacklevel=3)


def report_not_emulated(service: LocalService, names: Sequence[str]) -> None:
    """Warn once per service and option name about options that only hardware honours."""
    fresh = service.first_reports_of(names)
    if fresh:
        warnings.warn(
            f"options accepted, not emulated (an emulated QPU has no hardware for them; they "
            f"are kept in job.inputs): {', '.join(fresh)}", UserWarning, stacklevel=5)


def submit_job(qpu: QPU, session: Session | None, *, kind: JobKind, prepared: Any,
               instance: str | None, seed: int | None, max_execution_time: float | None,
               tags: Sequence[str], inputs: Mapping[str, Any],
               not_emulated: Sequence[str]) -> RuntimeJobV2:
    """Queue one prepared job on ``qpu`` (in ``session``, or job mode) and return it.

    ``prepared`` has ``duration_us``, ``num_circuits`` and ``shots``; ``seed`` None draws
    the service's next one; ``max_execution_time`` (seconds, None: the service's cap) is
    also capped by the session's ``max_time``.
    """
    service = qpu.service
    scheduler = service.scheduler_of(qpu)
    owner = None if session is None else session.record
    limit = job_time_limit(max_execution_time,
                           None if owner is None else to_seconds(owner.max_time_us))
    report_not_emulated(service, not_emulated)
    with service.call(), scheduler.clock.instant():
        record = scheduler.submit(
            owner,
            instance=scheduler.settings.check_instance(instance),
            kind=kind,
            payload=prepared,
            duration_us=prepared.duration_us,
            seed=service.next_seed() if seed is None else seed,
            time_limit_us=to_us(limit),
            circuits=prepared.num_circuits,
            shots=prepared.shots,
            tags=tuple(tags),
        )
        record.inputs = {**inputs, "not_emulated": list(not_emulated)}
    return RuntimeJobV2(service, record)
