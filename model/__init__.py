"""The formal model of Qiskit Runtime sessions and jobs: lifecycle tables run on transitions.

Pure Python and ``transitions``: no qiskit, no clock, no I/O. The runtime asks this
package before it moves any session or job; the properties package checks traces
against it; the diagrams are drawn from it.
"""

from .job import CANCELLED, DONE, ERROR, FINAL_STATUSES, JOB_TABLE, QUEUED, RUNNING, JobLifecycle
from .lifecycle import Lifecycle, Step, TransitionRefused
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
    "CLOSED",
    "DONE",
    "ERROR",
    "EXPIRED",
    "FINAL_STATUSES",
    "INACTIVE",
    "JOB_TABLE",
    "OPEN_STATES",
    "PENDING",
    "QUEUED",
    "RUNNING",
    "SESSION_TABLE",
    "TABLES",
    "EventSpec",
    "GuardSpec",
    "JobLifecycle",
    "Lifecycle",
    "LifecycleTable",
    "Mode",
    "Row",
    "SessionLifecycle",
    "StateSpec",
    "Step",
    "TableError",
    "TransitionRefused",
]
