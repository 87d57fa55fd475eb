"""The formal model of Qiskit Runtime sessions and jobs: lifecycle tables run on transitions.

Pure Python and ``transitions``: no qiskit, no clock, no I/O. The runtime asks this
package before it moves any session or job; the properties package checks traces
against it; the diagrams are drawn from it.

What lives here: the lifecycle tables (``session``, ``job``); how a session and its jobs
move each other (``coupling``); which job a free QPU starts (``dispatch``); what a job's
end bills and charges (``charges``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .charges import (
        CHARGE_RULES,
        Charge,
        ChargeRule,
        EndCause,
        bills_active_spans,
        job_charge,
        span_runs_on,
    )
    from .coupling import (
        COUPLING,
        EXPIRY_REASON,
        JOB_SESSION_RULES,
        SESSION_CANCEL_REASON,
        SESSION_JOB_RULES,
        Coupling,
        JobSessionRule,
        SessionJobRule,
    )

from .dispatch import Decision, Via, batch_order, in_normal_queue, select
from .job import CANCELLED, DONE, ERROR, FINAL_STATUSES, JOB_TABLE, QUEUED, RUNNING, JobLifecycle
from .lifecycle import Lifecycle, Step, TransitionRefused, machine_arguments
from .session import (
    ACTIVE,
    CANCELED,
    CLOSED,
    EXPIRED,
    INACTIVE,
    OPEN_STATES,
    PENDING,
    SESSION_TABLE,
    Mode,
    SessionLifecycle,
)
from .table import EventSpec, GuardSpec, LifecycleTable, Row, StateSpec, TableError

TABLES: dict[str, LifecycleTable] = {"session": SESSION_TABLE, "job": JOB_TABLE}
"""Every lifecycle table by kind."""

__all__ = [
    "ACTIVE",
    "CANCELED",
    "CANCELLED",
    "CHARGE_RULES",
    "CLOSED",
    "COUPLING",
    "DONE",
    "ERROR",
    "EXPIRED",
    "EXPIRY_REASON",
    "FINAL_STATUSES",
    "INACTIVE",
    "JOB_SESSION_RULES",
    "JOB_TABLE",
    "OPEN_STATES",
    "PENDING",
    "QUEUED",
    "RUNNING",
    "SESSION_CANCEL_REASON",
    "SESSION_JOB_RULES",
    "SESSION_TABLE",
    "TABLES",
    "Charge",
    "ChargeRule",
    "Coupling",
    "Decision",
    "EndCause",
    "EventSpec",
    "GuardSpec",
    "JobLifecycle",
    "JobSessionRule",
    "Lifecycle",
    "LifecycleTable",
    "Mode",
    "Row",
    "SessionJobRule",
    "SessionLifecycle",
    "StateSpec",
    "Step",
    "TableError",
    "TransitionRefused",
    "Via",
    "batch_order",
    "bills_active_spans",
    "in_normal_queue",
    "job_charge",
    "machine_arguments",
    "select",
    "span_runs_on",
]

# The coupling and charge rules load on first use (PEP 562): the diagrams, the CLI's help
# and trace readers import the lifecycle tables without paying for the rule tables.
_WHERE = {name: module for module, names in {
    "charges": ("CHARGE_RULES", "Charge", "ChargeRule", "EndCause", "bills_active_spans",
                "job_charge", "span_runs_on"),
    "coupling": ("COUPLING", "EXPIRY_REASON", "JOB_SESSION_RULES", "SESSION_CANCEL_REASON",
                 "SESSION_JOB_RULES", "Coupling", "JobSessionRule", "SessionJobRule"),
}.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
