"""The one mapping between the runtime's objects and IBM's JSON: states, key names, times, errors.

Every response body the server sends is built here, from the runtime's *public* objects
(``RuntimeJobV2``, ``Session.details()``, ``QPU``, the trace), so a change of the runtime's
vocabulary lands in this module only. Shapes follow what qiskit-ibm-runtime 0.51 parses
(``api/rest/*``, ``runtime_job_v2.py``, ``session.py``, ``qiskit_runtime_service.py``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from qsession.runtime.scheduler import QPU_FAULT, RESTART_CODE

if TYPE_CHECKING:
    from qsession.runtime import RuntimeJobV2, Trace

# Job states: runtime (qiskit-ibm-runtime's status() strings) -> REST ``state.status``.
# The client maps them back with API_TO_JOB_STATUS (runtime_job_v2.py).
JOB_STATUS = {"QUEUED": "Queued", "RUNNING": "Running", "DONE": "Completed",
              "ERROR": "Failed", "CANCELLED": "Cancelled"}
FINAL_JOB_STATUSES = frozenset({"DONE", "ERROR", "CANCELLED"})

# Session states: the model's six names and IBM's four; IBM's pass through.
SESSION_STATE = {"pending": "open", "active": "active", "inactive": "inactive",
                 "closed": "closed", "canceled": "closed", "expired": "closed",
                 "open": "open"}

MAX_TIME_CODE = 1305
"""IBM's reason code of a job stopped at its ``max_execution_time`` (the client raises
``RuntimeJobMaxTimeoutError`` for a Cancelled job with this code)."""
_MAX_TIME_PREFIX = f"Error code {MAX_TIME_CODE}; "
# A job that was running when the platform stopped (docs/server.md, "Recovery").
_RESTART_PREFIX = f"{QPU_FAULT} error code {RESTART_CODE}; "

# IBM's error-code registry (quantum.cloud.ibm.com/docs/errors) where a code fits.
CODE_INTERNAL = 1000
CODE_VALIDATION = 1002
CODE_BACKEND_NOT_FOUND = 1007
CODE_NOT_AUTHORIZED = 1200
CODE_INVALID_CREDENTIALS = 1201


def iso(value: datetime | str | None) -> str | None:
    """A timestamp as the REST service writes it: ISO 8601 UTC ending in ``Z`` (µs kept)."""
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds_out(value: float | int | None) -> float | int | None:
    """Seconds as an int when whole (IBM sends ints for TTLs), else the float."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


# -- errors --------------------------------------------------------------------------


def error_body(message: str, *, status: int, code: int | None = None) -> dict[str, Any]:
    """IBM's error body: ``{"errors": [{"message", "code", "more_info"}], "trace", ...}``."""
    return {
        "errors": [{"message": message, "code": code if code is not None else status,
                    "more_info": "https://quantum.cloud.ibm.com/docs/errors"}],
        "trace": uuid.uuid4().hex,
        "status_code": status,
    }


# -- backends ------------------------------------------------------------------------


def backend_device(name: str, *, qubits: int, queue_length: int, processor_type: Any,
                   clops: Any) -> dict[str, Any]:
    """One entry of ``GET /backends`` ``devices`` (read by ``least_busy`` and ``backends``)."""
    return {
        "name": name,
        "status": {"name": "online", "reason": "available"},
        "queue_length": queue_length,
        "qubits": qubits,
        "processor_type": processor_type,
        "clops": clops,
        "performance_metrics": {},
        "wait_time_seconds": None,
    }


def backend_status(name: str, version: str, queue_length: int) -> dict[str, Any]:
    """``GET /backends/{name}/status``: the client reads ``state``, ``status``, ``length_queue``."""
    return {"backend_name": name, "backend_version": version, "state": True,
            "status": "active", "message": "", "length_queue": queue_length}


# -- jobs ----------------------------------------------------------------------------


def job_state(job: RuntimeJobV2) -> dict[str, Any]:
    """``state`` of a job: status, and for failures the reason (and IBM's reason code)."""
    status = job.status()
    state: dict[str, Any] = {"status": JOB_STATUS[status]}
    if status == "ERROR":
        reason = job.error_message() or "the job failed"
        if reason.startswith(_MAX_TIME_PREFIX):
            # IBM reports a job stopped at its limit as Cancelled with reason code 1305.
            return {"status": "Cancelled", "reason": reason[len(_MAX_TIME_PREFIX):],
                    "reason_code": MAX_TIME_CODE}
        if reason.startswith(_RESTART_PREFIX):
            # A job running when the platform stopped: IBM's 5203, "Failed to run job".
            return {"status": "Failed", "reason": reason[len(_RESTART_PREFIX):],
                    "reason_code": RESTART_CODE}
        state["reason"] = reason
    return state


def job_json(job: RuntimeJobV2, *, crn: str, tags: list[str], params: Any = None,
             include_params: bool = False) -> dict[str, Any]:
    """``GET /jobs/{id}`` and one entry of ``GET /jobs``."""
    state = job_state(job)
    body: dict[str, Any] = {
        "id": job.job_id(),
        "backend": job.backend().name,
        "state": state,
        "status": state["status"],
        "created": iso(job.creation_date),
        "program": {"id": job.primitive_id},
        "session_id": job.session_id,
        "tags": list(tags),
        "private": False,
        "runtime": "",
        "user_id": "qsession",
        "instance": crn,
        "estimated_running_time_seconds": job.usage_estimation.get("quantum_seconds"),
    }
    if include_params:
        body["params"] = params
    return body


def job_metrics(job: RuntimeJobV2, qiskit_version: str) -> dict[str, Any]:
    """``GET /jobs/{id}/metrics``: timestamps, usage (with ``qpu_charge_time_seconds``), sizes."""
    m = dict(job.metrics())
    usage = dict(m.get("usage") or {})
    final = job.status() in FINAL_JOB_STATUSES
    # The client's job.usage() reads these two (runtime_job_v2.py): the billed seconds with
    # their fraction (metrics' quantum_seconds are whole seconds, as IBM's).
    seconds = float(job.usage(partial=True))
    usage.setdefault("quantum_seconds", seconds)
    usage.setdefault("seconds", usage["quantum_seconds"])
    usage["qpu_charge_time_seconds"] = seconds
    usage["status"] = "complete" if final else "pending"
    timestamps = {k: iso(v) for k, v in (m.get("timestamps") or {}).items()}
    num_qubits = m.get("num_qubits")
    out: dict[str, Any] = {
        "timestamps": timestamps,
        "bss": m.get("bss") or {"seconds": seconds},
        "usage": usage,
        "executions": m.get("executions"),
        "num_circuits": m.get("num_circuits"),
        "num_qubits": [num_qubits] if isinstance(num_qubits, int) else num_qubits,
        "circuit_depths": m.get("circuit_depths"),
        "qiskit_version": m.get("qiskit_version", qiskit_version),
        "estimated_start_time": None,
        "estimated_completion_time": None,
        "position_in_queue": m.get("position_in_queue"),
        "position_in_provider": m.get("position_in_queue"),
    }
    return out


def job_error_text(job: RuntimeJobV2) -> str:
    """``GET /jobs/{id}/results`` of a failed job: the client reads it as the error text."""
    return job.error_message() or ""


def encode_result(result: Any) -> str:
    """A ``PrimitiveResult`` as the JSON text the client's ``ResultDecoder`` reads."""
    from qiskit_ibm_runtime import RuntimeEncoder

    return json.dumps(result, cls=RuntimeEncoder)


# -- sessions ------------------------------------------------------------------------


def session_json(details: Mapping[str, Any], trace: Trace | None = None) -> dict[str, Any]:
    """``GET /sessions/{id}`` (and the ``POST /sessions`` reply) from ``Session.details()``."""
    state = SESSION_STATE.get(str(details.get("state")), str(details.get("state")))
    started = details.get("started_at")
    usage = details.get("usage_time")
    timestamps = details.get("timestamps")
    if timestamps is None and trace is not None:
        timestamps = session_timestamps(trace, str(details["id"]))
    return {
        "id": details["id"],
        "backend_name": details.get("backend_name"),
        "interactive_ttl": seconds_out(details.get("interactive_timeout")),
        "max_ttl": seconds_out(details.get("max_time")),
        "active_ttl": seconds_out(details.get("active_timeout")),
        "state": state,
        "accepting_jobs": details.get("accepting_jobs"),
        "last_job_started": iso(details.get("last_job_started")),
        "last_job_completed": iso(details.get("last_job_completed")),
        "started_at": iso(started),
        "closed_at": iso(details.get("closed_at")),
        "activated_at": iso(details.get("activated_at")),
        "mode": details.get("mode"),
        # IBM: null until the session has used the QPU.
        "elapsed_time": None if started is None else usage,
        "timestamps": [{"status": t["status"], "timestamp": iso(t["timestamp"])}
                       for t in timestamps or []],
    }


def session_timestamps(trace: Trace, session_id: str) -> list[dict[str, Any]]:
    """The session's state transitions in IBM's vocabulary, from the trace."""
    out: list[dict[str, Any]] = []
    last: str | None = None
    for record in trace.of("session", session_id):
        if record.dest is None:
            continue
        status = SESSION_STATE.get(record.dest, record.dest)
        if status != last:
            t = trace.epoch.timestamp() + record.t / 1e6
            out.append({"status": status, "timestamp": datetime.fromtimestamp(t, UTC)})
            last = status
    return out


# -- instances (IBM Cloud) -----------------------------------------------------------


def usage_json(crn: str, plan: str, consumed: float, limit: float | None) -> dict[str, Any]:
    """``GET /instances/usage`` (the client warns when ``usage_limit_reached``)."""
    return {
        "instance_id": crn,
        "plan_id": plan,
        "usage_consumed_seconds": consumed,
        "usage_limit_seconds": limit,
        "usage_allocation_seconds": limit,
        "usage_limit_reached": limit is not None and consumed >= limit,
        "usage_period": {"start_time": None, "end_time": None},
    }
