"""What a restart of the platform keeps: every job it held goes on, and ends once."""

from __future__ import annotations

from qsession.model import ERROR
from qsession.runtime import Record
from qsession.runtime.engine.scheduler import RESTART_ERROR

from ..replay import Replay
from .base import Checker


class Durable(Checker):
    """INV-DURABLE."""

    id = "INV-DURABLE"
    statement = ("every job that exists when the platform restarts goes on after it and ends "
                 "exactly once: queued it stays queued, running it fails at the restart "
                 "(code 5203)")

    def __init__(self) -> None:
        super().__init__()
        self.restart: dict[str, Record] = {}
        """Each QPU's restart record at the current instant."""
        self.was_running: dict[str, Record] = {}
        """The job each restarted QPU was running: it must fail at the restart."""
        self.was_queued: dict[str, Record] = {}
        """Jobs queued at a restart: the restart itself must not end them."""
        self.held: set[str] = set()
        """Every job that existed at some restart (settled: each must be final at the end)."""
        self.ended: dict[str, Record] = {}

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "qpu" and r.event == "restart":
            self.checks += 1
            self.restart[r.qpu] = r
            running = state.qpu(r.qpu).running
            if running is not None:
                self.was_running[running] = r
            for job in state.queued_on(r.qpu):
                self.was_queued[job.id] = r
            self.held.update(j.id for j in state.jobs.values() if j.qpu == r.qpu)
            return
        if r.entity != "job" or r.dest not in ("DONE", ERROR, "CANCELLED"):
            return
        self.checks += 1
        earlier = self.ended.get(r.id)
        if earlier is not None:
            self.fail(r.t, f"job {r.id} ended twice: {earlier.event} at {earlier.t / 1e6:g}s, "
                      f"then {r.event}", earlier, r)
        self.ended[r.id] = r
        if r.data.get("reason") != RESTART_ERROR:
            return
        restart = self.restart.get(r.qpu)
        if restart is None or restart.t != r.t:
            self.fail(r.t, f"job {r.id} failed as a restart fails a running job, with no "
                      f"restart of {r.qpu} at that instant", r)
        elif r.id in self.was_queued and self.was_queued[r.id] is restart:
            self.fail(r.t, f"job {r.id} was queued when {r.qpu} restarted; it must stay "
                      "queued, but the restart failed it", restart, r)

    def instant_end(self, t: int, state: Replay) -> None:
        for job_id, restart in list(self.was_running.items()):
            job = state.jobs[job_id]
            if job.state != ERROR or job.finished != restart.t or job.reason != RESTART_ERROR:
                self.fail(restart.t, f"job {job_id} was running when {restart.qpu} restarted; "
                          f"it must fail then with the restart's reason (code 5203), but it "
                          f"is {job.state}", restart)
        self.was_running.clear()
        self.was_queued.clear()
        self.restart.clear()

    def finish(self, state: Replay, settled: bool) -> None:
        self.instant_end(state.now, state)
        if not settled:
            return
        for job_id in sorted(self.held):
            self.checks += 1
            if not state.jobs[job_id].is_final:
                self.fail(state.now, f"job {job_id} existed when the platform restarted but "
                          f"never ended (it is {state.jobs[job_id].state})")
