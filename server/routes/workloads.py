"""``GET /workloads``: the list behind IBM's Workloads page, filtered and paged by cursor.

A workload is a job in job mode, or a session or batch (its jobs are inside it). Every
field is read from the runtime: status, times, tags and usage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Query, Request

from .. import models, wire
from ..emulator import Emulator, Instance
from .common import errors, tenant

JOB_STATUS: dict[str, models.WorkloadStatus] = {
    "Queued": "pending", "Running": "in_progress", "Completed": "completed",
    "Failed": "failed", "Cancelled": "canceled"}
"""A job's REST ``state.status`` in the Workloads page's words (so a job stopped at its
``max_execution_time``, ``Cancelled`` with reason code 1305, is ``canceled`` here too)."""
SESSION_STATUS: dict[str, models.WorkloadStatus] = {
    "pending": "pending", "active": "in_progress", "inactive": "in_progress",
    "closed": "completed", "expired": "completed", "canceled": "canceled"}
"""The model's session states in the Workloads page's words."""


def workloads_of(emulator: Emulator, owner: Instance) -> list[models.Workload]:
    """Every workload of ``owner``: its jobs in job mode, its sessions and batches."""
    out: list[models.Workload] = []
    for job in emulator.jobs_of(owner):
        if job.session_id is not None:
            continue
        state = wire.job_state(job)
        finished = job.metrics().get("timestamps", {}).get("finished")
        out.append(models.Workload(
            id=job.job_id(), created=wire.iso(job.creation_date),
            ended=None if finished is None else wire.iso(finished),
            backend=job.backend().name, instance=owner.crn, user_id=emulator.user_id,
            mode="job", status=JOB_STATUS[state["status"]],
            status_reason=state.get("reason"),  # IBM: "Jobs only, status reason for the job"
            tags=list(job.tags), usage=models.Usage.model_validate(wire.job_usage(job)),
            usage_seconds=float(job.usage(partial=True)),
            estimated_running_time_seconds=job.usage_estimation.get("quantum_seconds")))
    for session in emulator.sessions_of(owner):
        details = session.details()
        used = details.get("usage_time")
        out.append(models.Workload(
            id=details["id"], created=details["timestamps"][0]["timestamp"],
            ended=details.get("closed_at"), backend=details["backend_name"],
            instance=owner.crn, user_id=emulator.user_id,
            accepting_jobs=bool(details["accepting_jobs"]),
            mode="batch" if details["mode"] == "batch" else "session",
            status=SESSION_STATUS[session.state], tags=[],
            usage=None if used is None else models.Usage(qpu_charge_time_seconds=float(used)),
            usage_seconds=None if used is None else float(used)))
    return out


CURSOR = r"^[0-9a-f]{16}$"
"""A page cursor: 16 hex digits, as IBM's look (``3fe78a36b9aa7f26``)."""


def _cursor(offset: int) -> str:
    return f"{offset:016x}"


def _offset(cursor: str) -> int:
    return int(cursor, 16)


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def router() -> APIRouter:
    """The workloads route."""
    api = APIRouter(tags=["workloads"])

    @api.get("/workloads", summary="The instance's workloads (jobs, sessions, batches), paged",
             response_model=models.WorkloadsResponse, response_model_exclude_none=True,
             responses=errors(400, 401, 403))
    def workloads(request: Request,
                  user: Literal["me"] | None = None,
                  sort: Literal["createdAt", "-createdAt"] = "createdAt",
                  limit: int = Query(10, ge=1, le=50),
                  previous: str | None = Query(None, pattern=CURSOR),
                  next: str | None = Query(None, pattern=CURSOR),
                  backend: str | None = None,
                  search: str | None = Query(None, description="a part of an id or a tag"),
                  status: list[models.WorkloadStatus] = Query([]),
                  mode: models.WorkloadMode | None = None,
                  created_after: datetime | None = None,
                  created_before: datetime | None = None,
                  tags: list[str] = Query([])) -> models.WorkloadsResponse:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        after = _utc(created_after)
        before = _utc(created_before)
        with emulator.lock:
            rows = workloads_of(emulator, owner)
        chosen = [
            r for r in rows
            if (backend is None or r.backend == backend)
            and (not status or r.status in status)
            and (mode is None or r.mode == mode)
            and (search is None or search in r.id or any(search in t for t in r.tags))
            and set(tags) <= set(r.tags)
            and (after is None or wire.parse_time(r.created) > after)
            and (before is None or wire.parse_time(r.created) < before)
        ]
        chosen.sort(key=lambda r: (r.created, r.id), reverse=sort == "-createdAt")
        start = _offset(next) if next is not None else (
            max(0, _offset(previous) - limit) if previous is not None else 0)
        base = request.url.remove_query_params(["next", "previous"])
        return models.WorkloadsResponse(
            workloads=chosen[start:start + limit], total_count=len(chosen), limit=limit,
            next=models.Cursor(href=str(base.include_query_params(next=_cursor(start + limit))))
            if start + limit < len(chosen) else None,
            previous=models.Cursor(href=str(base.include_query_params(previous=_cursor(start))))
            if start > 0 else None)

    return api
