"""A platform that stopped (killed, crashed) comes back from its trace: replay, then restart.

The trace is the platform's write-ahead log: every operation that changed it is a record
with its instant. ``Recovery`` redoes them on a fresh service built as the stopped one
was (``runtime.replay``, executions replaced by their recorded outcomes), checks that
the replay reproduces every recorded record, and then restarts it (``Scheduler.restart``):
a ``restart`` record on every QPU, the job that was running fails as IBM fails a job
the service could not run (error code 5203), queued jobs stay queued in their order,
and every timer (ITTL, max TTL, idle close, quota) stands at its instant of model time.

Between the two steps the caller gives queued jobs back their inputs (the trace holds
no circuits; ``Scheduler.rebinding``), so the first one can start at the restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .platform import Platform
from .records import JobRecord
from .replay import Difference, Recorded, _Replayer
from .scheduler import QPU_FAULT, Executor
from .trace import Trace, TraceFormatError


class RecoveryError(TraceFormatError):
    """The trace cannot be replayed as it was recorded (another version, or an edit)."""


@dataclass
class Recovery:
    """Replays ``recorded`` onto ``service``, then restarts it (two steps, see the module)."""

    service: Platform
    recorded: Trace
    restarts: int = 0
    """How many restarts the trace records once this one is done (1 for the first)."""
    redone: int = 0
    """Records the replay added after the recorded ones: the rest of an instant the stop
    cut short (its timers and dispatch), which the stopped platform would have written."""
    interrupted: list[str] = field(default_factory=list)
    """Jobs that were running: they fail at the restart."""
    _saved: dict[str, Executor] = field(default_factory=dict)

    def replay(self, until: int | None = None) -> None:
        """Redo the recorded run on the service, up to ``until`` µs (the clock's recorded
        position, when later than the last record); RecoveryError if it departs."""
        service = self.service
        if service.trace.count != sum(1 for r in service.trace if r.event == "configure"):
            raise RecoveryError("a service is recovered before it does anything else")
        replayer = _Replayer(self.recorded, service)
        for name, scheduler in service.schedulers.items():
            self._saved[name] = scheduler.executor
            scheduler.executor = replayer.execute
            scheduler.inline_executions = True
        try:
            replayer.run(until)
        finally:
            for name, scheduler in service.schedulers.items():
                scheduler.executor = self._saved[name]
                scheduler.inline_executions = False
        mine, theirs = service.trace.records, self.recorded.records
        for index, recorded in enumerate(theirs):
            replayed = mine[index] if index < len(mine) else None
            if replayed != recorded:
                raise RecoveryError(
                    f"the platform's trace does not replay as recorded, so it cannot be "
                    f"resumed ({Difference(index, recorded, replayed)}); was it written by "
                    "another version of qsession, or edited?")
        self.redone = len(mine) - len(theirs)
        self.restarts = 1 + max((int(r.data.get("restarts") or 0) for r in theirs
                                 if r.entity == "qpu" and r.event == "restart"), default=0)
        self.interrupted = [s.running.id for s in service.schedulers.values()
                            if s.running is not None]

    def waiting(self) -> list[JobRecord]:
        """The jobs still queued, in submission order (they need their inputs back)."""
        return sorted((j for s in self.service.schedulers.values() for j in s.jobs.values()
                       if j.state == "QUEUED"), key=lambda j: j.seq)

    def restart(self) -> None:
        """Record the restart on every QPU: the running job fails, the next one may start."""
        service = self.service
        # New jobs draw fresh simulator seeds, not those of the first run again.
        service.reseed(f"restart {self.restarts}")
        for name, scheduler in service.schedulers.items():
            scheduler.executor = guarded(self._saved[name])
        with service.clock.instant():
            for scheduler in service.schedulers.values():
                scheduler.restart(self.restarts)


class InputsLost(Exception):
    """A recovered job ran without its inputs (they could not be given back)."""

    def __init__(self, job_id: str) -> None:
        self.job_error = (f"{QPU_FAULT} the inputs of job {job_id} were lost when the "
                          "platform restarted; run the job again")
        super().__init__(self.job_error)


def guarded(execute: Executor) -> Executor:
    """``execute``, failing as a QPU fault a recovered job that has no inputs."""
    def run(payload: Any, seed: int | None) -> Any:
        if isinstance(payload, Recorded):
            raise InputsLost(payload.job_id)
        return execute(payload, seed)
    return run


def recorded_inputs(job: JobRecord) -> bool:
    """True while a recovered job has no inputs (only its recorded outcome)."""
    return isinstance(job.payload, Recorded)
