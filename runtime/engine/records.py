"""The scheduler's bookkeeping for one session and one job: model state plus times and queues.

These are runtime internals; the user-facing ``Session`` and ``RuntimeJobV2`` wrap them.
Times are integer microseconds on the service's clock (``None`` until they happen).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

from qsession.model import (
    ACTIVE,
    FINAL_STATUSES,
    QUEUED,
    JobLifecycle,
    Mode,
    SessionLifecycle,
)

from .clock import Timer

JobKind = Literal["sampler", "estimator", "executor", "null"]


class SessionRecord:
    """A session or batch on one QPU: its lifecycle, timers, queue and accounting."""

    __slots__ = (
        "activated_at",
        "closed_at",
        "created_at",
        "deactivations",
        "history",
        "id",
        "idle_close_timer",
        "idle_close_us",
        "instance",
        "ittl_timer",
        "ittl_us",
        "jobs",
        "last_job_completed",
        "last_job_started",
        "lifecycle",
        "max_time_us",
        "maxttl_timer",
        "meter_job",
        "qpu",
        "queue",
        "queued",
        "reserved_idle_us",
        "running",
        "started_at",
        "usage_us",
    )

    def __init__(self, id: str, mode: Mode, qpu: str, instance: str, ittl_us: int,
                 max_time_us: int, created_at: int, idle_close_us: int | None = None) -> None:
        self.id = id
        self.lifecycle = SessionLifecycle(id, mode)
        self.qpu = qpu
        self.instance = instance
        self.ittl_us = ittl_us
        self.max_time_us = max_time_us
        self.created_at = created_at
        self.started_at: int | None = None
        self.activated_at: int | None = None
        self.closed_at: int | None = None
        self.last_job_started: int | None = None
        self.last_job_completed: int | None = None
        self.queue: deque[JobRecord] = deque()
        self.jobs: list[JobRecord] = []
        self.queued = 0
        self.running = 0
        self.ittl_timer: Timer | None = None
        self.maxttl_timer: Timer | None = None
        self.idle_close_us = idle_close_us
        self.idle_close_timer: Timer | None = None
        # A dedicated session that ended while one of its jobs ran is billed until that
        # job completes: the job, while its active span is still open.
        self.meter_job: JobRecord | None = None
        self.history: list[tuple[str, int]] = [(self.lifecycle.state, created_at)]
        self.usage_us = 0
        self.deactivations = 0
        self.reserved_idle_us = 0

    @property
    def mode(self) -> Mode:
        """``dedicated`` (a Session) or ``batch``."""
        return self.lifecycle.mode

    @property
    def state(self) -> str:
        """The model state name."""
        return self.lifecycle.state

    @property
    def in_flight(self) -> int:
        """Jobs of this session queued or running."""
        return self.queued + self.running

    @property
    def is_active(self) -> bool:
        """True while the model says active."""
        return self.lifecycle.state == ACTIVE

    def billed_us(self, now: int) -> int:
        """A dedicated session's billed active time up to ``now`` (open span included)."""
        if self.activated_at is not None and (self.is_active or self.meter_job is not None):
            return self.usage_us + now - self.activated_at
        return self.usage_us

    def head(self) -> JobRecord | None:
        """The oldest still-queued job of the session (dropping ended ones from the front)."""
        queue = self.queue
        while queue and queue[0].state != QUEUED:
            queue.popleft()
        return queue[0] if queue else None

    def __repr__(self) -> str:
        counts = f"q={self.queued} r={self.running}"
        return f"<SessionRecord {self.id} {self.mode} {self.state} {counts}>"


class JobRecord:
    """A job: its lifecycle, payload, modeled duration, times, result or error."""

    __slots__ = (
        "created", "deleted", "duration_us", "error", "finish_timer", "finished", "held_us", "id",
        "inputs", "instance",
        "kind", "lifecycle", "outcome", "payload", "qpu", "result", "running", "seed",
        "seq", "session", "tags", "time_limit_us", "usage_us",
    )

    def __init__(self, id: str, seq: int, qpu: str, session: SessionRecord | None,
                 instance: str, kind: JobKind, payload: Any, duration_us: int, seed: int | None,
                 created: int) -> None:
        self.id = id
        self.seq = seq
        self.qpu = qpu
        self.session = session
        self.instance = instance
        self.kind = kind
        self.payload = payload
        self.duration_us = duration_us
        self.seed = seed
        self.lifecycle = JobLifecycle(id)
        self.created = created
        self.running: int | None = None
        self.finished: int | None = None
        self.usage_us = 0
        self.held_us = 0
        self.result: Any = None
        self.error: str | None = None
        self.outcome: Any = None
        self.finish_timer: Timer | None = None
        self.time_limit_us: int | None = None
        self.tags: tuple[str, ...] = ()
        self.deleted = False
        """True once the job was deleted: lookups and listings no longer find it."""
        self.inputs: dict[str, Any] = {}
        """What the primitive was given: pubs, set options, and the options not emulated."""

    @property
    def state(self) -> str:
        """The status string (``QUEUED``, ``RUNNING``, ``DONE``, ``ERROR``, ``CANCELLED``)."""
        return self.lifecycle.state

    @property
    def is_final(self) -> bool:
        """True once the job is DONE, ERROR or CANCELLED."""
        return self.lifecycle.state in FINAL_STATUSES

    @property
    def session_id(self) -> str | None:
        """The id of the job's session or batch (None in job mode)."""
        return None if self.session is None else self.session.id

    def __repr__(self) -> str:
        return f"<JobRecord {self.id} {self.state} session={self.session_id}>"
