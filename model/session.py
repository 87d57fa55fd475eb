"""The session lifecycle as one declarative table and the object that runs it.

Facts the runtime passes in: ``in_flight`` is the number of the session's jobs that are
queued or running *after* the event took place (so for ``job_ended`` the ended job is no
longer counted); ``submitted`` is the number of jobs ever submitted to the session. The
model keeps the ``accepting_jobs`` flag itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .lifecycle import Lifecycle
from .table import EventSpec, GuardSpec, LifecycleTable, Row, StateSpec

if TYPE_CHECKING:
    from transitions import EventData

Mode = Literal["dedicated", "batch"]
"""``dedicated`` is a ``Session`` (it reserves the QPU while active); ``batch`` a ``Batch``."""

PENDING, ACTIVE, INACTIVE = "pending", "active", "inactive"
CLOSED, CANCELED, EXPIRED = "closed", "canceled", "expired"
OPEN_STATES = (PENDING, ACTIVE, INACTIVE)
STARTED_STATES = (ACTIVE, INACTIVE)

SESSION_TABLE = LifecycleTable(
    kind="session",
    states=(
        StateSpec(PENDING, "created; no job of it has started yet"),
        StateSpec(ACTIVE, "a job of it started and its interactive timeout has not run out"),
        StateSpec(INACTIVE, "its interactive timeout ran out; its next job queues normally"),
        StateSpec(CLOSED, "closed and drained: no job queued or running", final=True),
        StateSpec(CANCELED, "canceled: its queued jobs were cancelled", final=True),
        StateSpec(EXPIRED, "its maximum time was reached: its queued jobs failed", final=True),
    ),
    initial=PENDING,
    events=(
        EventSpec("submit", "submit a job", "a job is submitted to the session"),
        EventSpec("job_started", "start a job", "one of its jobs starts running on the QPU"),
        EventSpec(
            "job_ended",
            "end a job",
            "one of its jobs reached a final state (done, failed or cancelled)",
            facts=("in_flight",),
        ),
        EventSpec(
            "ittl_elapsed",
            "deactivate",
            "a full interactive timeout passed with no job of it queued or running",
            facts=("in_flight",),
        ),
        EventSpec("close", "close", "close() was called", facts=("in_flight",)),
        EventSpec("cancel", "cancel", "cancel() was called"),
        EventSpec(
            "max_time_reached", "expire", "started_at + max_time was reached (max TTL)"
        ),
        EventSpec(
            "idle_close_elapsed",
            "close unused",
            "idle_close_timeout passed since creation (IBM: 30 min) with no job submitted",
            facts=("submitted",),
        ),
    ),
    guards=(
        GuardSpec(
            "is_accepting",
            "the session still accepts jobs (close() was not called)",
            refusal="it no longer accepts jobs (close() was called)",
            negated_refusal="it still accepts jobs",
        ),
        GuardSpec(
            "is_idle",
            "no job of the session is queued or running",
            refusal="it has jobs queued or running",
            negated_refusal="it has no job queued or running",
        ),
        GuardSpec(
            "never_used",
            "no job was ever submitted to the session",
            refusal="a job was submitted to it",
            negated_refusal="no job was ever submitted to it",
        ),
        GuardSpec(
            "is_drained",
            "the session no longer accepts jobs and has none queued or running",
            refusal="it still accepts jobs or has jobs queued or running",
            negated_refusal="it is drained",
        ),
    ),
    rows=(
        Row("submit", OPEN_STATES, None, conditions=("is_accepting",),
            note="the job queues; the session state does not change"),
        Row("job_started", (PENDING,), ACTIVE,
            note="started_at = activated_at = now; the max-TTL clock starts"),
        Row("job_started", (INACTIVE,), ACTIVE,
            note="reactivated through the normal queue; activated_at = now"),
        Row("job_started", (ACTIVE,), None, note="the next job of an active session"),
        Row("job_ended", OPEN_STATES, CLOSED, conditions=("is_drained",),
            note="the last job of a closed session ended: closed at once, no ITTL wait"),
        Row("job_ended", OPEN_STATES, None, unless=("is_drained",),
            note="the interactive timeout counts from the moment it is idle"),
        Row("ittl_elapsed", (ACTIVE,), INACTIVE, conditions=("is_idle",),
            note="the QPU goes back to normal selection"),
        Row("close", OPEN_STATES, CLOSED, conditions=("is_idle",),
            effects=("stop_accepting",), note="nothing queued or running: closed at once"),
        Row("close", OPEN_STATES, None, unless=("is_idle",), effects=("stop_accepting",),
            note="stops accepting; queued jobs still run (active ones with priority)"),
        Row("cancel", OPEN_STATES, CANCELED, effects=("stop_accepting",),
            note="queued jobs become CANCELLED now; a running job completes"),
        Row("max_time_reached", STARTED_STATES, EXPIRED, effects=("stop_accepting",),
            note="queued jobs become ERROR now; a running job completes"),
        Row("idle_close_elapsed", (PENDING,), CLOSED, conditions=("never_used",),
            effects=("stop_accepting",),
            note="an unused session closes; a later submit gets the closed-session error"),
    ),
)


class SessionLifecycle(Lifecycle):
    """One session's (or batch's) lifecycle state and ``accepting_jobs`` flag.

    Batches share the table: they differ only in scheduling (``reserves_qpu``), which
    the runtime reads from here.
    """

    TABLE = SESSION_TABLE
    __slots__ = ("accepting_jobs", "mode")

    def __init__(self, ident: object, mode: Mode = "dedicated") -> None:
        if mode not in ("dedicated", "batch"):
            raise ValueError(f"session mode must be 'dedicated' or 'batch', not {mode!r}")
        super().__init__(ident)
        self.mode: Mode = mode
        self.accepting_jobs = True

    @property
    def reserves_qpu(self) -> bool:
        """True when an active session holds the QPU idle within its ITTL (not batches)."""
        return self.mode == "dedicated"

    # -- guards (named in the table) ------------------------------------------------------

    def is_accepting(self, event: EventData) -> bool:
        """Guard: ``close()`` has not been called."""
        return self.accepting_jobs

    def is_idle(self, event: EventData) -> bool:
        """Guard: no job of the session is queued or running."""
        return _in_flight(event) == 0

    def never_used(self, event: EventData) -> bool:
        """Guard: no job was ever submitted to the session."""
        value = event.kwargs["submitted"]
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"submitted must be a count of jobs (int >= 0), not {value!r}")
        return value == 0

    def is_drained(self, event: EventData) -> bool:
        """Guard: not accepting jobs and none queued or running."""
        return not self.accepting_jobs and _in_flight(event) == 0

    # -- effects (named in the table) -----------------------------------------------------

    def stop_accepting(self, event: EventData) -> None:
        """Effect: new submissions are refused from now on."""
        self.accepting_jobs = False


def _in_flight(event: EventData) -> int:
    value = event.kwargs["in_flight"]
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"in_flight must be a count of jobs (int >= 0), not {value!r}")
    return value
