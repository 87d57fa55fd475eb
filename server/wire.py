"""The one mapping between the runtime's objects and IBM's JSON: states, key names, times, errors.

Every response body the server sends is built here, from the runtime's *public* objects
(``RuntimeJobV2``, ``Session.details()``, ``QPU``, the trace), so a change of the runtime's
vocabulary lands in this module only. Shapes follow what qiskit-ibm-runtime 0.51 parses
(``api/rest/*``, ``runtime_job_v2.py``, ``session.py``, ``qiskit_runtime_service.py``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast, overload

from qsession.runtime import IBMInputValueError
from qsession.runtime.engine.scheduler import QPU_FAULT, RESTART_CODE

from . import models

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

MAX_COST = 10_800
"""IBM's largest job ``cost`` (its ``JobCost`` schema; the service's execution-time cap)."""

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
CODE_TOO_MANY_TAGS = 1204
CODE_TAG_TOO_LONG = 1205
CODE_NOT_FOUND = 1291
"""IBM's "Job not found"; the registry has no other not-found code, so every missing
runtime object (job, session) answers with it."""
MORE_INFO = "https://cloud.ibm.com/apidocs/quantum-computing#error-handling"
SOLUTIONS = {
    CODE_INTERNAL: "Retry the action; if it happens again, report it with the trace id.",
    CODE_VALIDATION: "Check the request against IBM's REST reference and send it again.",
    CODE_BACKEND_NOT_FOUND: "Verify the backend name: GET /backends lists the backends.",
    CODE_NOT_AUTHORIZED: "Use a token and a Service-CRN of an instance you can reach.",
    CODE_INVALID_CREDENTIALS: "Check your credentials and try again.",
    CODE_TOO_MANY_TAGS: "Remove some tags (at most 8) and try again.",
    CODE_TAG_TOO_LONG: "Shorten the tag (at most 86 characters) and try again.",
    CODE_NOT_FOUND: "Verify the id is correct and that you have the correct access permissions.",
}
"""The ``solution`` IBM's error bodies carry beside each code."""

USER_ID_PREFIX = "IBMid-"
"""IBM Cloud user ids look like ``IBMid-<digits><letters>``; see :func:`user_id`."""


def user_id(api_key: str) -> str:
    """The id of the user who owns ``api_key``: stable per key, shaped like IBM Cloud's.

    An emulator has no user directory; one API key stands for one user, so every
    workload created with the same key shows the same ``user_id`` (``qsession docs rest-api``).
    """
    digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest().upper()
    return f"{USER_ID_PREFIX}{int(digest[:8], 16) % 10**9:09d}{digest[8:12]}"


@overload
def iso(value: datetime | str) -> str: ...


@overload
def iso(value: None) -> None: ...


def iso(value: datetime | str | None) -> str | None:
    """A timestamp as the REST service writes it: ISO 8601 UTC ending in ``Z`` (µs kept)."""
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: datetime | str) -> datetime:
    """A timestamp the runtime gave (a datetime or an ISO string ending in ``Z``)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def seconds_out(value: float | int | None) -> float | int | None:
    """Seconds as an int when whole (IBM sends ints for TTLs), else the float."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


# -- errors --------------------------------------------------------------------------


def error_body(message: str, *, status: int, code: int | None = None) -> dict[str, Any]:
    """IBM's error body, ``{"errors": [{"code", "message", "solution", "more_info"}], "trace"}``.

    Nothing more (IBM's ``ErrorContainer``); ``code`` is IBM's numeric registry code, the
    HTTP status's family code when none fits.
    """
    if code is None:
        code = {401: CODE_INVALID_CREDENTIALS, 403: CODE_NOT_AUTHORIZED,
                404: CODE_NOT_FOUND}.get(status, CODE_INTERNAL if status >= 500
                                         else CODE_VALIDATION)
    return models.ErrorBody(
        errors=[models.ErrorItem(code=code, message=message,
                                 solution=SOLUTIONS.get(code, SOLUTIONS[CODE_VALIDATION]),
                                 more_info=MORE_INFO)],
        trace=str(uuid.uuid4())).model_dump()


# -- backends ------------------------------------------------------------------------


def processor_type(value: Any) -> dict[str, str] | None:
    """IBM's ``processor_type``: ``family`` and ``revision`` as strings (``"1.0"``)."""
    if not isinstance(value, Mapping):
        return None
    out = {k: str(v) for k, v in value.items() if k in ("family", "revision", "segment")
           and v is not None}
    revision = out.get("revision")
    if revision is not None and "." not in revision:
        out["revision"] = f"{revision}.0"  # IBM: a version without its patch part
    return out


def backend_device(name: str, *, qubits: int, queue_length: int, processor: Any,
                   clops: Any) -> models.Device:
    """One entry of ``GET /backends`` ``devices`` (read by ``least_busy`` and ``backends``)."""
    kind = processor_type(processor)
    measured = isinstance(clops, Mapping) and isinstance(clops.get("value"), int)
    return models.Device(
        name=name, status=models.DeviceStatus(name="online", reason="available"),
        is_simulator=False, queue_length=queue_length, qubits=qubits, performance_metrics={},
        processor_type=models.ProcessorType(**kind) if kind else None,
        clops=models.Clops(type=clops.get("type", "hardware"), value=clops["value"])
        if measured else None)


def backend_status(version: str, queue_length: int) -> models.BackendStatus:
    """``GET /backends/{name}/status``: the client reads ``state``, ``status``, ``length_queue``."""
    return models.BackendStatus(state=True, status="active", message="available",
                                length_queue=queue_length, backend_version=version)


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
                    "reason_code": MAX_TIME_CODE,
                    "reason_solution": "Raise the job's max_execution_time (the job's cost) "
                                       "or split the work into smaller jobs."}
        if reason.startswith(_RESTART_PREFIX):
            # A job running when the platform stopped: IBM's 5203, "Failed to run job".
            return {"status": "Failed", "reason": reason[len(_RESTART_PREFIX):],
                    "reason_code": RESTART_CODE,
                    "reason_solution": "Try to run the job again."}
        state["reason"] = reason
    return state


def job_usage(job: RuntimeJobV2) -> dict[str, Any]:
    """IBM's ``usage`` of a job: the QPU seconds charged so far; complete once it is final."""
    final = job.status() in FINAL_JOB_STATUSES
    return {"qpu_charge_time_seconds": float(job.usage(partial=True)),
            "status": "complete" if final else "pending"}


def calibration_id(backend: str, properties: Mapping[str, Any]) -> str | None:
    """A stable id of a backend's calibration data (None for a QPU without calibration).

    IBM names each calibration set; an emulated QPU's calibration never changes, so its id
    is derived from the backend's name and the data's ``last_update_date``.
    """
    stamp = properties.get("last_update_date")
    if not properties or stamp is None:
        return None
    return hashlib.sha256(f"{backend}|{stamp}".encode()).hexdigest()[:20]


def job_json(job: RuntimeJobV2, *, crn: str, tags: list[str], user: str,
             calibration: str | None = None, params: Any = None,
             include_params: bool = False) -> models.JobResponse:
    """``GET /jobs/{id}`` and one entry of ``GET /jobs`` (IBM's ``JobResponseV3``).

    Optional fields are omitted, never null (IBM types them as strings); a private job's
    params are never returned (IBM: "input parameters are not returned").
    """
    state = models.JobState.model_validate(job_state(job))
    return models.JobResponse(
        id=job.job_id(), backend=job.backend().name, state=state, status=state.status,
        created=iso(job.creation_date), program=models.Program(id=job.primitive_id),
        runtime="", cost=min(int(job.max_execution_time or MAX_COST), MAX_COST),
        tags=list(tags), user_id=user, usage=models.Usage.model_validate(job_usage(job)),
        instance=crn,
        estimated_running_time_seconds=job.usage_estimation.get("quantum_seconds"),
        session_id=job.session_id, calibration_id=calibration,
        private=True if job.private else None,
        params=params if include_params and not job.private else None)


METRICS_WITHOUT_SECONDS = "2026-03-15"
"""The first IBM API version whose job metrics have no ``bss``, ``usage.quantum_seconds``
nor ``usage.seconds`` (IBM's REST changelog). Clients before 0.51 send 2025-05-01 and
their ``job.usage()`` reads ``usage.quantum_seconds``; 0.51 sends 2026-04-15 and reads
``usage.qpu_charge_time_seconds`` and ``usage.status``."""


def job_metrics(job: RuntimeJobV2, version: str, qiskit_version: str) -> models.JobMetrics:
    """``GET /jobs/{id}/metrics`` as IBM answers the API ``version`` the request names.

    From 2026-03-15 on, IBM's ``JobMetricsResponse``: the timestamps reached so far,
    ``usage`` (the QPU seconds charged so far and whether billing is final) and the
    ``qiskit_version`` that ran the job; before, IBM's earlier answer (as recorded from
    IBM with the client 0.46.1): ``bss`` and ``usage`` in whole seconds and the versions
    of the packages. What the emulator cannot know (``caller``, the client's header at
    submission; ``circuits_execution_time_ns``, circuit time apart from the job's) is
    omitted, never null.
    """
    m = job.metrics()
    stamps = {k: iso(v) for k, v in (m.get("timestamps") or {}).items() if v is not None}
    if version < METRICS_WITHOUT_SECONDS:
        whole = int(m["usage"]["quantum_seconds"])  # the runtime's, whole seconds as IBM's
        return models.JobMetrics(
            timestamps=models.Timestamps(**stamps), bss=models.BilledSeconds(seconds=whole),
            usage=models.MetricsUsage(quantum_seconds=whole, seconds=whole),
            qiskit_version=str(m["qiskit_version"]))
    usage = job_usage(job)
    return models.JobMetrics(
        timestamps=models.Timestamps(**stamps),
        usage=models.MetricsUsage(qpu_charge_time_seconds=usage["qpu_charge_time_seconds"],
                                  status=usage["status"]),
        qiskit_version=qiskit_version)


def job_error_text(job: RuntimeJobV2) -> str:
    """``GET /jobs/{id}/results`` of a failed job: the client reads it as the error text."""
    return job.error_message() or ""


def encode_result(result: Any) -> str:
    """A ``PrimitiveResult`` as the JSON text the client's ``ResultDecoder`` reads."""
    from qiskit_ibm_runtime import RuntimeEncoder

    return json.dumps(result, cls=RuntimeEncoder)


class LimitError(IBMInputValueError):
    """A request over one of IBM's limits (400 with IBM's code for that limit)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def validation_message(problems: Any) -> tuple[str, int]:
    """A request that does not fit the published schema: one clear message, IBM's code.

    A tag list over IBM's limits gets the tag codes (1204: too many, 1205: too long).
    """
    parts = []
    code = CODE_VALIDATION
    for problem in list(problems)[:5]:
        where = ".".join(str(x) for x in problem.get("loc", ()))
        parts.append(f"{where}: {problem.get('msg')}")
        loc = [str(x) for x in problem.get("loc", ())]
        if "tags" in loc and code == CODE_VALIDATION:
            kind = str(problem.get("type"))
            if kind == "too_long" and loc[-1] == "tags":
                code = CODE_TOO_MANY_TAGS
            elif kind == "string_too_long":
                code = CODE_TAG_TOO_LONG
    return "invalid request: " + "; ".join(parts), code


# -- sessions ------------------------------------------------------------------------


def _ttl(value: float | int | None) -> int | None:
    """A TTL as IBM types it: whole seconds, at least 1 (none left: omitted)."""
    if value is None or value < 1:
        return None
    return round(value)


STATE_REASONS = {
    "canceled": "The session was cancelled: its queued jobs were cancelled.",
    "expired": "The session reached its maximum time (max_ttl): its queued jobs failed.",
    "closed": "The session stopped accepting jobs and has none left to run.",
}
"""IBM's ``state_reason`` for the model's final states (all three show as ``closed``)."""


def session_json(details: Mapping[str, Any], trace: Trace | None = None, *, user: str,
                 model_state: str | None = None) -> models.SessionResponse:
    """``GET /sessions/{id}`` (and the ``POST /sessions`` reply) from ``Session.details()``.

    Timestamps not reached yet are omitted, as IBM types them as date-time strings.
    """
    state = SESSION_STATE.get(str(details.get("state")), str(details.get("state")))
    started = details.get("started_at")
    usage = details.get("usage_time")
    timestamps = details.get("timestamps")
    if timestamps is None and trace is not None:
        timestamps = session_timestamps(trace, str(details["id"]))

    def when(key: str) -> str | None:
        value = details.get(key)
        return None if value is None else iso(value)

    return models.SessionResponse(
        id=details["id"], backend_name=details.get("backend_name"),
        interactive_ttl=_ttl(details.get("interactive_timeout")),
        max_ttl=_ttl(details.get("max_time")), active_ttl=_ttl(details.get("active_timeout")),
        state=cast("models.SessionState", state),
        state_reason=STATE_REASONS.get(model_state or "") if state == "closed" else None,
        accepting_jobs=bool(details.get("accepting_jobs")), mode=details["mode"],
        user_id=user,
        timestamps=[models.SessionTimestamp(status=t["status"], timestamp=iso(t["timestamp"]))
                    for t in timestamps or []],
        last_job_started=when("last_job_started"),
        last_job_completed=when("last_job_completed"), started_at=when("started_at"),
        closed_at=when("closed_at"), activated_at=when("activated_at"),
        # IBM: null until the session has used the QPU
        elapsed_time=usage if started is not None else None)


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


