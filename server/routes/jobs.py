"""``POST /jobs``, ``GET /jobs`` (IBM's filters, newest first) and one job's sub-resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from qsession.runtime import RuntimeJobV2
from qsession.runtime.engine.records import JobRecord

from .. import executor, forms, models, results, wire
from ..emulator import Emulator, Instance
from ..inflation import budget, check_inflation
from .common import (
    api_version,
    decode,
    errors,
    page_bounds,
    parse,
    raw_body,
    request_body,
    tenant,
)


def _qiskit_version() -> str:
    import qiskit

    return str(qiskit.__version__)


def _encoded(body: BaseModel) -> Response:
    """A model's JSON written with the client's ``RuntimeEncoder``: a job's params hold the
    objects the client encoded (numpy arrays, circuits), which only that encoder writes as
    the client reads them. Fields not set are omitted, never null (IBM's types)."""
    return Response(wire.encode_result(body.model_dump(exclude_none=True)),
                    media_type="application/json")


def _utc(when: datetime | None) -> datetime | None:
    """A filter's instant; one without a zone is UTC."""
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


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


JobId = Path(min_length=1, max_length=1000, description="A job id")
"""IBM's job id parameter: 1 to 1,000 characters (longer: 400)."""


def _result_text(job: RuntimeJobV2, params: Any) -> str:
    """A DONE job's result as its caller asked (``params`` as submitted): executor schema
    JSON in the params' schema version, plain JSON without ``support_qiskit``, or encoded."""
    if job.primitive_id == "executor":
        return executor.result_text(job, str(params.get("schema_version")))
    if not params.get("support_qiskit", False):
        return results.plain_text(job.result())
    return results.encoded(job.result(), job.primitive_id)


def submit_request(emulator: Emulator, owner: Instance, body: bytes, *,
                   recovering: bool = False) -> RuntimeJobV2:
    """Check, normalise and queue a ``POST /jobs`` body: the route's work, redone on recovery.

    The body is the job's inputs: the store writes it before the job's ``create`` record
    (so before any answer names the job); ``recovering`` redoes the call for a job
    recovered from the trace, which keeps its inputs already (and was admitted then).
    """
    data = decode(body)
    check_inflation(data, budget(len(body)))  # before any circuit or array inflates
    submission = forms.normalise(data, emulator.qubits())
    if not recovering:
        emulator.check_instance_limit(owner)
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

    @api.post("/jobs", summary="Run a primitive (sampler or estimator) or a quantum program",
              response_model=models.JobCreateResponse, response_model_exclude_none=True,
              responses=errors(400, 401, 403, 404, 409),
              openapi_extra=request_body(models.JobCreateRequest))
    def run(request: Request, body: bytes = Depends(raw_body)) -> models.JobCreateResponse:
        emulator: Emulator = request.app.state.emulator
        job = submit_request(emulator, tenant(request), body)
        return models.JobCreateResponse(
            id=job.job_id(), backend=job.backend().name, session_id=job.session_id,
            calibration_id=emulator.calibration_id(job.backend().name),
            private=True if job.private else None)  # IBM: only returned when true

    @api.get("/jobs", summary="The instance's jobs, newest first, with IBM's filters",
             response_model=models.JobsResponse, response_model_exclude_none=True,
             responses=errors(400, 401, 403))
    def jobs(request: Request,
             limit: int | None = Query(None, description="1-200, default 200; out of range: "
                                       "the default (IBM)"),
             offset: int | None = Query(None, description="default 0; out of range: 0"),
             pending: bool | None = Query(None, description="true: Queued and Running; "
                                          "false: final jobs"),
             # IBM's limits on the filters (its list_jobs parameters); longer is a 400.
             program: str | None = Query(None, min_length=1, max_length=63,
                                         description="sampler, estimator or executor"),
             backend: str | None = Query(None, min_length=1, max_length=100),
             session_id: str | None = Query(None, min_length=1, max_length=1000),
             tags: list[models.TagText] = Query(
                 [], max_length=models.MAX_TAGS,
                 description="jobs carrying every tag given (at most 8 of 86 characters)"),
             created_after: models.QueryTime | None = None,
             created_before: models.QueryTime | None = None,
             sort: str = Query("DESC", min_length=1, max_length=4, pattern="^(ASC|DESC)$"),
             exclude_params: bool = True) -> Response:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        query = {"backend": backend, "program": program, "pending": pending,
                 "session_id": session_id, "tags": tags,
                 "after": _utc(created_after), "before": _utc(created_before)}
        size, start = page_bounds(limit, offset, default=200, most=200)
        with emulator.lock:
            service = emulator.service
            mine: list[JobRecord] = sorted(
                (r for r in emulator.all_jobs() if r.instance == owner.name and not r.deleted),
                key=lambda r: r.seq)  # submission order: the order they were created in
            chosen = [job for job in (RuntimeJobV2(service, r) for r in mine)
                      if _matches(job, query)]
            if sort.upper() == "DESC":
                chosen.reverse()
            page = chosen[start:start + size]
            body = models.JobsResponse(
                jobs=[emulator.job_json(j, params=not exclude_params) for j in page],
                count=len(chosen), offset=start, limit=size)
        return _encoded(body)

    @api.get("/jobs/{job_id}", summary="A job's state (the client polls this while it waits)",
             response_model=models.JobResponse, responses=errors(401, 403, 404))
    def get(request: Request, job_id: str = JobId, exclude_params: bool = False) -> Response:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        job = emulator.job(owner, job_id)
        emulator.wait_step(job)
        with emulator.lock:
            body = emulator.job_json(job, params=not exclude_params)
        return _encoded(body)

    @api.get("/jobs/{job_id}/results",
             summary="A job's result: plain JSON, or the client's form if it sent support_qiskit",
             responses={200: {"content": {"application/json": {}, "text/plain": {}}},
                        204: {"description": "The job has no final result yet (IBM's answer "
                                             "while it is queued or running)"},
                        **errors(401, 403, 404)})
    def results(request: Request, job_id: str = JobId) -> Response:
        emulator: Emulator = request.app.state.emulator
        job = emulator.job(tenant(request), job_id)
        # A client asking for the result of an unfinished job waits on it (the fast clock
        # moves to its next event, as for GET /jobs/{id}).
        emulator.wait_step(job)
        with emulator.lock:
            status = job.status()
            if status == "DONE":
                text = emulator.result_text(job, _result_text)
                if text is None:  # a private job's results, read once already (IBM)
                    return Response(status_code=204)
                return Response(text, media_type="application/json")
            if status in ("ERROR", "CANCELLED"):
                return PlainTextResponse(wire.job_error_text(job))
        # IBM's reference: 204, "Job's final result not found", while it is not final.
        return Response(status_code=204)

    @api.get("/jobs/{job_id}/metrics",
             summary="A job's timestamps and usage, in the shape of the IBM-API-Version asked",
             response_model=models.JobMetrics, response_model_exclude_none=True,
             responses=errors(401, 403, 404))
    def metrics(request: Request, job_id: str = JobId,
                version: str = Depends(api_version)) -> models.JobMetrics:
        emulator: Emulator = request.app.state.emulator
        job = emulator.job(tenant(request), job_id)
        with emulator.lock:
            return wire.job_metrics(job, version, _qiskit_version())

    @api.get("/jobs/{job_id}/logs", summary="A job's logs (an emulated QPU writes none)",
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                        **errors(401, 403, 404)})
    def logs(request: Request, job_id: str = JobId) -> PlainTextResponse:
        emulator: Emulator = request.app.state.emulator
        emulator.job(tenant(request), job_id)
        return PlainTextResponse("")

    @api.post("/jobs/{job_id}/cancel", status_code=204, summary="Cancel a queued or running job",
              response_class=Response, responses=errors(401, 403, 404, 409))
    def cancel(request: Request, job_id: str = JobId) -> Response:
        emulator: Emulator = request.app.state.emulator
        emulator.cancel_job(emulator.job(tenant(request), job_id))
        return Response(status_code=204)

    @api.delete("/jobs/{job_id}", status_code=204, summary="Delete a final job",
                response_class=Response, responses=errors(400, 401, 403, 404))
    def delete(request: Request, job_id: str = JobId) -> Response:
        emulator: Emulator = request.app.state.emulator
        emulator.delete_job(emulator.job(tenant(request), job_id))
        return Response(status_code=204)

    @api.put("/jobs/{job_id}/tags", status_code=204, summary="Replace a job's tags",
             response_class=Response, responses=errors(400, 401, 403, 404),
             openapi_extra=request_body(models.ReplaceTags))
    def tags(request: Request, job_id: str = JobId,
             body: bytes = Depends(raw_body)) -> Response:
        emulator: Emulator = request.app.state.emulator
        job = emulator.job(tenant(request), job_id)
        update = parse(models.ReplaceTags, body)
        emulator.set_tags(job, list(update.tags))
        return Response(status_code=204)

    return api
