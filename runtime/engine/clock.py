"""Clocks for the scheduler: virtual (default), wall and measured time, one interface.

Time is an integer number of microseconds since the clock's epoch, so virtual timestamps
are exact (no float drift after thousands of jobs) and map one-to-one onto ``datetime``,
whose resolution is also a microsecond. Users speak seconds; ``to_us`` converts.

All state changes happen under the clock's ``lock`` (an ``RLock`` shared by the whole
service), whichever thread makes them: a caller's thread (submit, close, ...) or the wall
clock's timer thread. Timers due at one instant fire in (time, priority, creation) order,
then the instant's hooks run once (the scheduler dispatches there), so everything that
happens at an instant is settled before a job may start at it.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import math
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

US_PER_S = 1_000_000
DEFAULT_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def to_us(seconds: float) -> int:
    """Seconds (int or float) as integer microseconds, rounded to the nearest."""
    return round(seconds * US_PER_S)


def to_seconds(us: int) -> float:
    """Integer microseconds as float seconds."""
    return us / US_PER_S


class ClockError(RuntimeError):
    """A clock was asked for something it cannot do (go backwards, advance wall time, ...)."""


class ReentrantCallError(ClockError):
    """A timer callback asked the clock to let time pass (``advance``, a wait that must wait).

    A callback runs at one instant, while that instant's timers fire; moving time from
    inside it would fire later timers before the instant has settled and then move the
    clock back when the outer step resumes. Callbacks schedule later work instead.
    """


REENTRY_FIX = ("a timer callback runs at one instant and cannot let time pass: schedule "
               "later work with service.call_later(delay, callback), or wait outside the "
               "callback")


class Timer:
    """A callback due at an instant; ``cancel()`` keeps it from firing.

    The callback runs in the ``contextvars`` context current when the timer was set (as
    asyncio does), not in that of whichever call happens to be waiting when it fires: a
    timer set outside ``with Session(...)`` never sees that session, on any clock.
    """

    __slots__ = ("at", "callback", "cancelled", "context", "label", "priority", "seq")

    def __init__(self, at: int, priority: int, seq: int, callback: Callable[[], None],
                 label: str) -> None:
        self.at = at
        self.priority = priority
        self.seq = seq
        self.callback = callback
        self.label = label
        self.cancelled = False
        self.context = contextvars.copy_context()

    def cancel(self) -> None:
        """Keep this timer from firing (it stays in the heap until popped)."""
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return (self.at, self.priority, self.seq) < (other.at, other.priority, other.seq)

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<Timer {self.label} at {self.at}us prio {self.priority}{state}>"


class Clock(ABC):
    """What the scheduler needs of time: now, timers, instant hooks, and waiting."""

    kind: str = "abstract"

    def __init__(self, epoch: datetime = DEFAULT_EPOCH) -> None:
        if not isinstance(epoch, datetime) or epoch.tzinfo is None:
            raise ClockError("the clock epoch must be a timezone-aware datetime "
                             f"(e.g. datetime(2025, 1, 1, tzinfo=UTC)), not {epoch!r}")
        self.epoch = epoch.astimezone(UTC)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._heap: list[Timer] = []
        self._seq = itertools.count()
        self._hooks: list[Callable[[], None]] = []
        self.in_timers = False
        """True while timer callbacks run (before the instant's hooks), for the trace."""
        self.limit_us = (datetime.max.replace(tzinfo=UTC) - self.epoch) // timedelta(
            microseconds=1)
        """The last instant a ``datetime`` can show: time never moves past it."""
        self._firing_thread: threading.Thread | None = None
        self.settled_at: int | None = None
        """The last instant whose timers fired and whose hooks ran."""
        self.late = False
        """True while timers fire at an instant that had settled already: timers set for
        "now" (zero delay) after it settled. The trace marks callbacks fired so, for replay."""

    # -- time ------------------------------------------------------------------------

    @abstractmethod
    def now(self) -> int:
        """Microseconds since the epoch."""

    @contextmanager
    def instant(self) -> Iterator[None]:
        """Hold the lock and keep ``now()`` fixed while one operation runs."""
        with self.lock:
            yield

    def datetime(self, us: int | None = None) -> datetime:
        """``us`` (default: now) as a timezone-aware UTC datetime."""
        return self.epoch + timedelta(microseconds=self.now() if us is None else us)

    # -- timers ----------------------------------------------------------------------

    def call_at(self, at: int, callback: Callable[[], None], *, priority: int = 0,
                label: str = "") -> Timer:
        """Run ``callback`` at instant ``at`` (µs); among equal instants lower priority first."""
        with self.lock:
            if at < self.now():
                raise ClockError(f"timer {label!r} at {at}us is in the past (now {self.now()}us)")
            timer = Timer(at, priority, next(self._seq), callback, label)
            heapq.heappush(self._heap, timer)
            self._timer_added(timer)
            return timer

    def add_instant_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` after the timers of every instant have fired."""
        with self.lock:
            self._hooks.append(hook)

    def next_timer(self) -> Timer | None:
        """The earliest live timer, dropping cancelled ones from the heap top."""
        heap = self._heap
        while heap and heap[0].cancelled:
            heapq.heappop(heap)
        return heap[0] if heap else None

    def _fire_due(self, instant: int) -> None:
        """Fire every live timer due at or before ``instant``, then the hooks (lock held).

        Whatever a callback raises, the instant settles first: the other timers due fire
        and the hooks (dispatch) run; then the first exception reaches the caller, so no
        job is left waiting for a dispatch that never came.
        """
        heap = self._heap
        fired_at: int | None = None
        errors: list[BaseException] = []
        self._firing_thread = threading.current_thread()
        self.late = self.settled_at == instant
        try:
            self.in_timers = True
            while heap and heap[0].at <= instant:
                timer = heapq.heappop(heap)
                if not timer.cancelled:
                    fired_at = timer.at
                    self._set_firing(fired_at)
                    try:
                        timer.context.run(timer.callback)
                    except BaseException as err:  # settled, then raised
                        _note(err, f"raised by the timer {timer.label!r} at {timer.at}us")
                        errors.append(err)
            self.in_timers = False
            if fired_at is not None:
                self._set_firing(fired_at)  # the hooks act at the same instant
            try:
                self.run_hooks()
            except BaseException as err:  # settled, then raised
                errors.append(err)
        finally:
            self.in_timers = False
            self.late = False
            self.settled_at = instant if fired_at is None else fired_at
            self._firing_thread = None
            self._set_firing(None)
        _raise_first(errors)

    def run_hooks(self) -> None:
        """Run every instant hook (lock held), wake every waiter, then raise what a hook raised."""
        errors: list[BaseException] = []
        try:
            for hook in self._hooks:
                try:
                    hook()
                except BaseException as err:  # the other QPUs dispatch too
                    errors.append(err)
        finally:
            self.changed.notify_all()
        _raise_first(errors)

    @property
    def in_callback(self) -> bool:
        """True on the thread that is firing this clock's timers (inside a callback)."""
        return self._firing_thread is threading.current_thread()

    def refuse_reentry(self, what: str) -> None:
        """Raise ``ReentrantCallError`` if called from inside one of this clock's callbacks."""
        if self.in_callback:
            raise ReentrantCallError(f"{what} was called from inside a timer callback at "
                                     f"{self.now()}us; {REENTRY_FIX}")

    def check_instant(self, instant: int, what: str = "time") -> None:
        """Raise ``ClockError`` for an instant a ``datetime`` cannot show (past 9999-12-31)."""
        if instant > self.limit_us:
            raise ClockError(f"{what} would reach {instant}us since the epoch, past the last "
                             f"instant a datetime can show ({self.limit_us}us, 9999-12-31)")

    def _timer_added(self, timer: Timer) -> None:
        """Subclass hook: a timer was pushed."""

    def _set_firing(self, at: int | None) -> None:
        """Subclass hook: timers of instant ``at`` are being fired (``None``: done)."""

    # -- waiting ---------------------------------------------------------------------

    @abstractmethod
    def wait_for(self, predicate: Callable[[], bool], timeout_us: int | None = None) -> bool:
        """Let time pass until ``predicate()`` holds; False if ``timeout_us`` passed first.

        Raises ``ClockError`` when the predicate can never hold (virtual time with no
        timer left).
        """

    @abstractmethod
    def advance(self, us: int) -> None:
        """Let ``us`` microseconds pass, firing the timers due on the way."""

    # -- caller time (measured clock) ------------------------------------------------

    def enter_call(self) -> None:
        """A user call into the runtime begins (the measured clock adds think time here)."""

    def leave_call(self) -> None:
        """A user call into the runtime ends."""


class VirtualClock(Clock):
    """Deterministic time that moves only when someone waits or advances it."""

    kind = "virtual"

    def __init__(self, epoch: datetime = DEFAULT_EPOCH, start_us: int = 0) -> None:
        super().__init__(epoch)
        self._now = start_us

    def now(self) -> int:
        """Microseconds since the epoch."""
        return self._now

    def advance_to(self, instant: int) -> None:
        """Move to ``instant``, firing every timer due on the way, instant by instant.

        If a callback raises, the clock stays at that callback's (settled) instant and the
        exception reaches the caller; time never moves back.
        """
        with self.lock:
            self.refuse_reentry("advance()")
            if instant < self._now:
                raise ClockError(f"cannot go back in time from {self._now}us to {instant}us")
            self.check_instant(instant)
            while (timer := self.next_timer()) is not None and timer.at <= instant:
                self._now = timer.at
                self._fire_due(timer.at)
            self._now = instant

    def advance(self, us: int) -> None:
        """Let ``us`` microseconds pass (``us`` >= 0)."""
        if us < 0:
            raise ClockError(f"cannot advance by a negative time ({us}us)")
        with self.lock:
            self.advance_to(self._now + us)

    def wait_for(self, predicate: Callable[[], bool], timeout_us: int | None = None) -> bool:
        """Jump from instant to instant until ``predicate()`` holds or the timeout passes.

        Timers past the last instant a ``datetime`` can show never fire: waiting for one
        is waiting for something that can never happen.
        """
        with self.lock:
            if predicate():
                return True
            self.refuse_reentry("a wait (result(), wait_for_final_state(), run_until_idle())")
            deadline = None if timeout_us is None else min(self._now + timeout_us,
                                                           self.limit_us)
            while not predicate():
                timer = self.next_timer()
                if timer is not None and timer.at > self.limit_us:
                    timer = None
                if timer is None:
                    if deadline is not None:
                        self._now = max(self._now, deadline)
                        return False
                    raise ClockError(
                        "waiting for something that can never happen: no timer is left"
                    )
                if deadline is not None and timer.at > deadline:
                    self.advance_to(deadline)
                    return predicate()
                self._now = timer.at
                self._fire_due(timer.at)
            return True


class MeasuredClock(VirtualClock):
    """Virtual QPU time plus the wall time callers spend between runtime calls (scaled).

    A slow classical optimizer between two ``job.result()`` calls lets virtual time run
    on by as long as it really took (times ``scale``), so the interactive timeout can run
    out exactly as on hardware. Time spent inside runtime calls (Aer included) is not
    counted: the runtime's own speed never leaks into virtual time.
    """

    kind = "measured"

    def __init__(self, epoch: datetime = DEFAULT_EPOCH, scale: float = 1.0,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        if not _finite_positive(scale):
            raise ClockError(f"scale must be a finite positive number, not {scale!r}")
        super().__init__(epoch)
        self.scale = scale
        self._timer = timer
        self._depth = 0
        self._left_at: float | None = None

    def enter_call(self) -> None:
        """Add the wall time since the last call returned, then start a call."""
        with self.lock:
            # A call from a timer callback is part of the instant, not think time.
            if self._depth == 0 and self._left_at is not None and not self.in_callback:
                think = (self._timer() - self._left_at) * self.scale
                self._left_at = None  # counted once, even if a callback raises below
                try:
                    self.advance_to(min(self._now + max(0, to_us(think)), self.limit_us))
                except BaseException:
                    self._left_at = self._timer()
                    raise
            self._depth += 1

    def leave_call(self) -> None:
        """Mark the moment control returns to the caller."""
        with self.lock:
            self._depth = max(0, self._depth - 1)
            if self._depth == 0:
                self._left_at = self._timer()


class WallClock(Clock):
    """Real time (optionally sped up): a daemon thread fires timers when they fall due.

    ``speed`` model seconds pass per real second, so scenarios written with a 60 s ITTL
    can run in well under a second of real time in tests. Event times are the timers'
    own instants (not the thread's wake-up time) unless that would go back in time.

    The timer thread holds the clock only weakly while it waits, so a clock (and the
    service around it) dropped without ``close()`` is collected and its thread ends.
    """

    kind = "wall"

    def __init__(self, epoch: datetime = DEFAULT_EPOCH, speed: float = 1.0) -> None:
        if not _finite_positive(speed):
            raise ClockError(f"speed must be a finite positive number, not {speed!r}")
        super().__init__(epoch)
        self.speed = speed
        self._t0 = time.monotonic()
        self._high_water = 0
        self._firing: int | None = None
        self._catching_up = False
        self._wakeup = threading.Condition(self.lock)
        self._stop = _Stop(self._wakeup)
        self.failure: BaseException | None = None
        """What a timer callback raised on the timer thread, until a caller is told."""
        self._thread = threading.Thread(target=_wall_loop,
                                        args=(weakref.ref(self), self._stop),
                                        name="qsession-wallclock", daemon=True)
        with self.lock:
            self._thread.start()
            # Model time starts now, not before the thread did (slow on a busy machine).
            self._t0 = time.monotonic()
        weakref.finalize(self, self._stop)

    @property
    def stopper(self) -> Callable[[], None]:
        """A callable that stops the timer thread and holds no reference to the clock."""
        return self._stop

    def _real_now(self) -> int:
        return int((time.monotonic() - self._t0) * self.speed * US_PER_S)

    def now(self) -> int:
        """Model microseconds since the clock started (never decreasing)."""
        with self.lock:
            if self._firing is not None:
                return self._firing
            real = self._real_now()  # one reading: no timer falls due between the two uses
            self._catch_up(real)
            self._high_water = max(self._high_water, real)
            return self._high_water

    def _catch_up(self, real: int | None = None) -> None:
        """Fire the timers already due (lock held) before anyone reads or records a later
        instant: otherwise they would fire late, at that instant, and an operation could act
        on a session whose ITTL or max TTL has passed (seen under load, 2000x speed).

        Instant by instant, each settled (hooks run) before the next; what a callback
        raises is kept in ``failure`` for the next caller (``raise_failure``)."""
        if self._catching_up or self._firing is not None:
            return
        real = self._real_now() if real is None else real
        self._catching_up = True
        try:
            while (timer := self.next_timer()) is not None and timer.at <= real:
                try:
                    self._fire_due(timer.at)
                except BaseException as err:  # reported to the next caller
                    _note(err, "raised on the wall clock's timer thread")
                    if self.failure is None:
                        self.failure = err
                    self.changed.notify_all()
        finally:
            self._catching_up = False

    def raise_failure(self) -> None:
        """Raise (once) what a timer callback raised since a caller was last told."""
        with self.lock:
            err, self.failure = self.failure, None
        if err is not None:
            raise err

    @contextmanager
    def instant(self) -> Iterator[None]:
        """Hold the lock and freeze ``now()``: one operation's records share one instant."""
        with self.lock:
            if self._firing is not None:
                yield
                return
            self._firing = self.now()  # after firing what was due (``now`` catches up)
            try:
                yield
            finally:
                self._firing = None

    def _set_firing(self, at: int | None) -> None:
        if at is None:
            self._firing = None
            return
        self._firing = max(at, self._high_water)
        self._high_water = self._firing

    def _timer_added(self, timer: Timer) -> None:
        self._wakeup.notify_all()

    def _step(self) -> float | None:
        """One turn of the timer thread (lock held): fire what is due; seconds to sleep."""
        timer = self.next_timer()
        if timer is None:
            return 0.5
        delay = (timer.at - self._real_now()) / (self.speed * US_PER_S)
        if delay > 0:
            return delay
        self._catch_up()
        return None

    def enter_call(self) -> None:
        """Fire timers already due, so a call never acts on an instant whose timers lag;
        then raise what a timer callback raised meanwhile, if anything."""
        with self.lock:
            if not self.in_callback:
                self._catch_up()
        self.raise_failure()

    def advance(self, us: int) -> None:
        """Sleep for ``us`` model microseconds (timers fire meanwhile on their own)."""
        if us < 0:
            raise ClockError(f"cannot advance by a negative time ({us}us)")
        self.refuse_reentry("advance()")
        time.sleep(us / (self.speed * US_PER_S))
        self.raise_failure()

    def wait_for(self, predicate: Callable[[], bool], timeout_us: int | None = None) -> bool:
        """Block the calling thread until ``predicate()`` holds or the timeout passes."""
        real_timeout = None if timeout_us is None else timeout_us / (self.speed * US_PER_S)
        with self.lock:
            if not predicate():
                # The timer thread itself cannot wait: nothing would fire meanwhile.
                self.refuse_reentry("a wait (result(), wait_for_final_state(), "
                                    "run_until_idle())")
            done = self.changed.wait_for(lambda: predicate() or self.failure is not None,
                                         real_timeout)
            self.raise_failure()
            return done

    def close(self) -> None:
        """Stop the timer thread (pending timers never fire)."""
        self._stop()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2)


class _Stop:
    """Stops a wall clock's timer thread; holds the clock's condition, never the clock."""

    __slots__ = ("stopped", "wakeup")

    def __init__(self, wakeup: threading.Condition) -> None:
        self.wakeup = wakeup
        self.stopped = False

    def __call__(self) -> None:
        with self.wakeup:
            self.stopped = True
            self.wakeup.notify_all()


def _wall_loop(ref: weakref.ref[WallClock], stop: _Stop) -> None:
    """The timer thread: fire timers as they fall due, until stopped or the clock is gone."""
    wakeup = stop.wakeup
    with wakeup:
        while not stop.stopped:
            clock = ref()
            if clock is None:
                return
            delay = clock._step()
            del clock  # wait without keeping the clock (and its service) alive
            if delay is not None:
                wakeup.wait(delay)


def _finite_positive(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def _note(err: BaseException, text: str) -> None:
    err.add_note(text)


def _raise_first(errors: list[BaseException]) -> None:
    """Raise the first of ``errors`` (the others as notes on it); nothing if empty."""
    if not errors:
        return
    first = errors[0]
    for other in errors[1:]:
        first.add_note(f"also raised at the same instant: {other!r}")
    raise first


def iso(clock: Clock, us: int | None) -> str | None:
    """A clock instant in ISO-8601 UTC ending in ``Z``, as IBM's REST service writes times."""
    return None if us is None else clock.datetime(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
