"""How a session and its jobs move each other: the coupling rules, as data.

The lifecycle tables (``session``, ``job``) say how each object may move on its own.
These rules say how a move of one moves the other:

- ``SESSION_JOB_RULES``: what a session event does to the session's jobs that are still
  queued or running (close lets them drain, cancel cancels the queued ones, expiry fails
  them; a running job always runs to completion);
- ``JOB_SESSION_RULES``: which session event a job's start or end tells its session
  (``job_started``, ``job_ended``), unless the session has already ended;
- the batch order (``dispatch.batch_order``) is part of the bundle, so that one value,
  ``COUPLING``, is everything the scheduler and the explorer execute beside the tables
  and ``dispatch.select``.

The runtime's scheduler (``qsession.runtime.engine.scheduler``) and the model explorer
(``qsession.properties.explorer``) both execute ``COUPLING``; neither restates it. The
invariants (``qsession.properties.invariants``) keep an independent reading on purpose,
so a wrong rule here is caught there. Tests and mutants plant a wrong rule by giving a
changed copy (``dataclasses.replace``), never by editing code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from .dispatch import batch_order
from .job import JOB_TABLE
from .session import SESSION_TABLE
from .table import LifecycleTable, TableError

EXPIRY_REASON = "session max time reached: the job was still queued when its session expired"
"""Why a queued job fails when its session reaches its max TTL (recorded on the job)."""
SESSION_CANCEL_REASON = "session cancelled"
"""Why a queued job is cancelled by its session's ``cancel()`` (recorded on the job)."""


@dataclass(frozen=True, slots=True)
class SessionJobRule:
    """What one session event does to that session's queued jobs and its running job."""

    event: str
    """The session event (a row of the session table)."""
    queued: str | None
    """The job event fired on each of its queued jobs, oldest first (None: they stay)."""
    running: str | None
    """The job event fired on its running job (None: it runs to completion)."""
    reason: str | None
    """Why, as recorded on each job it ends."""
    note: str


@dataclass(frozen=True, slots=True)
class JobSessionRule:
    """Which session event one job event tells the job's session (if it has not ended)."""

    job_event: str
    session_event: str
    note: str


SESSION_JOB_RULES: tuple[SessionJobRule, ...] = (
    SessionJobRule("close", None, None, None,
                   "queued jobs still run (an active session's with priority); the session "
                   "closes when the last one ends"),
    SessionJobRule("cancel", "cancel", None, SESSION_CANCEL_REASON,
                   "queued jobs become CANCELLED at that instant; a running job completes"),
    SessionJobRule("max_time_reached", "expire", None, EXPIRY_REASON,
                   "queued jobs become ERROR at that instant; a running job completes"),
)
"""The session events that reach the session's jobs; every other session event leaves them."""

JOB_SESSION_RULES: tuple[JobSessionRule, ...] = (
    JobSessionRule("start", "job_started",
                   "a pending session becomes active (its max-TTL clock starts), an inactive "
                   "one active again"),
    JobSessionRule("finish", "job_ended", "the ITTL counts from the moment nothing is in "
                                          "flight; a drained closing session closes"),
    JobSessionRule("fail", "job_ended", "as finish"),
    JobSessionRule("cancel", "job_ended", "as finish (a job cancelled by the user)"),
    JobSessionRule("expire", "job_ended", "only ever at its session's expiry, when the "
                                          "session has ended and is told nothing"),
)
"""Every job event but ``create`` tells the session, as long as the session has not ended."""

@functools.cache
def _no_effect(event: str) -> SessionJobRule:
    """The rule of a session event that reaches none of the session's jobs."""
    return SessionJobRule(event, None, None, None, "its jobs are left as they are")


@dataclass(frozen=True)
class Coupling:
    """Every coupling rule in one value: what the scheduler and the explorer execute.

    ``on_session`` maps a session event to its rule (events absent leave the jobs as they
    are); ``on_job`` maps a job event to the session event it tells; ``batch_order`` is
    the key that orders started batches (``dispatch.batch_order``).
    """

    on_session: Mapping[str, SessionJobRule]
    on_job: Mapping[str, str]
    batch_order: Callable[[int, int, str], tuple[int, int, str]] = batch_order
    name: str = field(default="the real rules", compare=False)

    def session_rule(self, event: str) -> SessionJobRule:
        """The rule of session event ``event`` (a no-op rule for events that reach no job)."""
        rule = self.on_session.get(event)
        return rule if rule is not None else _no_effect(event)

    def session_event_of(self, job_event: str) -> str | None:
        """The session event a job event tells the job's session (None: nothing)."""
        return self.on_job.get(job_event)

    def with_session_rule(self, event: str, *, queued: str | None = None,
                          running: str | None = None, reason: str | None = None,
                          name: str) -> Coupling:
        """A copy in which session event ``event`` does this to its jobs (to plant a bug)."""
        rule = SessionJobRule(event, queued, running, reason, name)
        return replace(self, on_session=MappingProxyType({**self.on_session, event: rule}),
                       name=name)


def _check(rules: tuple[SessionJobRule, ...], links: tuple[JobSessionRule, ...]) -> None:
    """Every event named is one of its table's (a typo would silently never fire)."""
    named: list[tuple[LifecycleTable, str, object]] = [
        (SESSION_TABLE, rule.event, rule) for rule in rules]
    named += [(JOB_TABLE, e, rule) for rule in rules for e in (rule.queued, rule.running) if e]
    named += [(JOB_TABLE, link.job_event, link) for link in links]
    named += [(SESSION_TABLE, link.session_event, link) for link in links]
    for table, event, where in named:
        if event not in table.event_names:
            raise TableError(f"{where}: {event!r} is not a {table.kind} event")


_check(SESSION_JOB_RULES, JOB_SESSION_RULES)

COUPLING = Coupling(
    on_session=MappingProxyType({rule.event: rule for rule in SESSION_JOB_RULES}),
    on_job=MappingProxyType({link.job_event: link.session_event
                             for link in JOB_SESSION_RULES}),
)
"""The real coupling rules."""
