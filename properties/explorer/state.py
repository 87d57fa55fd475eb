"""The explorer's abstract state of one QPU, its events, and the model's final states.

``State`` is canonical and hashable: per opened session its mode, model state,
``accepting_jobs`` and whether it has started; per submitted job (in submission order) its
owner (a session, or job mode) and status; the QPU's running job; the order in which
batches first started. ``Event`` is one user or system event, named in paths by its label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from qsession.model import (
    ACTIVE,
    JOB_TABLE,
    QUEUED,
    RUNNING,
    SESSION_TABLE,
    Mode,
)

FINAL_SESSION_STATES = SESSION_TABLE.final_states
"""The session states no event leaves (the model's word)."""
FINAL_JOB_STATUSES = JOB_TABLE.final_states
"""The job statuses no event leaves (the model's word)."""
JOB_STATUSES = frozenset(JOB_TABLE.state_names)
"""Every job status the model knows."""
IN_FLIGHT = frozenset({QUEUED, RUNNING})
"""A job queued or running: one its session still waits for."""
MODES: tuple[Mode, ...] = ("dedicated", "batch")
"""The modes a session is opened in."""

EventKind = Literal[
    "open", "submit", "close", "cancel", "cancel_job", "finish", "fail", "ittl", "max_ttl",
    "idle_close",
]
USER_EVENTS: tuple[EventKind, ...] = ("open", "submit", "close", "cancel", "cancel_job")
"""Events a user causes; a refused one is simply not enabled."""
SYSTEM_EVENTS: tuple[EventKind, ...] = ("finish", "fail", "ittl", "max_ttl", "idle_close")
"""Events the QPU and the timers cause; INV-PROGRESS may use only these."""
EVENT_KINDS: tuple[EventKind, ...] = USER_EVENTS + SYSTEM_EVENTS
"""Every event kind."""


class SessionSlot(NamedTuple):
    """One opened session or batch: its mode, model state, accepting flag, and started flag."""

    mode: Mode
    state: str
    accepting: bool
    started: bool  # the explorer's own record that a job of it started (INV-CLOCK)


class JobSlot(NamedTuple):
    """One submitted job: its owner (a session index, None in job mode) and status."""

    owner: int | None
    status: str


def queued_in(jobs: Sequence[JobSlot], owner: int | None) -> list[int]:
    """Indices of the QUEUED jobs of session ``owner`` (None: job mode), oldest first."""
    return [k for k, job in enumerate(jobs) if job.owner == owner and job.status == QUEUED]


def in_flight_in(jobs: Sequence[JobSlot], owner: int) -> int:
    """The number of session ``owner``'s jobs queued or running (the model's ``in_flight``)."""
    return sum(1 for job in jobs if job.owner == owner and job.status in IN_FLIGHT)


def submitted_to(jobs: Sequence[JobSlot], owner: int) -> int:
    """The number of jobs ever submitted to session ``owner`` (the model's ``submitted``)."""
    return sum(1 for job in jobs if job.owner == owner)


class State(NamedTuple):
    """A canonical abstract state of one QPU; job ``k`` is the ``k``-th submitted."""

    sessions: tuple[SessionSlot, ...]
    jobs: tuple[JobSlot, ...]
    running: int | None
    batches: tuple[int, ...]  # batches that started, in the order their first jobs started

    def queued_of(self, i: int) -> list[int]:
        """Indices of session ``i``'s QUEUED jobs, oldest first."""
        return queued_in(self.jobs, i)

    def in_flight(self, i: int) -> int:
        """The number of session ``i``'s jobs queued or running."""
        return in_flight_in(self.jobs, i)

    def submitted(self, i: int) -> int:
        """The number of jobs ever submitted to session ``i`` (jobs are never forgotten)."""
        return submitted_to(self.jobs, i)

    def active_dedicated(self) -> list[int]:
        """Indices of the active dedicated sessions (one at most, by INV-ACTIVE-ONE)."""
        return [
            i for i, s in enumerate(self.sessions) if s.mode == "dedicated" and s.state == ACTIVE
        ]

    def active_batches(self) -> list[int]:
        """Indices of the active batches, by index (``batches`` has their first-start order)."""
        return [i for i, s in enumerate(self.sessions) if s.mode == "batch" and s.state == ACTIVE]

    @property
    def held(self) -> bool:
        """True when the QPU is idle, held for an active dedicated session with nothing queued."""
        return self.running is None and any(
            not self.queued_of(i) for i in self.active_dedicated()
        )

    @property
    def all_final(self) -> bool:
        """True when every job is DONE, ERROR or CANCELLED (the INV-PROGRESS goal)."""
        return all(job.status in FINAL_JOB_STATUSES for job in self.jobs)

    def describe(self) -> str:
        """A one-line human-readable rendering, for violation messages."""
        sessions = " ".join(
            f"s{i}:{s.mode[0]}/{s.state}{'' if s.accepting else '/closing'}"
            for i, s in enumerate(self.sessions)
        )
        jobs = " ".join(
            f"j{k}:{'job' if j.owner is None else f's{j.owner}'}/{j.status}"
            for k, j in enumerate(self.jobs)
        )
        qpu = "idle" if self.running is None else f"j{self.running}"
        return f"[{sessions or 'no sessions'} | {jobs or 'no jobs'} | qpu={qpu}]"


INITIAL = State((), (), None, ())
"""The empty QPU: no session, no job."""


class Event(NamedTuple):
    """One event of the abstract system: a kind and its target (session or job index)."""

    kind: EventKind
    target: int | None = None  # session or job index; None for open and job-mode submit
    mode: Mode | None = None  # for ``open`` only

    @property
    def label(self) -> str:
        """The human-readable form used in paths, e.g. ``submit(s0)`` or ``finish(j1)``."""
        if self.kind == "open":
            return f"open({self.mode})"
        if self.kind == "submit":
            return "submit(job)" if self.target is None else f"submit(s{self.target})"
        prefix = "j" if self.kind in ("cancel_job", "finish", "fail") else "s"
        return f"{self.kind}({prefix}{self.target})"

    @property
    def is_system(self) -> bool:
        """True for QPU and timer events (the only ones INV-PROGRESS may use)."""
        return self.kind in SYSTEM_EVENTS


def target_of(event: Event) -> int:
    """The session or job index an event names (every event but ``open`` and job-mode
    ``submit`` names one)."""
    assert event.target is not None, event
    return event.target
