"""``GET /analytics/usage``, ``usage_grouped``, ``usage_grouped_by_date`` and ``filters``.

IBM's usage analytics, computed from the instance's workloads as the runtime recorded
them: usage in milliseconds (a job in job mode its QPU time, a dedicated session its
billed active time, a batch its jobs' QPU time), counts, and queue times (creation to
start of each job that started). The figures cover the caller's instance (Service-CRN);
``instance`` can only narrow them.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from .. import models, wire
from ..emulator import Emulator, Instance
from ..platform import plan_id
from .common import errors, tenant


def subscription_id(plan: str) -> str:
    """The subscription of a plan: a stable UUID shaped as IBM's (version 4).

    An emulator has no contracts; each plan stands for one subscription, and
    ``GET /accounts/{id}`` and the analytics name it alike.
    """
    digest = hashlib.sha256(f"qsession subscription {plan}".encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=4))


@dataclass
class Item:
    """One workload or job as analytics count it."""

    kind: Literal["job", "dedicated", "batch", "session-job"]
    created: datetime
    backend: str
    usage_ms: float
    queue_ms: float | None = None


def _items(emulator: Emulator, owner: Instance) -> list[Item]:
    out: list[Item] = []
    for job in emulator.jobs_of(owner):
        stamps = job.metrics().get("timestamps", {})
        running = stamps.get("running")
        queue = None
        if running is not None:
            queue = (wire.parse_time(running) - job.creation_date).total_seconds() * 1000
        kind: Literal["job", "session-job"] = "job" if job.session_id is None else "session-job"
        out.append(Item(kind, job.creation_date, job.backend().name,
                        float(job.usage(partial=True)) * 1000 if kind == "job" else 0.0, queue))
    for session in emulator.sessions_of(owner):
        details = session.details()
        created = wire.parse_time(details["timestamps"][0]["timestamp"])
        used = details.get("usage_time") or 0.0
        out.append(Item("batch" if details["mode"] == "batch" else "dedicated", created,
                        str(details["backend_name"]), float(used) * 1000))
    return out


def _figures(items: Iterable[Item]) -> models.UsageFigures:
    items = list(items)

    def stats(kinds: tuple[str, ...]) -> tuple[int, float, float, float]:
        values = [i.usage_ms for i in items if i.kind in kinds]
        total = sum(values)
        return len(values), total, total / len(values) if values else 0.0, max(values, default=0.0)

    sessions = stats(("dedicated", "batch"))
    batches = stats(("batch",))
    dedicated = stats(("dedicated",))
    single = stats(("job",))
    queues = [i.queue_ms for i in items if i.queue_ms is not None]
    return models.UsageFigures(
        usage=single[1] + sessions[1],
        jobs=sum(1 for i in items if i.kind in ("job", "session-job")),
        sessions=sessions[0], sessions_usage=sessions[1],
        avg_sessions_usage=sessions[2], max_sessions_usage=sessions[3],
        batch_sessions=batches[0], batch_sessions_usage=batches[1],
        avg_batch_sessions_usage=batches[2], max_batch_sessions_usage=batches[3],
        dedicated_sessions=dedicated[0], dedicated_sessions_usage=dedicated[1],
        avg_dedicated_sessions_usage=dedicated[2],
        max_dedicated_sessions_usage=dedicated[3],
        individual_jobs=single[0], individual_jobs_usage=single[1],
        avg_individual_jobs_usage=single[2], max_individual_jobs_usage=single[3],
        queue_time=sum(queues), avg_queue_time=sum(queues) / len(queues) if queues else 0.0,
        max_queue_time=max(queues, default=0.0))


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass
class Filters:
    """The filters every analytics route takes."""

    instance: list[str]
    interval_start: datetime | None
    interval_end: datetime | None
    backend: list[str]
    user_id: list[str]
    plan: list[str]
    subscription_id: list[str]


def _chosen(emulator: Emulator, owner: Instance, f: Filters) -> list[Item]:
    if f.instance and owner.crn not in f.instance and owner.name not in f.instance:
        return []
    if f.user_id and emulator.user_id not in f.user_id:
        return []
    if f.plan and owner.plan not in f.plan and plan_id(owner) not in f.plan:
        return []
    if f.subscription_id and subscription_id(owner.plan) not in f.subscription_id:
        return []
    with emulator.lock:
        items = _items(emulator, owner)
    return [i for i in items
            if (not f.backend or i.backend in f.backend)
            and (f.interval_start is None or i.created >= f.interval_start)
            and (f.interval_end is None or i.created <= f.interval_end)]


def router() -> APIRouter:
    """The analytics routes."""
    api = APIRouter(tags=["analytics"])

    def filters(instance: list[str] = Query([]), interval_start: datetime | None = None,
                interval_end: datetime | None = None, backend: list[str] = Query([]),
                user_id: list[str] = Query([]), plan: list[str] = Query([]),
                subscription_id: list[models.SubscriptionId] = Query(
                    [], max_length=models.MAX_SUBSCRIPTIONS,
                    description="subscription UUIDs (GET /analytics/filters lists them)"),
                ) -> Filters:
        return Filters(instance, _utc(interval_start), _utc(interval_end), backend, user_id,
                       plan, subscription_id)

    @api.get("/analytics/usage", summary="Usage totals of the instance (milliseconds)",
             response_model=models.UsageFigures, responses=errors(401, 403, 404))
    def usage(request: Request, f: Filters = Depends(filters),
              simulators: bool = True) -> models.UsageFigures:
        emulator: Emulator = request.app.state.emulator
        return _figures(_chosen(emulator, tenant(request), f))

    @api.get("/analytics/usage_grouped", summary="Usage grouped by instance, backend, user, "
             "plan or subscription", response_model=models.UsageGrouped,
             responses=errors(401, 403, 404))
    def grouped(request: Request,
                group_by: Literal["instance", "backend", "user_id", "plan", "subscription_id"],
                f: Filters = Depends(filters), simulators: bool = True
                ) -> models.UsageGrouped:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        items = _chosen(emulator, owner, f)
        if group_by == "backend":
            groups: dict[str, list[Item]] = defaultdict(list)
            for i in items:
                groups[i.backend].append(i)
            data = [models.UsageGroup(key=k, **_figures(v).model_dump())
                    for k, v in sorted(groups.items())]
        else:
            key = {"instance": owner.crn, "user_id": emulator.user_id, "plan": owner.plan,
                   "subscription_id": subscription_id(owner.plan)}[group_by]
            data = [models.UsageGroup(key=key, **_figures(items).model_dump())] if items else []
        return models.UsageGrouped(data=data)

    @api.get("/analytics/usage_grouped_by_date", summary="Usage per day, grouped by instance",
             response_model=models.UsageByDate, responses=errors(400, 401, 403, 404))
    def by_date(request: Request, group_by: Literal["instance"],
                f: Filters = Depends(filters), simulators: bool = True
                ) -> models.UsageByDate:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        items = _chosen(emulator, owner, f)
        days: dict[datetime, list[Item]] = defaultdict(list)
        for i in items:
            day = i.created.astimezone(UTC).replace(hour=0, minute=0, second=0,
                                                    microsecond=0)
            days[day].append(i)
        with emulator.lock:
            now = emulator.service.now()
        start = f.interval_start or min(days, default=now)
        end = f.interval_end or now
        data = [models.UsageDay(key=owner.crn, interval_start=wire.iso(day),
                                interval_end=wire.iso(day + timedelta(days=1)),
                                **_figures(v).model_dump())
                for day, v in sorted(days.items())]
        return models.UsageByDate(interval_start=wire.iso(start), interval_end=wire.iso(end),
                                  data=data)

    @api.get("/analytics/filters", summary="The values the analytics can be filtered by",
             response_model=models.AnalyticsFilters, responses=errors(401, 403, 404))
    def analytics_filters(request: Request, instance: list[str] = Query([])
                          ) -> models.AnalyticsFilters:
        owner = tenant(request)
        emulator: Emulator = request.app.state.emulator
        return models.AnalyticsFilters(
            backends=[models.NamedFilter(name=n) for n in emulator.backends],
            instances=[models.InstanceFilter(id=owner.crn, deleted=False)],
            users=[models.UserFilter(id=emulator.user_id)],
            plans=[models.NamedFilter(name=owner.plan)],
            subscriptions=[models.SubscriptionFilter(id=subscription_id(owner.plan),
                                                     name=owner.plan)])

    return api
