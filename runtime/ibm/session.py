"""``Session`` and ``Batch``: the user's handle on a session, as in ``qiskit-ibm-runtime``.

A ``Session`` is created pending; its first job queues normally and activates it. Inside
``with Session(...) as s:`` primitives created without a mode (or with the session's own
backend) run in the session, and leaving the block calls ``close()`` — never ``cancel()``
— also when the block raises.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from qiskit.providers import BackendV2

from qsession.model import ACTIVE, CANCELED, CLOSED, EXPIRED, INACTIVE, PENDING, Mode

from ..engine.clock import iso, to_seconds, to_us
from ..engine.errors import IBMInputValueError
from ..engine.qpu import QPU
from ..engine.records import SessionRecord

if TYPE_CHECKING:
    from .service import LocalService

_current: ContextVar[Session | None] = ContextVar("qsession_current_session", default=None)

IBM_STATUS = {
    PENDING: "Pending",
    INACTIVE: "Pending",
    CLOSED: "Closed",
    CANCELED: "Closed",
    EXPIRED: "Closed",
}
"""``Session.status()`` of every state but active, whose text says whether it accepts jobs."""

IBM_STATE = {
    PENDING: "open",
    ACTIVE: "active",
    INACTIVE: "inactive",
    CLOSED: "closed",
    CANCELED: "closed",
    EXPIRED: "closed",
}
"""The model's six states in the four words of IBM's ``details()["state"]``."""


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
        # One token per ``with`` entered and not yet left: the same session may be
        # entered again inside its own block, and each exit restores what its entry saw.
        self._tokens: list[Token[Session | None]] = []
        if create_new is False:
            raise IBMInputValueError(
                "create_new=False attaches to an existing session: use "
                f"{type(self).__name__}.from_id(session_id, service) instead")
        scheduler = self._service.scheduler_of(self._backend)
        settings = scheduler.settings
        name = settings.check_instance(instance)
        # ITTL and max TTL belong to the instance's plan; Open refuses Session.
        settings.check_mode(name, self._mode)
        ittl = settings.interactive_timeout_of(name, self._mode)
        with self._service.call(), scheduler.clock.instant():
            self._record = scheduler.open_session(
                self._mode, max_time_us=to_us(settings.session_max_time(max_time, name)),
                ittl_us=to_us(ittl), instance=name)

    @classmethod
    def _attach(cls, service: LocalService, record: SessionRecord) -> Session:
        obj = cls.__new__(cls)
        obj._service = service
        obj._backend = service.backend(record.qpu)
        obj._record = record
        obj._tokens = []
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
    def record(self) -> SessionRecord:
        """The scheduler's record of this session (the runtime's own bookkeeping)."""
        return self._record

    @property
    def qpu(self) -> QPU:
        """The session's QPU object."""
        return self._backend

    # -- state -----------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The model's state: pending, active, inactive, closed, canceled or expired."""
        return self._record.state

    def status(self) -> str:
        """IBM's status string: Pending, In progress (accepting or not), or Closed."""
        with self._service.call(), self._service.clock.lock:
            state = self._record.state
            if state == ACTIVE:
                accepting = self._record.lifecycle.accepting_jobs
                return ("In progress, accepting new jobs" if accepting
                        else "In progress, not accepting new jobs")
            return IBM_STATUS[state]

    def details(self) -> dict[str, Any]:
        """The session's details with IBM's keys, values and types.

        ``state`` is IBM's word (open, active, inactive, closed; the model's own is
        ``session.state``), timestamps are ISO-8601 UTC strings ending in ``Z``, the
        timeouts ints of seconds, ``usage_time`` None until the session used the QPU.
        """
        with self._service.call(), self._service.clock.lock:
            r = self._record
            clock = self._service.clock
            remaining = r.max_time_us
            if r.started_at is not None:
                remaining = max(0, r.started_at + r.max_time_us - clock.now())
            return {
                "id": r.id,
                "backend_name": r.qpu,
                "interactive_timeout": _whole_seconds(r.ittl_us),
                "max_time": _whole_seconds(r.max_time_us),
                # No whole second left: IBM's REST answer has no active_ttl (its schema
                # allows 1 s and up), which the client's details() reads as None.
                "active_timeout": _whole_seconds(remaining) or None,
                "state": IBM_STATE[r.state],
                "accepting_jobs": r.lifecycle.accepting_jobs,
                "last_job_started": iso(clock, r.last_job_started),
                "last_job_completed": iso(clock, r.last_job_completed),
                "started_at": iso(clock, r.started_at),
                "closed_at": iso(clock, r.closed_at),
                "activated_at": iso(clock, r.activated_at),
                "mode": r.mode,
                "usage_time": self._usage_seconds(),
                "timestamps": [{"status": status, "timestamp": iso(clock, t)}
                               for status, t in _ibm_history(r)],
            }

    def usage(self) -> float | None:
        """Seconds billed (IBM's ``Session.usage``): None until the session used the QPU.

        A Session's is its active time, each span until it goes inactive, is closed or its
        last job completes, "whichever happens last"; a Batch's is its jobs' QPU time.
        """
        with self._service.call(), self._service.clock.lock:
            return self._usage_seconds()

    def _usage_seconds(self) -> float | None:
        r = self._record
        now = self._service.clock.now()
        if r.mode == "batch":
            ran = [j for j in r.jobs if j.running is not None]
            if not ran:
                return None
            return to_seconds(sum(j.usage_us if j.finished is not None else now - j.running
                                  for j in ran if j.running is not None))
        if r.activated_at is None:
            return None
        return to_seconds(r.billed_us(now))

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
        self._tokens.append(_current.set(self))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._tokens:
            # Unlike qiskit-ibm-runtime (which resets to None), restore an outer session.
            _current.reset(self._tokens.pop())
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


def _whole_seconds(us: int) -> int:
    """IBM's REST service gives timeouts as ints of seconds."""
    return round(us / 1_000_000)


def _ibm_history(r: SessionRecord) -> list[tuple[str, int]]:
    """The session's state changes in IBM's words, repeats (closed → closed) dropped."""
    out: list[tuple[str, int]] = []
    for state, t in r.history:
        status = IBM_STATE[state]
        if not out or out[-1][0] != status:
            out.append((status, t))
    return out
