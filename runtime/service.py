"""``LocalService``: hands out emulated QPUs, owns the clock, the schedulers and the trace.

It plays the part of ``QiskitRuntimeService`` (``backend()``, ``backends()``,
``least_busy()``, ``job()``, ``jobs()``) and adds time control for virtual clocks:
``now()``, ``advance(seconds)`` and ``run_until_idle()``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .clock import DEFAULT_EPOCH, Clock, MeasuredClock, Timer, VirtualClock, WallClock, to_us
from .errors import IBMBackendValueError, IBMInputValueError, RuntimeJobNotFound
from .fairshare import FairShare
from .qpu import QPU
from .records import JobRecord, SessionRecord
from .scheduler import Scheduler
from .settings import QPUSettings
from .trace import Trace

if TYPE_CHECKING:
    from .job import RuntimeJobV2

ClockKind = Literal["virtual", "wall", "measured"]
USER_PRIORITY = 10
"""User callbacks run after the runtime's own timers due at the same instant."""
BackendSpec = QPU | str | tuple[QPU | str, Mapping[str, Any]]

_SETTING_NAMES = ("interactive_timeout", "batch_interactive_timeout", "max_time",
                  "max_time_limit", "instances", "fair_share_window", "idle_close_timeout")


class LocalService:
    """A local stand-in for ``QiskitRuntimeService`` whose QPUs honour sessions.

    ``backends`` lists the QPUs: a ``QPU``, a fake backend name such as
    ``"fake_manila"`` (needs ``qsession[ibm]``), or a ``(qpu, {"interactive_timeout":
    ...})`` pair overriding the service-wide settings for that QPU. Without it the
    service has one ideal 16-qubit QPU, ``qsession_ideal``.
    """

    def __init__(
        self,
        *,
        clock: ClockKind | Clock = "virtual",
        seed: int | None = None,
        epoch: datetime = DEFAULT_EPOCH,
        backends: Sequence[BackendSpec] | None = None,
        interactive_timeout: float = 60.0,
        batch_interactive_timeout: float = 1.0,
        max_time: float | str = 8 * 3600.0,
        max_time_limit: float | str | None = None,
        instances: Mapping[str, Any] | None = None,
        fair_share_window: float = 28 * 86_400.0,
        idle_close_timeout: float | None = 1800.0,
        speed: float = 1.0,
        scale: float = 1.0,
        strict_isa: bool = False,
        execution_timeout: float | None = 600.0,
        trace: Trace | None = None,
    ) -> None:
        self.clock = _make_clock(clock, epoch, speed, scale)
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self._rng = random.Random(self.seed)
        self.strict_isa = strict_isa
        if execution_timeout is not None and not (
                isinstance(execution_timeout, int | float) and execution_timeout > 0):
            raise IBMInputValueError(
                f"execution_timeout must be a positive number of wall seconds or None, not "
                f"{execution_timeout!r}")
        self.execution_timeout = execution_timeout
        self.defaults: dict[str, Any] = {
            "interactive_timeout": interactive_timeout,
            "batch_interactive_timeout": batch_interactive_timeout,
            "max_time": max_time,
            "max_time_limit": max_time_limit,
            "fair_share_window": fair_share_window,
            "idle_close_timeout": idle_close_timeout,
        }
        if instances is not None:
            self.defaults["instances"] = instances
        defaults = QPUSettings(**self.defaults)  # validate the service-wide defaults early
        # One fair-share ledger for all QPUs: an instance's use counts across them (SPEC §5).
        self.fair_share = FairShare(defaults.allocations, to_us(defaults.fair_share_window))
        self.trace = trace if trace is not None else Trace(epoch=self.clock.epoch)
        self.trace.meta.update({"clock": self.clock.kind, "seed": self.seed})
        self._ids = itertools.count(1)
        self._qpus: dict[str, QPU] = {}
        self.schedulers: dict[str, Scheduler] = {}
        for spec in backends if backends is not None else [QPU.ideal()]:
            qpu, overrides = spec if isinstance(spec, tuple) else (spec, {})
            self.add_backend(qpu, **overrides)

    # -- QPUs ------------------------------------------------------------------------

    def add_backend(self, qpu: QPU | str, **overrides: Any) -> QPU:
        """Add a QPU (or a fake backend by name) with optional per-QPU settings."""
        if isinstance(qpu, str):
            qpu = QPU.from_fake_backend(qpu)
        if not isinstance(qpu, QPU):
            raise IBMBackendValueError(
                f"backends must be qsession QPUs or fake backend names, not {type(qpu).__name__}"
            )
        if qpu.name in self._qpus:
            raise IBMBackendValueError(f"this service already has a backend named {qpu.name!r}")
        unknown = set(overrides) - set(_SETTING_NAMES)
        if unknown:
            raise IBMInputValueError(f"unknown backend setting(s) {sorted(unknown)}; "
                                     f"settings are {', '.join(_SETTING_NAMES)}")
        if getattr(qpu, "service", None) not in (None, self):
            raise IBMBackendValueError(f"backend {qpu.name!r} belongs to another service")
        settings = QPUSettings(**{**self.defaults, **overrides})
        if self.strict_isa:
            qpu.strict_isa = True
        qpu.service = self
        self._qpus[qpu.name] = qpu
        self.schedulers[qpu.name] = Scheduler(qpu.name, self.clock, self.trace, settings,
                                              qpu.execute, ids=self._ids,
                                              execution_timeout=self.execution_timeout,
                                              fair_share=self.fair_share)
        backends = self.trace.meta.get("backends")
        self.trace.meta["backends"] = f"{backends},{qpu.name}" if backends else qpu.name
        return qpu

    def backends(self, name: str | None = None, min_num_qubits: int | None = None,
                 **_filters: Any) -> list[QPU]:
        """The QPUs, optionally filtered by name and minimum width."""
        return [q for q in self._qpus.values()
                if (name is None or q.name == name)
                and (min_num_qubits is None or q.num_qubits >= min_num_qubits)]

    def backend(self, name: str | None = None) -> QPU:
        """The QPU called ``name`` (default: the first one)."""
        if name is None:
            return next(iter(self._qpus.values()))
        try:
            return self._qpus[name]
        except KeyError:
            raise IBMBackendValueError(
                f"no backend named {name!r}; this service has {', '.join(self._qpus)}"
            ) from None

    def least_busy(self, min_num_qubits: int | None = None, **filters: Any) -> QPU:
        """The QPU with the fewest queued jobs (ties: the first)."""
        candidates = self.backends(min_num_qubits=min_num_qubits, **filters)
        if not candidates:
            raise IBMBackendValueError("no backend matches the criteria")
        return min(candidates, key=lambda q: self.schedulers[q.name].queued_count)

    def scheduler_of(self, qpu: QPU | str) -> Scheduler:
        """The scheduler of one of this service's QPUs."""
        name = qpu if isinstance(qpu, str) else qpu.name
        if name not in self.schedulers or (not isinstance(qpu, str) and
                                           self._qpus[name] is not qpu):
            raise IBMBackendValueError(
                f"backend {name!r} is not one of this service's backends "
                f"({', '.join(self._qpus)}); get backends from service.backend()")
        return self.schedulers[name]

    # -- time ------------------------------------------------------------------------

    @contextmanager
    def call(self) -> Iterator[None]:
        """Bracket a user call: the measured clock adds the caller's think time before it."""
        self.clock.enter_call()
        try:
            yield
        finally:
            self.clock.leave_call()

    def now(self) -> datetime:
        """The service clock's current time (timezone-aware UTC)."""
        return self.clock.datetime()

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass (virtual: jump, firing timers on the way; wall: sleep)."""
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise IBMInputValueError(
                f"advance() takes a number of seconds >= 0, not {seconds!r}; time only moves "
                "forward")
        with self.call():
            self.clock.advance(to_us(seconds))

    def call_at(self, seconds: float, callback: Callable[[], None], *,
                label: str = "user") -> Timer:
        """Run ``callback`` at ``seconds`` since the epoch (after the runtime's own timers).

        For workloads that act at given virtual instants (tenants arriving, a scripted
        close); the callback may submit jobs and open or close sessions. It runs in the
        context current now, so it never joins a ``with Session(...)`` it was not set in.
        """
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise IBMInputValueError(f"call_at() takes seconds since the epoch, not {seconds!r}")
        at = to_us(seconds)
        if at < self.clock.now():
            raise IBMInputValueError(
                f"call_at({seconds!r}) is in the past: the clock is at "
                f"{self.clock.now() / 1e6:g}s since the epoch")
        return self.clock.call_at(at, callback, priority=USER_PRIORITY, label=label)

    def call_later(self, delay: float, callback: Callable[[], None], *,
                   label: str = "user") -> Timer:
        """Run ``callback`` ``delay`` seconds from now (see ``call_at``)."""
        if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
            raise IBMInputValueError(f"call_later() takes a delay in seconds >= 0, not {delay!r}")
        return self.call_at(self.clock.now() / 1e6 + delay, callback, label=label)

    def run_until_idle(self, timeout: float | None = None) -> bool:
        """Advance until no job is queued or running on any QPU; True when idle.

        Timers due up to that instant fire and no later ones, so an idle open session
        is not run into its max TTL.
        """
        with self.call():
            return self.clock.wait_for(
                lambda: all(s.is_idle() for s in self.schedulers.values()),
                None if timeout is None else to_us(timeout),
            )

    def next_seed(self) -> int:
        """The next per-job simulator seed, drawn from the service seed in submission order."""
        return self._rng.getrandbits(32)

    # -- lookups ---------------------------------------------------------------------

    def job(self, job_id: str) -> RuntimeJobV2:
        """The job with id ``job_id``."""
        from .job import RuntimeJobV2

        for scheduler in self.schedulers.values():
            record = scheduler.jobs.get(job_id)
            if record is not None:
                return RuntimeJobV2(self, record)
        raise RuntimeJobNotFound(f"Job not found: no job has id {job_id!r} on this service")

    def jobs(self, *, session_id: str | None = None, pending: bool | None = None) -> list[
            RuntimeJobV2]:
        """Every job (optionally of one session, or only pending/only final), oldest first."""
        from .job import RuntimeJobV2

        records: list[JobRecord] = sorted(
            (j for s in self.schedulers.values() for j in s.jobs.values()), key=lambda j: j.seq)
        return [RuntimeJobV2(self, j) for j in records
                if (session_id is None or j.session_id == session_id)
                and (pending is None or pending != j.is_final)]

    def session_record(self, session_id: str) -> SessionRecord:
        """The scheduler's record of session ``session_id``."""
        for scheduler in self.schedulers.values():
            record = scheduler.sessions.get(session_id)
            if record is not None:
                return record
        raise IBMInputValueError(f"Session not found: no session has id {session_id!r} on "
                                 "this service")

    # -- outputs ---------------------------------------------------------------------

    def write_trace(self, path: str | Path) -> Path:
        """Write the trace as JSON lines."""
        return self.trace.write(path)

    def close(self) -> None:
        """Stop background threads (wall clock); the service can no longer run jobs."""
        for scheduler in self.schedulers.values():
            scheduler.shutdown()
        if isinstance(self.clock, WallClock):
            self.clock.close()

    def __repr__(self) -> str:
        return (f"<LocalService clock={self.clock.kind} seed={self.seed} "
                f"backends={list(self._qpus)}>")


class QiskitRuntimeService(LocalService):
    """IBM's name: ``QiskitRuntimeService(channel=..., token=...)`` runs unchanged, locally.

    Account arguments (``channel``, ``token``, ``url``, ``name``, ``instance``) are
    accepted and unused: there is no account; every other argument is ``LocalService``'s.
    """

    def __init__(self, channel: str | None = None, token: str | None = None,
                 url: str | None = None, name: str | None = None, instance: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)


def _make_clock(clock: ClockKind | Clock, epoch: datetime, speed: float, scale: float) -> Clock:
    if isinstance(clock, Clock):
        return clock
    if clock == "virtual":
        return VirtualClock(epoch)
    if clock == "wall":
        return WallClock(epoch, speed=speed)
    if clock == "measured":
        return MeasuredClock(epoch, scale=scale)
    raise IBMInputValueError(f"clock must be 'virtual', 'wall' or 'measured', not {clock!r}")
