"""The job lifecycle as one declarative table and the object that runs it.

The state names are the strings ``job.status()`` returns, as in ``qiskit-ibm-runtime``.
"""

from __future__ import annotations

from .lifecycle import Lifecycle
from .table import EventSpec, LifecycleTable, Row, StateSpec

QUEUED, RUNNING, DONE, ERROR, CANCELLED = "QUEUED", "RUNNING", "DONE", "ERROR", "CANCELLED"
FINAL_STATUSES = frozenset({DONE, ERROR, CANCELLED})

JOB_TABLE = LifecycleTable(
    kind="job",
    states=(
        StateSpec(QUEUED, "submitted; waiting for the QPU"),
        StateSpec(RUNNING, "executing on the QPU"),
        StateSpec(DONE, "finished; its result is available", final=True),
        StateSpec(ERROR, "failed in execution, or its session expired while it queued",
                  final=True),
        StateSpec(CANCELLED, "cancelled by the user or by its session's cancel()", final=True),
    ),
    initial=QUEUED,
    events=(
        EventSpec("start", "start", "the scheduler starts it on the QPU"),
        EventSpec("finish", "finish", "its execution completed"),
        EventSpec("fail", "fail", "its execution raised an error or exceeded a limit"),
        EventSpec("expire", "expire", "its session reached max TTL while it queued"),
        EventSpec("cancel", "cancel", "job.cancel() or its session's cancel()"),
    ),
    guards=(),
    rows=(
        Row("start", (QUEUED,), RUNNING, note="running timestamp = now"),
        Row("finish", (RUNNING,), DONE),
        Row("fail", (RUNNING,), ERROR, note="the error message says why"),
        Row("expire", (QUEUED,), ERROR,
            note="a running job is not expired: it runs to completion"),
        Row("cancel", (QUEUED, RUNNING), CANCELLED,
            note="a running job is stopped and the QPU freed"),
    ),
)


class JobLifecycle(Lifecycle):
    """One job's status; the strings are those ``qiskit-ibm-runtime`` jobs report."""

    TABLE = JOB_TABLE
    __slots__ = ()
