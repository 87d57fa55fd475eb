"""What a job's end bills and charges, by why it ended: the charged-span rule, as data.

Two amounts come out of every job that ran (``qsession docs semantics "Usage and billing"``
and ``qsession docs semantics "Scheduling and fair share"``):

- its **usage**, what ``job.usage()`` and IBM's metrics report: the time it held the QPU,
  or 0 when the system failed it (a QPU fault), as IBM reports it;
- its **fair-share charge**, what its instance's share of the QPUs is debited: the same
  time for a batch or job-mode job that completed or was stopped at its
  ``max_execution_time``; nothing for a job cancelled by its user or failed (by its own
  execution error or by the system). A dedicated session's jobs are never charged one by
  one: the session is charged its billed active spans (``bills_active_spans``).

The runtime's scheduler executes ``job_charge`` and writes both amounts into the trace, so
every reader takes them from there; the invariants keep their own reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, NamedTuple

from .job import JOB_TABLE
from .session import Mode
from .table import TableError

EndCause = Literal["completed", "time_limit", "execution_error", "system_fault", "user_cancel"]
"""Why a job that ran ended."""


@dataclass(frozen=True, slots=True)
class ChargeRule:
    """One way a job that ran can end, and what that end bills and charges."""

    cause: EndCause
    event: str
    """The job event that ends it so."""
    usage: bool
    """Its usage is the time it held the QPU (False: 0)."""
    fair_share: bool
    """Its instance is charged that time (batch and job-mode jobs only)."""
    note: str


CHARGE_RULES: tuple[ChargeRule, ...] = (
    ChargeRule("completed", "finish", True, True, "its circuits ran to the end"),
    ChargeRule("time_limit", "fail", True, True,
               "stopped at its max_execution_time: the QPU was used until then"),
    ChargeRule("execution_error", "fail", True, False,
               "its circuits failed in the simulator: the time is reported, not charged"),
    ChargeRule("system_fault", "fail", False, False,
               "a QPU fault: usage 0 as IBM reports it, nothing charged"),
    ChargeRule("user_cancel", "cancel", True, False,
               "cancelled by its user while running: the time it ran is reported, not "
               "charged"),
)
"""Every way a job that ran ends."""

RULES_BY_CAUSE = MappingProxyType({rule.cause: rule for rule in CHARGE_RULES})
"""``CHARGE_RULES`` by cause."""

for _rule in CHARGE_RULES:
    if _rule.event not in JOB_TABLE.event_names:
        raise TableError(f"{_rule}: {_rule.event!r} is not a job event")


class Charge(NamedTuple):
    """What one job's end bills (``usage_us``) and charges its instance (``charged_us``)."""

    usage_us: int
    charged_us: int


def bills_active_spans(mode: Mode | None) -> bool:
    """True when a session is billed (and charged) its active spans, not its jobs' time:
    a dedicated session, which holds the QPU while active. Batches and job mode (None)
    are billed their jobs' QPU time."""
    return mode == "dedicated"


def span_runs_on(session_ended: bool, its_job_running: bool) -> bool:
    """Whether a dedicated session's active span, closing because the session ended, stays
    open until the session's running job completes: it ends at the latest of its
    deactivation, its end and that completion (IBM: usage "continues to accumulate after a
    session ends if the QPU is still running a job")."""
    return session_ended and its_job_running


def job_charge(cause: EndCause, held_us: int, session_mode: Mode | None) -> Charge:
    """What a job that held the QPU ``held_us`` and ended for ``cause`` bills and charges.

    ``session_mode`` is its session's mode (None in job mode).
    """
    rule = RULES_BY_CAUSE[cause]
    usage = held_us if rule.usage else 0
    charged = held_us if rule.fair_share and not bills_active_spans(session_mode) else 0
    return Charge(usage, charged)
