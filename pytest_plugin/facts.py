"""What a session did, for tests to assert on: thin views over ``qsession.insight.metrics``.

Everything is read from the trace, as the metrics are (so a recorded trace answers the
same questions); nothing is computed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qsession.insight.metrics import Metrics
    from qsession.runtime import Trace


@dataclass(frozen=True)
class SessionFacts:
    """One session's (or batch's) story in numbers: billing, activity and job outcomes."""

    id: str
    mode: str
    """``dedicated`` (a Session) or ``batch``."""
    state: str
    """The model's state: pending, active, inactive, closed, canceled or expired."""
    usage: float
    """Seconds billed: a session's active time, a batch's jobs' QPU time."""
    activations: int
    deactivations: int
    """Interactive timeouts that ran out (the session went inactive)."""
    reserved_idle: float
    """Seconds the QPU sat idle, held for this session within its interactive timeout."""
    jobs: tuple[str, ...]
    done: tuple[str, ...]
    expired: tuple[str, ...]
    """Jobs failed (ERROR) because the session reached its max TTL while they queued."""
    cancelled: tuple[str, ...]
    failed: tuple[str, ...]
    """Jobs in ERROR for another reason: a QPU fault or a limit."""


def session_facts(source: Any, session: Any) -> SessionFacts:
    """The facts of ``session`` (a ``Session``/``Batch`` or its id) in ``source``'s trace.

    ``source`` is a ``LocalService`` (or anything with a ``trace``) or a ``Trace``.
    """
    from qsession.insight.metrics import compute

    trace: Trace = getattr(source, "trace", source)
    sid = session if isinstance(session, str) else session.session_id
    metrics = compute(trace)
    if sid not in metrics.sessions:
        raise KeyError(f"no session {sid!r} in this trace; it has "
                       f"{', '.join(metrics.sessions) or 'none'}")
    return _facts(metrics, sid)


def sessions(service: Any) -> list[SessionFacts]:
    """The facts of every session and batch the code under test opened, oldest first.

    On a service from the plugin (``qsession_service``, ``perturbed()``) the background
    tenants' sessions are left out; on any other service every session is listed.
    """
    from qsession.insight.metrics import compute

    from .run import run_of

    run = run_of(service)
    tenants = set() if run is None else run.tenant_sessions
    metrics = compute(service.trace)
    return [_facts(metrics, sid) for sid in metrics.sessions if sid not in tenants]


def _facts(metrics: Metrics, sid: str) -> SessionFacts:
    s = metrics.sessions[sid]
    return SessionFacts(
        id=s.id, mode=s.mode, state=s.state, usage=s.usage_time, activations=s.activations,
        deactivations=s.deactivations, reserved_idle=s.reserved_idle, jobs=tuple(s.jobs),
        done=_jobs(metrics, s.jobs, "DONE"),
        expired=_jobs(metrics, s.jobs, "ERROR", "expire"),
        cancelled=_jobs(metrics, s.jobs, "CANCELLED"),
        failed=tuple(j for j in _jobs(metrics, s.jobs, "ERROR")
                     if metrics.jobs[j].ended_by != "expire"),
    )


def _jobs(metrics: Metrics, ids: list[str], status: str, ended_by: str | None = None
          ) -> tuple[str, ...]:
    return tuple(j for j in ids if metrics.jobs[j].status == status
                 and (ended_by is None or metrics.jobs[j].ended_by == ended_by))
