"""A small rig around one scheduler, for exact-timestamp scenarios in tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qsession.runtime import QPUSettings, Trace
from qsession.runtime.engine.clock import Clock, VirtualClock, WallClock, to_seconds, to_us
from qsession.runtime.engine.records import JobRecord, SessionRecord
from qsession.runtime.engine.scheduler import Executor, Scheduler


class Rig:
    """One QPU's scheduler with helpers that speak seconds."""

    def __init__(self, clock: Clock | None = None, executor: Executor | None = None,
                 **settings: Any) -> None:
        self.clock = clock or VirtualClock()
        # Wall-clock runs are compared within a tolerance of model seconds (timer wake-up
        # latency); virtual runs exactly.
        self.tol = 0.0 if isinstance(self.clock, VirtualClock) else 1.0
        self.trace = Trace()
        self.settings = QPUSettings(**settings)
        self.sched = Scheduler("qpu", self.clock, self.trace, self.settings, executor)

    def session(self, mode: str = "dedicated", *, max_time: float | None = None,
                ittl: float | None = None, instance: str | None = None) -> SessionRecord:
        default_ittl = (self.settings.interactive_timeout if mode == "dedicated"
                        else self.settings.batch_interactive_timeout)
        with self.clock.lock:
            return self.sched.open_session(
                mode,  # type: ignore[arg-type]
                max_time_us=to_us(self.settings.session_max_time(max_time)),
                ittl_us=to_us(default_ittl if ittl is None else ittl),
                instance=self.settings.check_instance(instance),
            )

    def job(self, session: SessionRecord | None = None, seconds: float = 10.0, *,
            instance: str | None = None, payload: Any = None) -> JobRecord:
        with self.clock.lock:
            return self.sched.submit(session, instance=self.settings.check_instance(instance),
                                     kind="null", payload=payload, duration_us=to_us(seconds))

    def at(self, seconds: float) -> None:
        """Let time pass until ``seconds`` (virtual: jump; wall: sleep, then fire due timers)."""
        if isinstance(self.clock, VirtualClock):
            self.clock.advance_to(to_us(seconds))
            return
        self.clock.advance(max(0, to_us(seconds) - self.clock.now()))
        self.clock.enter_call()

    def approx(self, *expected: float | None) -> Any:
        """``expected`` seconds (one value or a tuple) within this rig's tolerance."""
        import pytest

        value = expected[0] if len(expected) == 1 else expected
        return pytest.approx(value, abs=self.tol)

    def close(self) -> None:
        """Stop threads (wall clock)."""
        self.sched.shutdown()
        if isinstance(self.clock, WallClock):
            self.clock.close()

    def wait(self, job: JobRecord) -> None:
        assert self.clock.wait_for(lambda: job.is_final, to_us(3600))

    def run(self) -> None:
        assert self.clock.wait_for(self.sched.is_idle, to_us(3600))

    def now(self) -> float:
        return to_seconds(self.clock.now())

    def events(self, entity: str, id: str) -> list[tuple[float, str, str | None]]:
        return [(to_seconds(r.t), r.event, r.dest) for r in self.trace.of(entity, id)]  # type: ignore[arg-type]


def times(job: JobRecord) -> tuple[float, float | None, float | None]:
    """(created, running, finished) in seconds."""
    conv: Callable[[int | None], float | None] = lambda v: None if v is None else to_seconds(v)  # noqa: E731
    return to_seconds(job.created), conv(job.running), conv(job.finished)


def make_clock(kind: str) -> Clock:
    """A fresh clock: ``virtual``, or ``wall`` running 40 model seconds per real second.

    At 40×, the rig's 1 model-second tolerance allows 25 ms of real scheduling jitter.
    """
    return VirtualClock() if kind == "virtual" else WallClock(speed=40)


RigFactory = Callable[..., Rig]
"""Builds a ``Rig`` from QPU settings (the clock is chosen by the fixture)."""
