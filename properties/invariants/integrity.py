"""The trace's integrity: every job in one state, ids given once, time that never goes back."""

from __future__ import annotations

from qsession.model import RUNNING
from qsession.runtime import Record

from ..replay import Replay
from .base import Checker


class Conservation(Checker):
    """INV-CONSERVATION."""

    id = "INV-CONSERVATION"
    statement = ("every job is in exactly one state; none lost or duplicated; one job at a "
                 "time per QPU")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job":
            self._job(r, state)
        elif r.entity == "session" and r.event != "create":
            self._session_count(r, state)

    def _job(self, r: Record, state: Replay) -> None:
        self.checks += 1
        if r.event == "create":
            if r.id in state.jobs:
                self.fail(r.t, f"job {r.id} created twice", r)
            return
        job = state.jobs.get(r.id)
        if job is None:
            self.fail(r.t, f"job {r.id} has an event but was never created", r)
            return
        if r.source is not None and r.source != job.state:
            self.fail(r.t, f"job {r.id} moved from {r.source}, but it was {job.state}", r)
        if r.dest == RUNNING:
            running = state.qpu(r.qpu).running
            if running is not None:
                self.fail(r.t, f"job {r.id} started on {r.qpu} while job {running} runs", r)

    def _session_count(self, r: Record, state: Replay) -> None:
        reported = r.data.get("in_flight")
        s = state.sessions.get(r.id)
        if s is None or not isinstance(reported, int):
            return
        self.checks += 1
        # Session records follow the job record of the same step, so the replayed count
        # already includes it.
        if reported != s.in_flight:
            self.fail(r.t, f"session {s.id} reports {reported} job(s) in flight but the trace "
                      f"shows {s.in_flight} ({sorted(s.queued | s.running)})", r)

    def after(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.event != "create":
            job = state.jobs.get(r.id)
            if job is not None and r.dest is not None and job.state != r.dest:
                self.fail(r.t, f"job {r.id} is {job.state} after moving to {r.dest}", r)


class IdsUnique(Checker):
    """INV-IDS-UNIQUE."""

    id = "INV-IDS-UNIQUE"
    statement = "every session and job id is created once and names one object"

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, Record] = {}

    def before(self, r: Record, state: Replay) -> None:
        if r.event != "create" or r.entity not in ("session", "job"):
            return
        self.checks += 1
        earlier = self.seen.get(r.id)
        if earlier is not None:
            self.fail(r.t, f"{r.entity} id {r.id} was already given to the {earlier.entity} "
                      f"created at {earlier.t / 1e6:g}s", earlier, r)
        else:
            self.seen[r.id] = r


class Time(Checker):
    """INV-TIME."""

    id = "INV-TIME"
    statement = ("time never goes back within a QPU's records; every record names objects "
                 "created earlier in the trace")

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[str, Record] = {}

    def before(self, r: Record, state: Replay) -> None:
        self.checks += 1
        previous = self.last.get(r.qpu)
        if previous is not None and r.t < previous.t:
            self.fail(r.t, f"{r.qpu}'s time went back from {previous.t / 1e6:g}s to "
                      f"{r.t / 1e6:g}s", previous, r)
        else:
            self.last[r.qpu] = r
        for kind, name in self.dangling(r, state):
            self.fail(r.t, f"{r.entity} {r.id} {r.event} names {kind} {name}, which no "
                      "earlier record created", r)

    @classmethod
    def dangling(cls, r: Record, state: Replay) -> list[tuple[str, str]]:
        """The objects ``r`` names that no earlier record created."""
        return [(kind, name) for kind, name in cls._references(r)
                if name not in (state.sessions if kind == "session" else state.jobs)]

    @staticmethod
    def _references(r: Record) -> list[tuple[str, str]]:
        """The (kind, id) of every object the record names that must already exist."""
        refs: list[tuple[str, str]] = []
        if r.entity in ("session", "job") and r.event != "create":
            refs.append((r.entity, r.id))
        if r.session is not None and not (r.entity == "session" and r.event == "create"):
            refs.append(("session", r.session))
        job = r.data.get("job")
        if r.entity == "qpu" and isinstance(job, str):
            refs.append(("job", job))
        return refs
