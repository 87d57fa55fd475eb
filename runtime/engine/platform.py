"""The platform: one clock, the QPUs with their schedulers, the fair-share ledger, the trace.

``Platform`` is what IBM's service runs on, without IBM's client API: QPUs are added with
their settings, sessions and jobs are numbered across them, time moves (``advance``,
``call_at``, ``run_until_idle``), and every change lands in one trace. ``replay`` and
``recovery`` rebuild one from a trace; the service users hold is one with IBM's lookups
on top.
"""

from __future__ import annotations

import itertools
import math
import random
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from .clock import (
    DEFAULT_EPOCH,
    Clock,
    MeasuredClock,
    ReentrantCallError,
    Timer,
    VirtualClock,
    WallClock,
    to_us,
)
from .errors import IBMBackendValueError, IBMInputValueError, IBMRuntimeError, RuntimeJobNotFound
from .fairshare import DEFAULT_WINDOW_S, FairShare
from .ids import IdScheme, ShortIds
from .inputs import seconds_us
from .qpu import QPU
from .records import JobRecord, SessionRecord
from .scheduler import Scheduler
from .settings import Instance, QPUSettings
from .trace import Trace

ClockKind = Literal["virtual", "wall", "measured"]
USER_PRIORITY = 10
"""User callbacks run after the runtime's own timers due at the same instant."""
BackendSpec = QPU | str | tuple[QPU | str, Mapping[str, Any]]

_SETTING_NAMES = ("interactive_timeout", "batch_interactive_timeout", "max_time",
                  "max_time_limit", "instances", "fair_share_window", "idle_close_timeout")


class Platform:
    """Emulated QPUs sharing one clock, one fair-share ledger and one trace.

    ``clock`` is ``"virtual"``, ``"wall"`` (at ``speed``) or ``"measured"`` (at
    ``scale``); ``backends`` lists QPUs, fake backend names or ``(qpu, settings)`` pairs
    (default: one ideal QPU); the timeouts, ``max_time``, ``instances`` and
    ``fair_share_window`` are the service-wide ``QPUSettings``; ``ids`` names sessions
    and jobs (short ids by default). ``qpus`` and ``schedulers`` are keyed by QPU name.
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
        fair_share_window: float = DEFAULT_WINDOW_S,
        idle_close_timeout: float | None = 1800.0,
        speed: float = 1.0,
        scale: float = 1.0,
        strict_isa: bool = True,
        execution_timeout: float | None = 600.0,
        trace: Trace | None = None,
        ids: IdScheme | None = None,
    ) -> None:
        _check_construction(epoch, speed, scale, seed, backends)
        self.clock = _make_clock(clock, epoch, speed, scale)
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self._rng = random.Random(self.seed)
        self.strict_isa = strict_isa
        if execution_timeout is not None and not _finite_positive(execution_timeout):
            raise IBMInputValueError(
                f"execution_timeout must be a finite positive number of wall seconds or None "
                f"(no limit), not {execution_timeout!r}")
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
        # One fair-share ledger for all QPUs: an instance's use counts across them.
        self.fair_share = FairShare(defaults.allocations, to_us(defaults.fair_share_window))
        self.trace = trace if trace is not None else Trace(epoch=self.clock.epoch)
        self.trace.meta.update({"clock": self.clock.kind, "seed": self.seed})
        self.sequence = itertools.count(1)
        """Numbers sessions and jobs across every QPU, in creation order."""
        self.names: IdScheme = ids if ids is not None else ShortIds()
        if not isinstance(self.names, ShortIds):  # a replay must name objects the same way
            self.trace.meta["ids"] = self.names.spec()
        self.qpus: dict[str, QPU] = {}
        """The QPUs by name, in the order they were added."""
        self.schedulers: dict[str, Scheduler] = {}
        # Holds what stops the threads, never the service: a dropped service is collected.
        self._finalizer = weakref.finalize(self, _stop_threads, _stopper(self.clock))
        for spec in backends if backends is not None else [QPU.ideal()]:
            qpu, overrides = spec if isinstance(spec, tuple) else (spec, {})
            if not isinstance(overrides, Mapping):
                raise IBMBackendValueError(
                    f"a backend with settings is a pair (qpu, {{'interactive_timeout': 30}}), "
                    f"not ({qpu!r}, {overrides!r})")
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
        if qpu.name in self.qpus:
            raise IBMBackendValueError(f"this service already has a backend named {qpu.name!r}")
        unknown = set(overrides) - set(_SETTING_NAMES)
        if unknown:
            raise IBMInputValueError(f"unknown backend setting(s) {sorted(unknown)}; "
                                     f"settings are {', '.join(_SETTING_NAMES)}")
        if "fair_share_window" in overrides and \
                overrides["fair_share_window"] != self.defaults["fair_share_window"]:
            raise IBMInputValueError(
                f"backend {getattr(qpu, 'name', qpu)!r}: fair_share_window is the service's, "
                "not a QPU's (an instance's use counts across all QPUs); set it on "
                "LocalService(fair_share_window=...)")
        if getattr(qpu, "service", None) not in (None, self):
            raise IBMBackendValueError(f"backend {qpu.name!r} belongs to another service")
        settings = QPUSettings(**{**self.defaults, **overrides})
        if self.strict_isa:
            qpu.strict_isa = True
        qpu.service = self
        self.qpus[qpu.name] = qpu
        self.schedulers[qpu.name] = Scheduler(qpu.name, self.clock, self.trace, settings,
                                              qpu.execute, ids=self.sequence,
                                              execution_timeout=self.execution_timeout,
                                              fair_share=self.fair_share, names=self.names)
        backends = self.trace.meta.get("backends")
        self.trace.meta["backends"] = f"{backends},{qpu.name}" if backends else qpu.name
        return qpu

    def add_instance(self, name: str, spec: float | Mapping[str, Any] | Instance = 1.0) -> None:
        """Add an instance (tenant) to every QPU from now on: an allocation, an ``Instance``
        or a mapping of its fields; a name the service already has is left as it is."""
        plan = Instance.of(spec, name)
        with self.clock.lock:
            instances = dict(self.defaults.get("instances") or QPUSettings().instances)
            if name in instances:
                return
            instances[name] = plan
            self.defaults["instances"] = instances
            for scheduler in self.schedulers.values():
                scheduler.add_instance(name, plan)

    def scheduler_of(self, qpu: QPU | str) -> Scheduler:
        """The scheduler of one of this service's QPUs."""
        name = qpu if isinstance(qpu, str) else qpu.name
        if name not in self.schedulers or (not isinstance(qpu, str) and
                                           self.qpus[name] is not qpu):
            raise IBMBackendValueError(
                f"backend {name!r} is not one of this service's backends "
                f"({', '.join(self.qpus)}); get backends from service.backend()")
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
        """Let ``seconds`` pass (virtual: jump, firing timers on the way; wall: sleep).

        If a timer callback raises on the way, the clock stops at that (settled) instant
        and the exception reaches the caller.
        """
        us = seconds_us(seconds, "seconds", self.clock,
                        fix="advance() takes a finite number of seconds >= 0; time only moves "
                        "forward")
        with self.call(), _callback_refused():
            self.clock.advance(us)

    def call_at(self, seconds: float, callback: Callable[[], None], *,
                label: str = "user") -> Timer:
        """Run ``callback`` at ``seconds`` since the epoch (after the runtime's own timers).

        For workloads that act at given virtual instants (tenants arriving, a scripted
        close); the callback may submit jobs and open or close sessions. It runs in the
        context current now, so it never joins a ``with Session(...)`` it was not set in.
        """
        at = seconds_us(seconds, "seconds", self.clock, since_now=False,
                        fix="call_at() takes a finite number of seconds since the epoch")
        if at < self.clock.now():
            raise IBMInputValueError(
                f"call_at({seconds!r}) is in the past: the clock is at "
                f"{self.clock.now() / 1e6:g}s since the epoch")
        return self.clock.call_at(at, callback, priority=USER_PRIORITY, label=label)

    def call_later(self, delay: float, callback: Callable[[], None], *,
                   label: str = "user") -> Timer:
        """Run ``callback`` ``delay`` seconds from now (see ``call_at``)."""
        us = seconds_us(delay, "delay", self.clock,
                        fix="call_later() takes a finite delay in seconds >= 0")
        return self.clock.call_at(self.clock.now() + us, callback, priority=USER_PRIORITY,
                                  label=label)

    def run_until_idle(self, timeout: float | None = None) -> bool:
        """Advance until no job is queued or running on any QPU; True when idle.

        Timers due up to that instant fire and no later ones, so an idle open session
        is not run into its max TTL.
        """
        timeout_us = None if timeout is None else seconds_us(
            timeout, "timeout", self.clock,
            fix="give a finite number of seconds >= 0, or None to wait without limit")
        with self.call(), _callback_refused():
            return self.clock.wait_for(
                lambda: all(s.is_idle() for s in self.schedulers.values()), timeout_us)

    def next_seed(self) -> int:
        """The next per-job simulator seed, drawn from the service seed in submission order."""
        return self._rng.getrandbits(32)

    def reseed(self, label: str) -> None:
        """Draw later per-job seeds from the service seed and ``label`` (a restart's)."""
        self._rng = random.Random(f"{self.seed}/{label}")

    # -- records ---------------------------------------------------------------------

    def job_record(self, job_id: str) -> JobRecord:
        """The scheduler's record of job ``job_id`` (deleted jobs are not found)."""
        for scheduler in self.schedulers.values():
            record = scheduler.jobs.get(job_id)
            if record is not None and not record.deleted:
                return record
        raise RuntimeJobNotFound(f"Job not found: no job has id {job_id!r} on this service")

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
        """Stop background threads (wall clock, workers); the service can no longer run jobs."""
        for scheduler in self.schedulers.values():
            scheduler.shutdown()
        if isinstance(self.clock, WallClock):
            self.clock.close()
        self._finalizer.detach()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} clock={self.clock.kind} seed={self.seed} "
                f"backends={list(self.qpus)}>")


@contextmanager
def _callback_refused() -> Iterator[None]:
    """A wait from inside a timer callback is refused with the library's error."""
    try:
        yield
    except ReentrantCallError as err:
        raise IBMRuntimeError(str(err)) from None


def _stopper(clock: Clock) -> Callable[[], None] | None:
    return clock.stopper if isinstance(clock, WallClock) else None


def _stop_threads(stop: Callable[[], None] | None) -> None:
    """The finalizer of a service dropped without ``close()``: end its clock's thread.

    Its worker pools need nothing: an idle ``ThreadPoolExecutor`` worker ends when the
    pool is collected with the service.
    """
    if stop is not None:
        stop()


def _finite_positive(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def _check_construction(epoch: object, speed: object, scale: object, seed: object,
                        backends: object) -> None:
    """Refuse constructor arguments that would fail later, naming the argument and the fix."""
    if not isinstance(epoch, datetime) or epoch.tzinfo is None:
        raise IBMInputValueError(
            f"epoch={epoch!r} must be a timezone-aware datetime. Fix: e.g. "
            "epoch=datetime(2025, 1, 1, tzinfo=timezone.utc)")
    for name, value, meaning in (("speed", speed, "model seconds per real second"),
                                 ("scale", scale, "virtual seconds per measured second")):
        if not _finite_positive(value):
            raise IBMInputValueError(
                f"{name}={value!r} must be a finite positive number ({meaning}, e.g. 100)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise IBMInputValueError(f"seed={seed!r} must be an int or None (a fresh seed)")
    if backends is not None and (isinstance(backends, str | bytes | Mapping)
                                 or not isinstance(backends, Sequence)):
        raise IBMBackendValueError(
            f"backends={backends!r} must be a list of QPUs or fake backend names, e.g. "
            "backends=[QPU.ideal(), 'fake_manila']")


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
