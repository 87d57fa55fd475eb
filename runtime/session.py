"""``Session`` and ``Batch``: the user's handle on a session, as in ``qiskit-ibm-runtime``.

A ``Session`` is created pending; its first job queues normally and activates it. Inside
``with Session(...) as s:`` primitives created without a mode (or with the session's own
backend) run in the session, and leaving the block calls ``close()`` — never ``cancel()``
— also when the block raises.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from qiskit.providers import BackendV2

from qsession.model import ACTIVE, CANCELED, CLOSED, EXPIRED, INACTIVE, PENDING, Mode

from .clock import to_seconds, to_us
from .errors import IBMInputValueError
from .qpu import QPU
from .records import SessionRecord

if TYPE_CHECKING:
    from .service import LocalService

_current: ContextVar[Session | None] = ContextVar("qsession_current_session", default=None)

_STATUS = {
    PENDING: "Pending",
    INACTIVE: "Pending",
    CLOSED: "Closed",
    CANCELED: "Closed",
    EXPIRED: "Closed",
}


def current_session() -> Session | None:
    """The session of the innermost open ``with Session(...)`` block, if any."""
    return _current.get()


class Session:
    """A dedicated session on one QPU: jobs after the first jump the queue while it is active.

    ``backend`` is a QPU from a ``LocalService`` (or a backend name, with ``service``);
    ``max_time`` is seconds or a string like ``"2h 30m"`` (default: the QPU's plan default).
    """

    _mode: ClassVar[Mode] = "dedicated"

    def __init__(self, backend: QPU | str | None = None, max_time: float | str | None = None,
                 *, create_new: bool | None = True, service: LocalService | None = None,
                 instance: str | None = None) -> None:
        self._service, self._backend = _resolve_backend(backend, service)
        self._token: Token[Session | None] | None = None
        if create_new is False:
            raise IBMInputValueError(
                "create_new=False attaches to an existing session: use "
                f"{type(self).__name__}.from_id(session_id, service) instead")
        scheduler = self._service.scheduler_of(self._backend)
        settings = scheduler.settings
        ittl = (settings.interactive_timeout if self._mode == "dedicated"
                else settings.batch_interactive_timeout)
        with self._service.call(), scheduler.clock.instant():
            self._record = scheduler.open_session(
                self._mode, max_time_us=to_us(settings.session_max_time(max_time)),
                ittl_us=to_us(ittl), instance=settings.check_instance(instance))

    @classmethod
    def _attach(cls, service: LocalService, record: SessionRecord) -> Session:
        obj = cls.__new__(cls)
        obj._service = service
        obj._backend = service.backend(record.qpu)
        obj._record = record
        obj._token = None
        return obj

    @classmethod
    def from_id(cls, session_id: str, service: LocalService) -> Session:
        """The session (or batch) with id ``session_id`` on ``service``."""
        record = service.session_record(session_id)
        if record.mode != cls._mode:
            raise IBMInputValueError(f"Input ID {session_id} has execution mode {record.mode} "
                                     f"instead of {cls._mode}.")
        return cls._attach(service, record)

    # -- identity --------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self._record.id

    @property
    def service(self) -> LocalService:
        """The service the session runs on."""
        return self._service

    def backend(self) -> str:
        """The name of the session's QPU (IBM returns the name, not the object)."""
        return str(self._backend.name)

    @property
    def qpu(self) -> QPU:
        """The session's QPU object."""
        return self._backend

    # -- state -----------------------------------------------------------------------

    def status(self) -> str:
        """IBM's status string: Pending, In progress (accepting or not), or Closed."""
        with self._service.call(), self._service.clock.lock:
            state = self._record.state
            if state == ACTIVE:
                accepting = self._record.lifecycle.accepting_jobs
                return ("In progress, accepting new jobs" if accepting
                        else "In progress, not accepting new jobs")
            return _STATUS[state]

    def details(self) -> dict[str, Any]:
        """The session's details with IBM's keys; ``state`` is the model's state name."""
        with self._service.call(), self._service.clock.lock:
            r = self._record
            clock = self._service.clock
            remaining = r.max_time_us
            if r.started_at is not None:
                remaining = max(0, r.started_at + r.max_time_us - clock.now())
            return {
                "id": r.id,
                "backend_name": r.qpu,
                "interactive_timeout": to_seconds(r.ittl_us),
                "max_time": to_seconds(r.max_time_us),
                "active_timeout": to_seconds(remaining),
                "state": r.state,
                "accepting_jobs": r.lifecycle.accepting_jobs,
                "last_job_started": _when(clock, r.last_job_started),
                "last_job_completed": _when(clock, r.last_job_completed),
                "started_at": _when(clock, r.started_at),
                "closed_at": _when(clock, r.closed_at),
                "activated_at": _when(clock, r.activated_at),
                "mode": r.mode,
                "usage_time": self._usage_seconds(),
            }

    def usage(self) -> float:
        """Seconds billed: active time for a Session, its jobs' QPU time for a Batch."""
        with self._service.call(), self._service.clock.lock:
            return self._usage_seconds()

    def _usage_seconds(self) -> float:
        r = self._record
        if r.mode == "batch":
            running = [j for j in r.jobs if j.running is not None and j.finished is None]
            now = self._service.clock.now()
            return to_seconds(sum(j.usage_us for j in r.jobs) +
                              sum(now - j.running for j in running if j.running is not None))
        usage = r.usage_us
        if r.state == ACTIVE and r.activated_at is not None:
            usage += self._service.clock.now() - r.activated_at
        return to_seconds(usage)

    # -- ending ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop accepting jobs; queued jobs still run. Closing an ended session does nothing."""
        with self._service.call():
            self._service.scheduler_of(self._record.qpu).close(self._record)

    def cancel(self) -> None:
        """Cancel queued jobs now and end the session; a running job completes."""
        with self._service.call():
            self._service.scheduler_of(self._record.qpu).cancel(self._record)

    def __enter__(self) -> Session:
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            # Unlike qiskit-ibm-runtime (which resets to None), restore an outer session.
            _current.reset(self._token)
            self._token = None
        self.close()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.session_id} on {self._backend.name}: "
                f"{self._record.state}>")


class Batch(Session):
    """A batch: a session that never holds the QPU idle; its queued jobs go first once started."""

    _mode: ClassVar[Mode] = "batch"


def _resolve_backend(backend: QPU | str | None,
                     service: LocalService | None) -> tuple[LocalService, QPU]:
    if isinstance(backend, BackendV2) and not isinstance(backend, QPU) and service is None:
        # IBM's local mode: Session(backend=FakeManilaV2()) runs on the QPU copied from it.
        from .local_mode import qpu_for

        backend = qpu_for(backend)
    if isinstance(backend, QPU):
        owner = getattr(backend, "service", None)
        if owner is None:
            raise IBMInputValueError(
                f"backend {backend.name!r} belongs to no service; get QPUs from "
                "LocalService().backend() (or add it with service.add_backend)")
        if service is not None and service is not owner:
            raise IBMInputValueError(
                f"backend {backend.name!r} belongs to another service than the one given")
        return owner, backend
    if service is None:
        raise IBMInputValueError(
            "Session needs a backend: pass a QPU from LocalService().backend(), or a backend "
            "name together with service=")
    return service, service.backend(backend)


def _when(clock: Any, us: int | None) -> datetime | None:
    return None if us is None else clock.datetime(us)
