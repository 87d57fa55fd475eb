"""``POST /jobs``, ``GET /jobs`` (IBM's filters, newest first) and one job's sub-resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from qsession.runtime import IBMInputValueError, RuntimeJobV2
from qsession.runtime.records import JobRecord

from .. import executor, forms, results, wire
from ..emulator import Emulator, Instance
from .common import decode, raw_body, tenant


def _qiskit_version() -> str:
    import qiskit

    return str(qiskit.__version__)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise IBMInputValueError(f"{name}={value!r} is not an ISO 8601 date-time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _int(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise IBMInputValueError(f"{name}={value!r} must be an integer") from None
    if number < 0:
        raise IBMInputValueError(f"{name}={value!r} must be >= 0")
    return number


def _matches(job: RuntimeJobV2, q: dict[str, Any]) -> bool:
    if q["backend"] is not None and job.backend().name != q["backend"]:
        return False
    if q["pending"] is not None and job.in_final_state() == q["pending"]:
        return False
    if q["program"] is not None and job.primitive_id != q["program"]:
        return False
    if q["session_id"] is not None and job.session_id != q["session_id"]:
        return False
    if not set(q["tags"]) <= set(job.tags):
        return False
    created = job.creation_date
    if q["after"] is not None and created < q["after"]:
        return False
    return not (q["before"] is not None and created > q["before"])


def _result_text(job: RuntimeJobV2, params: Any) -> str:
    """A DONE job's result as its caller asked (``params`` as submitted): executor schema
    JSON in the params' schema version, plain JSON without ``support_qiskit``, or encoded."""
    if job.primitive_id == "executor":
        return executor.result_text(job, str(params.get("schema_version")))
    if not params.get("support_qiskit", False):
        return results.plain_text(job.result())
    return results.encoded(job.result())


def submit_request(emulator: Emulator, owner: Instance, body: bytes, *,
                   recovering: bool = False) -> RuntimeJobV2:
    """Check, normalise and queue a ``POST /jobs`` body: the route's work, redone on recovery.

    The body is the job's inputs: the store writes it before the job's ``create`` record
    (so before any answer names the job); ``recovering`` redoes the call for a job
    recovered from the trace, which keeps its inputs already.
    """
    submission = forms.normalise(decode(body), emulator.qubits())
    with emulator.lock:  # the staged body goes to this request's job, not another's
        emulator.store.stage(None if recovering else body)
        try:
            if submission.program == "executor":
                return executor.submit(emulator, owner, submission)
            return emulator.submit(owner, submission)
        finally:
            emulator.store.stage(None)


def router() -> APIRouter:
    """The job routes."""
    api = APIRouter(tags=["jobs"])

    @api.post("/jobs", summary="Run a primitive (sampler or estimator) or a quantum program")
    def run(request: Request, body: bytes = Depends(raw_body)) -> dict[str, Any]:
        job = submit_request(request.app.state.emulator, tenant(request), body)
        return {"id": job.job_id(), "backend": job.backend().name,
                "session_id": job.session_id, "private": False}

    @api.get("/jobs", summary="The instance's jobs, newest first, with IBM's filters")
    def jobs(request: Request) -> dict[str, Any]:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        params = request.query_params
        pending = params.get("pending")
        if pending not in (None, "true", "false"):
            raise IBMInputValueError(f"pending={pending!r} must be 'true' or 'false'")
        sort = params.get("sort", "DESC").upper()
        if sort not in ("ASC", "DESC"):
            raise IBMInputValueError(f"sort={sort!r} must be ASC or DESC")
        query = {"backend": params.get("backend"), "program": params.get("program"),
                 "pending": None if pending is None else pending == "true",
                 "session_id": params.get("session_id"), "tags": params.getlist("tags"),
                 "after": _when(params.get("created_after"), "created_after"),
                 "before": _when(params.get("created_before"), "created_before")}
        limit = _int(params.get("limit"), "limit", 200)
        offset = _int(params.get("offset"), "offset", 0)
        with emulator.lock:
            service = emulator.service
            mine: list[JobRecord] = sorted(
                (r for r in emulator.all_jobs() if r.instance == owner.name and not r.deleted),
                key=lambda r: r.seq)  # submission order: the order they were created in
            chosen = [job for job in (RuntimeJobV2(service, r) for r in mine)
                      if _matches(job, query)]
            if sort == "DESC":
                chosen.reverse()
            page = chosen[offset:offset + limit] if limit else chosen[offset:]
            return {"jobs": [wire.job_json(j, crn=owner.crn, tags=j.tags) for j in page],
                    "count": len(chosen)}

    @api.get("/jobs/{job_id}", summary="A job's state (the client polls this while it waits)")
    def get(job_id: str, request: Request) -> Response:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        job = emulator.job(owner, job_id)
        emulator.wait_step(job)
        include = request.query_params.get("exclude_params", "false") != "true"
        params = emulator.params(job) if include else None
        with emulator.lock:
            body = wire.job_json(job, crn=owner.crn, tags=job.tags, params=params,
                                 include_params=include)
        return Response(wire.encode_result(body), media_type="application/json")

    @api.get("/jobs/{job_id}/results",
             summary="A job's result: plain JSON, or the client's form if it sent support_qiskit",
             responses={204: {"description": "The job has no final result yet (IBM's answer "
                                             "while it is queued or running)"}})
    def results(job_id: str, request: Request) -> Response:
        emulator: Emulator = request.app.state.emulator
        job = emulator.job(tenant(request), job_id)
        # A client asking for the result of an unfinished job waits on it (the fast clock
        # moves to its next event, as for GET /jobs/{id}).
        emulator.wait_step(job)
        with emulator.lock:
            status = job.status()
            if status == "DONE":
                text = emulator.result_text(job, _result_text)
                return Response(text, media_type="application/json")
            if status in ("ERROR", "CANCELLED"):
                return PlainTextResponse(wire.job_error_text(job))
        # IBM's reference: 204, "Job's final result not found", while it is not final.
        return Response(status_code=204)

    @api.get("/jobs/{job_id}/metrics", summary="A job's timestamps, usage and sizes")
    def metrics(job_id: str, request: Request) -> dict[str, Any]:
        emulator: Emulator = request.app.state.emulator
        job = emulator.job(tenant(request), job_id)
        with emulator.lock:
            return wire.job_metrics(job, _qiskit_version())

    @api.get("/jobs/{job_id}/logs", summary="A job's logs (an emulated QPU writes none)")
    def logs(job_id: str, request: Request) -> PlainTextResponse:
        emulator: Emulator = request.app.state.emulator
        emulator.job(tenant(request), job_id)
        return PlainTextResponse("")

    @api.post("/jobs/{job_id}/cancel", status_code=204, summary="Cancel a queued or running job")
    def cancel(job_id: str, request: Request) -> Response:
        emulator: Emulator = request.app.state.emulator
        emulator.cancel_job(emulator.job(tenant(request), job_id))
        return Response(status_code=204)

    @api.delete("/jobs/{job_id}", status_code=204, summary="Delete a final job")
    def delete(job_id: str, request: Request) -> Response:
        emulator: Emulator = request.app.state.emulator
        emulator.delete_job(emulator.job(tenant(request), job_id))
        return Response(status_code=204)

    @api.put("/jobs/{job_id}/tags", status_code=204, summary="Replace a job's tags")
    def tags(job_id: str, request: Request, body: bytes = Depends(raw_body)) -> Response:
        emulator: Emulator = request.app.state.emulator
        job = emulator.job(tenant(request), job_id)
        new = decode(body).get("tags")
        if not isinstance(new, list) or not all(isinstance(t, str) for t in new):
            raise IBMInputValueError("PUT /jobs/{id}/tags takes {\"tags\": [strings]}")
        emulator.set_tags(job, list(new))
        return Response(status_code=204)

    return api
