"""Seeded semantic bugs in the scheduler, injected by patching, to prove the suite has teeth.

Each mutant replaces one scheduler method (or a timer priority) with a copy that breaks
one rule of the semantics, and names the invariants expected to catch it. Nothing here is a flag in
the runtime: a mutant exists only inside ``with mutant.applied():`` (tests and
``qsession verify --mutants``). The property suite must kill every one of them within a
fixed example budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, cast
from unittest import mock

from qsession.model import (
    CHARGE_RULES,
    COUPLING,
    SessionLifecycle,
    Step,
    select,
)
from qsession.model import charges as model_charges
from qsession.runtime import LocalService, RuntimeJobV2, Session
from qsession.runtime.engine import scheduler as sched
from qsession.runtime.engine.clock import Clock, to_us
from qsession.runtime.engine.fairshare import FairShare
from qsession.runtime.engine.records import JobRecord, SessionRecord
from qsession.runtime.engine.scheduler import Scheduler, normal_eligible
from qsession.runtime.engine.settings import Instance, QPUSettings
from qsession.runtime.engine.timing import TimingModel


@dataclass(frozen=True)
class Mutant:
    """A named bug: what it breaks, the invariants that should catch it, how to inject it."""

    name: str
    bug: str
    expected: frozenset[str]
    patches: Callable[[], list[Any]]

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inject the bug for the duration of the block."""
        patches = self.patches()
        for p in patches:
            p.start()
        try:
            yield
        finally:
            for p in reversed(patches):
                p.stop()


def _on(name: str, replacement: Any) -> Any:
    return mock.patch.object(Scheduler, name, replacement)


# -- the bugs --------------------------------------------------------------------------


def _coupling(event: str, queued: str | None, running: str | None, bug: str) -> Any:
    """Patch the scheduler's coupling rules: session ``event`` does this to its jobs."""
    return mock.patch.object(Scheduler, "coupling", COUPLING.with_session_rule(
        event, queued=queued, running=running, reason=f"mutant: {bug}", name=bug))


def _clock_at_creation(self: Scheduler, s: SessionRecord) -> int:
    return max(self.now(), s.created_at + s.max_time_us)  # BUG: counts from creation


def _dispatch_without_hold(active: bool, head: Any, batches: Any, normal: Any) -> Any:
    # BUG: an active session with nothing queued does not hold the QPU.
    return select(active and head is not None, head, batches, normal)


def _ittl_from_start(self: Scheduler, s: SessionRecord, job: JobRecord, now: int) -> int:
    start = job.running if job.running is not None else now
    return max(now, start + s.ittl_us)  # BUG: counts from the job's start


def _ratio_ignores_allocation(self: FairShare, instance: str, now: int) -> float:
    return float(self.used(instance, now))  # BUG: used, not used / allocated


def _session_jobs_first(self: Scheduler) -> tuple[JobRecord, str, dict[str, Any]] | None:
    chosen: tuple[JobRecord, str, dict[str, Any]] | None = _REAL["select"](self)
    if chosen is None or chosen[1] != "normal":
        return chosen
    # BUG: a pending or inactive session's job gets session priority over the normal queue.
    for queue in self.normal.values():
        for job in queue:
            if job.session is not None and normal_eligible(job):
                return job, "session", {}
    return chosen


def _model_misses_ittl(self: Scheduler, s: SessionRecord, event: str,
                       extra: dict[str, Any] | None = None) -> Step:
    if event == "ittl_elapsed":  # BUG: the QPU is released but the model never hears
        return Step("session", s.id, event, s.state, s.state)
    return cast(Step, _REAL["session_event"](self, s, event, extra))


def _accepting_always(self: SessionLifecycle, event: Any) -> bool:
    return True  # BUG: the model's guard lets a closing session take a job


def _no_dispatch_after_timers(self: Any) -> None:
    self.changed.notify_all()  # BUG: the instant hooks (dispatch) never run


def _finish_then_dispatch(self: Scheduler, job: JobRecord) -> None:
    _REAL["on_finish"](self, job)
    self.dispatch()  # BUG: dispatches before the instant settled (expiry may be pending)


def _close_revives(self: Scheduler, s: SessionRecord) -> None:
    if s.lifecycle.is_final and s.state != "closed":
        with self.clock.instant():
            before = s.state
            s.lifecycle.state = "closed"  # BUG: a final state changes (bypassing the model)
            self.trace.emit(self.now(), self.qpu, "session", s.id, "close", source=before,
                            dest="closed", instance=s.instance, accepting_jobs=False,
                            in_flight=s.in_flight)
        return
    _REAL["close"](self, s)


def _ittl_bypasses_model(self: Scheduler, s: SessionRecord, event: str,
                         extra: dict[str, Any] | None = None) -> Step:
    if event != "ittl_elapsed":
        return cast(Step, _REAL["session_event"](self, s, event, extra))
    before = s.state
    s.lifecycle.state = "inactive"  # BUG: no model event, and jobs may be in flight
    self.trace.emit(self.now(), self.qpu, "session", s.id, "deactivate", source=before,
                    dest="inactive", instance=s.instance, accepting_jobs=True,
                    in_flight=s.in_flight)
    return Step("session", s.id, event, before, "inactive")


def _submit_keeps_ittl(self: Scheduler, s: SessionRecord, which: str) -> None:
    if which == "ittl":
        return  # BUG (with the one above): a submission does not stop the ITTL timer
    _REAL["cancel_timer"](self, s, which)


def _dispatch_while_running(self: Scheduler) -> None:
    previous = self.running
    self.running = None  # BUG: dispatch does not see the running job
    _REAL["dispatch"](self)
    if previous is not None:
        self.running = previous


def _idle_close_ignored(self: Scheduler, s: SessionRecord) -> None:
    s.idle_close_timer = None  # BUG: the timer fires but the unused session stays open


def _billed_after_end(self: SessionRecord, now: int) -> int:
    if self.activated_at is not None and self.lifecycle.is_final:
        return self.usage_us + now - self.activated_at  # BUG: the meter runs on after the end
    return cast(int, _REAL["billed_us"](self, now))


def _charged_to_another_instance(self: FairShare, instance: str, start: int, end: int) -> None:
    others = [i for i in self.allocations if i != instance]
    # BUG: what an instance used is charged to another one.
    _REAL["record"](self, others[0] if others else instance, start, end)


def _window_drops_whole_span(self: FairShare, instance: str, now: int) -> int:
    used = cast(int, _REAL["used"](self, instance, now))
    horizon = now - self.window_us
    # BUG: a span that straddles the window edge is dropped whole, not cut at the edge.
    return used - sum(end - horizon for start, end in self.spans(instance)
                      if start < horizon < end)


def _ratio_most_used_first(self: FairShare, instance: str, now: int) -> float:
    return -(self.used(instance, now) / self.share[instance])  # BUG: most used goes first


def _run_until_idle_to_max_ttl(self: LocalService, timeout: float | None = None) -> bool:
    _REAL["run_until_idle"](self, timeout)
    # BUG: also runs every open session to its end (an idle session into its max TTL).
    with self.call():
        try:
            return self.clock.wait_for(lambda: all(
                r.lifecycle.is_final for sch in self.schedulers.values()
                for r in sch.sessions.values()))
        except Exception:  # no timer left: a pending session that never ends
            return True


def _usage_counts_queue(self: Scheduler, job: JobRecord, event: str, now: int,
                        reason: str | None = None, **origin: Any) -> None:
    started = job.running
    job.running = job.created  # BUG: the job's usage (and charge) counts from submission
    try:
        _REAL["end_running"](self, job, event, now, reason, **origin)
    finally:
        job.running = started


def _batches_latest_first() -> Any:
    return mock.patch.object(Scheduler, "coupling", replace(
        COUPLING, name="the latest started batch is served first",
        batch_order=lambda started, created, ident: (-started, -created, ident)))  # BUG


class _WrappingIds:
    """Ids that start again after 1,000 (the bug below)."""

    def __init__(self, inner: Iterator[int]) -> None:
        self.inner = inner

    def __iter__(self) -> _WrappingIds:
        return self

    def __next__(self) -> int:
        return (next(self.inner) - 1) % 1_000 + 1


def _ids_wrap(self: Scheduler, *args: Any, **kwargs: Any) -> None:
    _REAL["init"](self, *args, **kwargs)
    if not isinstance(self._ids, _WrappingIds):
        self._ids = _WrappingIds(self._ids)  # BUG: ids repeat after 1,000


def _exit_keeps_open(self: Session, exc_type: Any, exc: Any, tb: Any) -> None:
    if exc_type is None:
        _REAL["exit"](self, exc_type, exc, tb)
        return
    # BUG: leaving the block by an exception does not close the session.
    with mock.patch.object(type(self), "close", lambda session: None):
        _REAL["exit"](self, exc_type, exc, tb)


def _active_timeout_from_creation(self: Session) -> dict[str, Any]:
    details = cast(dict[str, Any], _REAL["details"](self))
    r = self._record
    left = max(0, r.created_at + r.max_time_us - self._service.clock.now())
    details["active_timeout"] = round(left / 1_000_000)  # BUG: counted from creation
    return details


def _branches_summed(self: TimingModel, inst: Any, target: Any, index: Any) -> float:
    from qiskit.circuit import ControlFlowOp, ForLoopOp

    op = inst.operation
    if isinstance(op, ControlFlowOp):
        total = 0.0
        for block in op.blocks:  # BUG: the branches are summed, not the longest taken
            inner = {b: index[q] for b, q in zip(block.qubits, inst.qubits, strict=True)}
            total += self._critical_path(block, target, inner)
        return total * len(op.params[0]) if isinstance(op, ForLoopOp) else total
    return float(_REAL["instruction_seconds"](self, inst, target, index))


def _completed_not_charged() -> Any:
    rules = {rule.cause: rule for rule in CHARGE_RULES}
    # BUG: a batch or job-mode job that completed is not charged to its instance.
    rules["completed"] = replace(rules["completed"], fair_share=False)
    return mock.patch.object(model_charges, "RULES_BY_CAUSE", MappingProxyType(rules))


_REAL: dict[str, Callable[..., Any]] = {
    "select": Scheduler._select,
    "session_event": Scheduler._session_event,
    "on_finish": Scheduler._on_finish,
    "close": Scheduler.close,
    "cancel_timer": Scheduler._cancel_timer,
    "dispatch": Scheduler.dispatch,
    "end_running": Scheduler._end_running,
    "init": Scheduler.__init__,
    "billed_us": SessionRecord.billed_us,
    "record": FairShare.record,
    "used": FairShare.used,
    "run_until_idle": LocalService.run_until_idle,
    "exit": Session.__exit__,
    "details": Session.details,
    "instruction_seconds": TimingModel._instruction_seconds,
}
"""The real methods the wrappers call around their bug."""


MUTANTS: tuple[Mutant, ...] = (
    Mutant("clock-at-creation", "max-TTL clock started at session creation",
           frozenset({"INV-CLOCK", "INV-MAXTTL-NOSTART"}),
           lambda: [_on("_max_ttl_deadline", _clock_at_creation)]),
    Mutant("expiry-leaves-queued", "queued jobs left queued at expiry",
           frozenset({"INV-EXPIRE-FAILS-QUEUED", "INV-MODEL-CONFORMS"}),
           lambda: [_coupling("max_time_reached", None, None,
                              "queued jobs left queued at expiry")]),
    Mutant("expiry-kills-running", "expiry stops the running job",
           frozenset({"INV-RUNNING-COMPLETES"}),
           lambda: [_coupling("max_time_reached", "expire", "cancel",
                              "expiry stops the running job")]),
    Mutant("no-hold", "background job allowed during an active session",
           frozenset({"INV-PRIORITY", "INV-ACTIVE-ONE"}),
           lambda: [mock.patch.object(sched, "select", _dispatch_without_hold)]),
    Mutant("ittl-from-start", "ITTL counted from the job's start",
           frozenset({"INV-ITTL"}),
           lambda: [_on("_ittl_deadline", _ittl_from_start)]),
    Mutant("close-cancels", "close() cancels the queued jobs",
           frozenset({"INV-CLOSE-DRAINS"}),
           lambda: [_coupling("close", "cancel", None, "close() cancels the queued jobs")]),
    Mutant("batch-holds", "a batch holds the QPU idle",
           frozenset({"INV-BATCH-NO-HOLD"}),
           lambda: [mock.patch.object(SessionLifecycle, "reserves_qpu",
                                      property(lambda self: True))]),
    Mutant("fair-share-ignores-allocation", "fair share ignores the allocation",
           frozenset({"INV-FAIR-SHARE"}),
           lambda: [mock.patch.object(FairShare, "ratio", _ratio_ignores_allocation)]),
    Mutant("cancel-loses-jobs", "cancel() leaves its queued jobs queued for ever",
           frozenset({"INV-CANCEL", "INV-PROGRESS", "INV-CONSERVATION"}),
           lambda: [_coupling("cancel", None, None, "cancel() leaves its queued jobs")]),
    Mutant("cancel-errors-queued", "cancel() fails queued jobs instead of cancelling them",
           frozenset({"INV-CANCEL"}),
           lambda: [_coupling("cancel", "expire", None, "cancel() fails queued jobs")]),
    Mutant("first-job-priority", "a pending session's first job gets session priority",
           frozenset({"INV-FIRST-JOB-NORMAL"}),
           lambda: [_on("_select", _session_jobs_first)]),
    Mutant("lingering-activation", "ITTL frees the QPU but leaves the session active",
           frozenset({"INV-ACTIVE-ONE", "INV-ITTL", "INV-PRIORITY"}),
           lambda: [_on("_session_event", _model_misses_ittl)]),
    Mutant("submit-after-close", "a closing session still accepts jobs",
           frozenset({"INV-CLOSED-REJECTS"}),
           lambda: [mock.patch.object(SessionLifecycle, "is_accepting", _accepting_always)]),
    Mutant("no-dispatch-after-timers", "nothing starts when a job ends or a timer fires",
           frozenset({"INV-WORK-CONSERVING", "INV-BATCH-NO-HOLD"}),
           lambda: [mock.patch.object(Clock, "run_hooks", _no_dispatch_after_timers)]),
    Mutant("start-at-max-ttl", "a job starts at the max-TTL instant",
           frozenset({"INV-MAXTTL-NOSTART"}),
           lambda: [_on("_on_finish", _finish_then_dispatch),
                    mock.patch.object(sched, "PRIO_EXPIRE", 5)]),
    Mutant("final-revived", "close() after expiry or cancel revives the session as closed",
           frozenset({"INV-FINAL", "INV-MODEL-CONFORMS"}),
           lambda: [_on("close", _close_revives)]),
    Mutant("ittl-bypasses-model", "deactivation bypasses the model, jobs in flight or not",
           frozenset({"INV-MODEL-CONFORMS", "INV-ITTL"}),
           lambda: [_on("_session_event", _ittl_bypasses_model),
                    _on("_cancel_timer", _submit_keeps_ittl)]),
    Mutant("dispatch-while-running", "a job starts while another runs",
           frozenset({"INV-CONSERVATION"}),
           lambda: [_on("dispatch", _dispatch_while_running)]),
    Mutant("idle-close-ignored", "an unused session never closes",
           frozenset({"INV-IDLE-CLOSE"}),
           lambda: [_on("_on_idle_close", _idle_close_ignored)]),
    Mutant("usage-stops-at-end", "a session's usage stops at its end while its job runs on",
           frozenset({"INV-USAGE"}),
           lambda: [mock.patch.object(sched, "span_runs_on", lambda ended, running: False)]),
    Mutant("usage-grows-after-end", "a session's usage keeps growing after it ended",
           frozenset({"INV-REPORTED"}),
           lambda: [mock.patch.object(SessionRecord, "billed_us", _billed_after_end)]),
    Mutant("charged-to-other-instance", "what an instance used is charged to another",
           frozenset({"INV-FAIR-SHARE"}),
           lambda: [mock.patch.object(FairShare, "record", _charged_to_another_instance)]),
    Mutant("window-drops-whole-span", "the window drops a straddling span whole",
           frozenset({"INV-FAIR-SHARE"}),
           lambda: [mock.patch.object(FairShare, "used", _window_drops_whole_span)]),
    Mutant("fair-share-most-used", "the normal queue serves the most-used instance first",
           frozenset({"INV-FAIR-SHARE"}),
           lambda: [mock.patch.object(FairShare, "ratio", _ratio_most_used_first)]),
    Mutant("run-until-idle-to-max-ttl", "run_until_idle() runs idle open sessions to their end",
           frozenset({"INV-RUN-UNTIL-IDLE"}),
           lambda: [mock.patch.object(LocalService, "run_until_idle",
                                      _run_until_idle_to_max_ttl)]),
    Mutant("job-usage-counts-queue", "a job's usage counts its time in the queue",
           frozenset({"INV-USAGE", "INV-REPORTED"}),
           lambda: [_on("_end_running", _usage_counts_queue)]),
    Mutant("batches-latest-first", "the latest started batch is served first",
           frozenset({"INV-DISPATCH-ORDER"}),
           lambda: [_batches_latest_first()]),
    Mutant("ids-repeat", "job and session ids repeat after 1,000",
           frozenset({"INV-IDS-UNIQUE", "INV-CONSERVATION"}),
           lambda: [_on("__init__", _ids_wrap)]),
    Mutant("with-exception-keeps-open", "leaving a with-block by an exception leaves it open",
           frozenset({"INV-WITH-CLOSES"}),
           lambda: [mock.patch.object(Session, "__exit__", _exit_keeps_open)]),
    Mutant("active-timeout-from-creation", "details() counts active_timeout from creation",
           frozenset({"INV-REPORTED"}),
           lambda: [mock.patch.object(Session, "details", _active_timeout_from_creation)]),
    Mutant("branches-summed", "a control-flow op lasts the sum of its branches",
           frozenset({"INV-DURATION"}),
           lambda: [mock.patch.object(TimingModel, "_instruction_seconds", _branches_summed)]),
    Mutant("completed-not-charged", "a completed batch or job-mode job is not charged",
           frozenset({"INV-USAGE", "INV-FAIR-SHARE"}),
           lambda: [_completed_not_charged()]),
)
"""The mutant catalogue (one or more per invariant family); the seam mutants join it below."""


# -- bugs applied through seams: each wraps the real function and changes one input or output,
# so the mutant is the bug alone, not a copy of the method it lives in -------------------------


def _wrap(owner: Any, name: str, wrapper: Callable[..., Any]) -> Any:
    """Patch ``owner.name`` with ``wrapper(real, *args, **kwargs)``."""
    real = getattr(owner, name)

    def patched(*args: Any, **kwargs: Any) -> Any:
        return wrapper(real, *args, **kwargs)

    return mock.patch.object(owner, name, patched)


def _open_with(**changes: Callable[[Scheduler, dict[str, Any]], Any]) -> Any:
    """``Scheduler.open_session`` with some keyword arguments replaced (the session's own
    record then carries the wrong value too: only the caller's configuration tells)."""
    def wrapper(real: Callable[..., Any], self: Scheduler, mode: Any, **kwargs: Any) -> Any:
        for key, change in changes.items():
            kwargs[key] = change(self, {**kwargs, "mode": mode})
        return real(self, mode, **kwargs)

    return _wrap(Scheduler, "open_session", wrapper)


def _submit_with(**changes: Callable[[Scheduler, dict[str, Any]], Any]) -> Any:
    """``Scheduler.submit`` with some keyword arguments replaced."""
    def wrapper(real: Callable[..., Any], self: Scheduler, session: Any, **kwargs: Any) -> Any:
        for key, change in changes.items():
            kwargs[key] = change(self, {**kwargs, "session": session})
        return real(self, session, **kwargs)

    return _wrap(Scheduler, "submit", wrapper)


def _jobs_with(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """``joblist.select_jobs`` (what ``service.jobs()`` returns) with its filters changed."""
    from qsession.runtime.ibm import joblist

    return _wrap(joblist, "select_jobs",
                 lambda real, service, **kwargs: real(service, **change(kwargs)))


def _float_timeouts(real: Callable[..., Any], self: Session) -> dict[str, Any]:
    details = dict(real(self))
    details["interactive_timeout"] = float(details["interactive_timeout"])  # BUG: IBM's int
    return details


def _float_usage(real: Callable[..., Any], self: Any) -> dict[str, Any]:
    metrics = dict(real(self))
    usage = dict(metrics["usage"])
    usage["quantum_seconds"] = float(usage["quantum_seconds"])  # BUG: IBM sends an int
    return {**metrics, "usage": usage}


def _exit_cancels(real: Callable[..., Any], self: Session, *exc: Any) -> None:
    self.cancel()  # BUG: leaving the block cancels (queued jobs lost), then closes (a no-op)
    real(self, *exc)


def _job_mode_default_instance(self: Scheduler, kwargs: dict[str, Any]) -> Any:
    # BUG: a job-mode job is accounted to the QPU's default instance, whatever it asked for
    return kwargs["instance"] if kwargs["session"] is not None else \
        self.settings.default_instance


def _later_created_after(kwargs: dict[str, Any]) -> dict[str, Any]:
    from datetime import timedelta

    after = kwargs["created_after"]
    if after is not None:  # BUG: the lower creation bound is exclusive
        kwargs["created_after"] = after + timedelta(microseconds=1)
    return kwargs


def _pending_inverted(kwargs: dict[str, Any]) -> dict[str, Any]:
    if kwargs["pending"] is not None:  # BUG: pending=True gives the final jobs
        kwargs["pending"] = not kwargs["pending"]
    return kwargs


def _instance_ignored(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**kwargs, "instance": None}  # BUG: the instance filter is dropped


def _oldest_first(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**kwargs, "descending": False}  # BUG: always oldest first


def _one_sub_job(real: Callable[..., Any], self: TimingModel, executions: Any,
                 sub_jobs: int = 1) -> int:
    return int(real(self, executions, 1))  # BUG: one overhead per job, not per pub


def _wait_unbounded(real: Callable[..., Any], self: Any, timeout: float | None) -> None:
    real(self, None)  # BUG: result(timeout=...) waits until the job ends


SEAM_MUTANTS: tuple[Mutant, ...] = (
    Mutant("open-plan-allows-session", "the Open Plan's refusal of dedicated sessions is lost",
           frozenset({"INV-PLAN"}),
           lambda: [mock.patch.object(QPUSettings, "check_mode", lambda self, i, m: None)]),
    Mutant("open-batch-uncapped", "an Open Plan batch may ask for more than the plan's limit",
           frozenset({"INV-PLAN"}),
           lambda: [mock.patch.object(Instance, "limit_s", property(lambda self: None))]),
    Mutant("quota-ignored", "an instance past its Open Plan quota still gets jobs started",
           frozenset({"INV-FAIR-SHARE"}),
           lambda: [_on("_over_quota", lambda self, instance, now: False)]),
    Mutant("idle-close-after-ittl", "an unused session closes after its ITTL, not the "
           "idle-close timeout (and records that value)",
           frozenset({"INV-IDLE-CLOSE"}),
           lambda: [_open_with(idle_close_us=lambda self, kw: kw["ittl_us"])]),
    Mutant("max-time-default", "a session gets the plan's default max_time, not the one asked "
           "for (and records it)",
           frozenset({"INV-CLOCK", "INV-MAXTTL-NOSTART", "INV-EXPIRE-FAILS-QUEUED",
                      "INV-REPORTED"}),
           lambda: [_open_with(max_time_us=lambda self, kw: to_us(self.settings.max_time))]),
    Mutant("job-mode-default-instance", "a job-mode job is accounted to the default instance",
           frozenset({"INV-FAIR-SHARE", "INV-REPORTED"}),
           lambda: [_submit_with(instance=_job_mode_default_instance)]),
    Mutant("one-sub-job-per-job", "a job pays one sub-job overhead, however many pubs",
           frozenset({"INV-DURATION"}),
           lambda: [_wrap(TimingModel, "job_microseconds", _one_sub_job)]),
    Mutant("execution-limit-ignored", "max_execution_time never stops a job",
           frozenset({"INV-DURATION"}),
           lambda: [_submit_with(time_limit_us=lambda self, kw: None)]),
    Mutant("wait-ignores-timeout", "result(timeout=...) waits until the job ends",
           frozenset({"INV-WAIT"}),
           lambda: [_wrap(RuntimeJobV2, "_wait", _wait_unbounded)]),
    Mutant("jobs-created-after-exclusive", "jobs(created_after=t) leaves out jobs created at t",
           frozenset({"INV-JOBS-QUERY"}), lambda: [_jobs_with(_later_created_after)]),
    Mutant("jobs-pending-inverted", "jobs(pending=True) gives the final jobs",
           frozenset({"INV-JOBS-QUERY"}), lambda: [_jobs_with(_pending_inverted)]),
    Mutant("jobs-instance-ignored", "jobs(instance=...) returns every instance's jobs",
           frozenset({"INV-JOBS-QUERY"}), lambda: [_jobs_with(_instance_ignored)]),
    Mutant("jobs-oldest-first", "jobs() lists the oldest first",
           frozenset({"INV-JOBS-QUERY"}), lambda: [_jobs_with(_oldest_first)]),
    Mutant("details-timeout-float", "details() gives interactive_timeout as a float",
           frozenset({"INV-REPORTED"}),
           lambda: [_wrap(Session, "details", _float_timeouts)]),
    Mutant("metrics-usage-float", "metrics() gives quantum_seconds as a float",
           frozenset({"INV-REPORTED"}),
           lambda: [_wrap(RuntimeJobV2, "metrics", _float_usage)]),
    Mutant("with-cancels", "leaving a with-block cancels the session instead of closing it",
           frozenset({"INV-WITH-CLOSES"}),
           lambda: [_wrap(Session, "__exit__", _exit_cancels)]),
)
"""Bugs in plans and quota, idle close, the timing model, waits, ``jobs()`` filters and the
reported types: the code the stateful machine's generators reach since they open several
QPUs and instances, an Open Plan instance, multi-pub jobs, execution limits and timed waits."""

MUTANTS = MUTANTS + SEAM_MUTANTS
