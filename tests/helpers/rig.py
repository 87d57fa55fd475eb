"""A small rig around one scheduler, for exact-timestamp scenarios in tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qsession.runtime.clock import Clock, VirtualClock, to_seconds, to_us
from qsession.runtime.records import JobRecord, SessionRecord
from qsession.runtime.scheduler import Executor, Scheduler
from qsession.runtime.settings import QPUSettings
from qsession.runtime.trace import Trace


class Rig:
    """One QPU's scheduler with helpers that speak seconds."""

    def __init__(self, clock: Clock | None = None, executor: Executor | None = None,
                 **settings: Any) -> None:
        self.clock = clock or VirtualClock()
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
        """Advance the virtual clock to ``seconds``."""
        assert isinstance(self.clock, VirtualClock)
        self.clock.advance_to(to_us(seconds))

    def wait(self, job: JobRecord) -> None:
        self.clock.wait_for(lambda: job.is_final)

    def run(self) -> None:
        self.clock.wait_for(self.sched.is_idle)

    def now(self) -> float:
        return to_seconds(self.clock.now())

    def events(self, entity: str, id: str) -> list[tuple[float, str, str | None]]:
        return [(to_seconds(r.t), r.event, r.dest) for r in self.trace.of(entity, id)]  # type: ignore[arg-type]


def times(job: JobRecord) -> tuple[float, float | None, float | None]:
    """(created, running, finished) in seconds."""
    conv: Callable[[int | None], float | None] = lambda v: None if v is None else to_seconds(v)  # noqa: E731
    return to_seconds(job.created), conv(job.running), conv(job.finished)
