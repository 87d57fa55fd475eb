"""The service's job and instance queries: ``jobs()`` filters and order, deletion, usage, instances.

Semantics follow ``QiskitRuntimeService`` 0.51 (qiskit_runtime_service.py): newest first,
10 jobs by default, ``limit=None`` for all, ``skip`` counted after filtering, ``job_tags``
matching jobs that carry all of them, creation bounds inclusive.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..engine.errors import IBMInputValueError, IBMRuntimeError
from ..engine.records import JobRecord

if TYPE_CHECKING:
    from ..engine.platform import Platform


def _count(name: str, value: Any, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IBMInputValueError(
            f"jobs(): {name} must be an integer >= 0{' or None' if allow_none else ''}, "
            f"not {value!r}")


def _instant(service: Platform, name: str, value: datetime | None) -> int | None:
    """A datetime bound as microseconds on the service clock (naive means UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise IBMInputValueError(f"jobs(): {name} must be a datetime, not {value!r}")
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return int((aware - service.clock.epoch) / timedelta(microseconds=1))


def select_jobs(service: Platform, *, limit: int | None, skip: int,
                backend_name: str | None, pending: bool | None, program_id: str | None,
                instance: str | None, job_tags: list[str] | None, session_id: str | None,
                created_after: datetime | None, created_before: datetime | None,
                descending: bool) -> list[JobRecord]:
    """The job records ``service.jobs()`` returns, in its order (``backend_name`` is a QPU's
    own name: the service resolves IBM's aliases first)."""
    _count("limit", limit, allow_none=True)
    _count("skip", skip, allow_none=False)
    if job_tags is not None and (not isinstance(job_tags, list)
                                 or not all(isinstance(t, str) for t in job_tags)):
        raise IBMInputValueError("job_tags needs to be a list of strings.")
    after = _instant(service, "created_after", created_after)
    before = _instant(service, "created_before", created_before)
    wanted_tags = set(job_tags or ())
    records = [
        j for s in service.schedulers.values() for j in s.jobs.values()
        if not j.deleted
        and (backend_name is None or j.qpu == backend_name)
        and (pending is None or pending != j.is_final)
        and (program_id is None or j.kind == program_id)
        and (instance is None or j.instance == instance)
        and wanted_tags <= set(j.tags)
        and (session_id is None or j.session_id == session_id)
        and (after is None or j.created >= after)
        and (before is None or j.created <= before)
    ]
    # Submission order breaks ties between jobs created at the same virtual instant.
    records.sort(key=lambda j: (j.created, j.seq), reverse=descending)
    end = None if limit is None else skip + limit
    return records[skip:end]


def delete_job(service: Platform, job_id: str) -> None:
    """Forget a final job (its trace records stay: the trace is history, not a listing)."""
    record = service.job_record(job_id)  # RuntimeJobNotFound for unknown or deleted ids
    with service.call():
        state, final = record.state, record.is_final
    if not final:
        raise IBMRuntimeError(
            f"Failed to delete job: job {job_id} is {state}; only a final job can be "
            "deleted. Fix: job.cancel() first, or wait for it (job.wait_for_final_state())")
    service.scheduler_of(record.qpu).delete_job(record)


def instance_list(service: Platform) -> list[dict[str, Any]]:
    """Every instance any QPU knows, in first-seen order, with its plan and allocation."""
    seen: dict[str, Any] = {}
    for scheduler in service.schedulers.values():
        for name, instance in scheduler.settings.instances.items():
            seen.setdefault(name, instance)
    return [{"crn": name, "name": name, "plan": i.plan, "allocation": i.allocation}
            for name, i in seen.items()]


def instance_usage(service: Platform) -> dict[str, Any]:
    """The default instance's QPU seconds within the fair-share window, with IBM's keys."""
    instance = str(instance_list(service)[0]["crn"])
    now = service.clock.now()
    # One ledger for every QPU of the service : the instance's charged use.
    ledger = service.fair_share
    used_us = ledger.used(instance, now) if instance in ledger.allocations else 0
    start = max(0, now - ledger.window_us)
    quota = next((s.settings.quota_of(instance) for s in service.schedulers.values()
                  if instance in s.settings.instances), None)
    return {
        "instance_id": instance,
        "plan_id": "local",
        "usage_consumed_seconds": used_us / 1e6,
        "usage_limit_seconds": quota,
        "usage_allocation_seconds": None,
        "usage_limit_reached": quota is not None and used_us / 1e6 >= quota,
        "usage_period": {"start_time": service.clock.datetime(start),
                         "end_time": service.clock.datetime(now)},
    }

