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
from dataclasses import dataclass
from typing import Any, cast
from unittest import mock

from qsession.model import PENDING, QUEUED, Step
from qsession.runtime import scheduler as sched
from qsession.runtime.clock import Clock, to_us
from qsession.runtime.fairshare import FairShare
from qsession.runtime.job import RuntimeJobV2
from qsession.runtime.records import JobRecord, SessionRecord
from qsession.runtime.scheduler import (
    EXPIRY_REASON,
    MAX_TIME_ERROR,
    PRIO_EXPIRE,
    PRIO_ITTL,
    QPU_FAULT,
    Scheduler,
)
from qsession.runtime.service import LocalService
from qsession.runtime.session import Session
from qsession.runtime.settings import Instance, QPUSettings
from qsession.runtime.timing import TimingModel


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


def _clock_at_creation(self: Scheduler, s: SessionRecord, step: Step, now: int) -> None:
    s.activated_at = now
    if step.source == PENDING:
        s.started_at = now
        deadline = max(now, s.created_at + s.max_time_us)  # BUG: counts from creation
        s.maxttl_timer = self.clock.call_at(deadline, lambda: self._on_max_ttl(s),
                                            priority=PRIO_EXPIRE, label=f"max_ttl {s.id}")
    if s.lifecycle.reserves_qpu:
        self.active_session = s
    else:
        self.active_batches.append(s)


def _expiry_leaves_queued(self: Scheduler, s: SessionRecord) -> None:
    s.maxttl_timer = None
    step = s.lifecycle.fire("max_time_reached")
    self._session_step(s, step)
    self._session_ended(s)  # BUG: the queued jobs are not failed


def _expiry_kills_running(self: Scheduler, s: SessionRecord) -> None:
    s.maxttl_timer = None
    now = self.now()
    step = s.lifecycle.fire("max_time_reached")
    self._session_step(s, step)
    for job in list(s.queue):
        if job.state == QUEUED:
            self._end_queued(job, "expire", now, reason=EXPIRY_REASON)
    s.queue.clear()
    running = self.running
    if running is not None and running.session is s:  # BUG: stops the running job
        if running.finish_timer is not None:
            running.finish_timer.cancel()
        self._end_running(running, "cancel", now, reason="session expired")
    self._session_ended(s)


def _no_hold(self: Scheduler) -> tuple[JobRecord, str, dict[str, Any]] | None:
    active = self.active_session
    if active is not None and active.head() is None:
        self.active_session = None  # BUG: an idle active session does not hold the QPU
        try:
            return _REAL_SELECT(self)
        finally:
            self.active_session = active
    return _REAL_SELECT(self)


def _ittl_from_start(self: Scheduler, job: JobRecord, now: int) -> None:
    s = job.session
    if s is None:
        return
    s.last_job_completed = now
    if s.lifecycle.is_final:
        return
    step = s.lifecycle.fire("job_ended", in_flight=s.in_flight)
    self._session_step(s, step)
    if step.changed:
        self._session_ended(s)
    elif s.is_active and s.in_flight == 0:
        assert job.running is not None
        start = job.running if job.running is not None else now
        at = max(now, start + s.ittl_us)  # BUG: counts from the job's start
        s.ittl_timer = self.clock.call_at(at, lambda: self._on_ittl(s), priority=PRIO_ITTL,
                                          label=f"ittl {s.id}")


@sched._atomic
def _close_cancels(self: Scheduler, s: SessionRecord) -> None:
    if s.lifecycle.is_final:
        return
    now = self.now()
    for job in list(s.queue):  # BUG: close() cancels what is queued
        if job.state == QUEUED:
            self._end_queued(job, "cancel", now, reason="session closed")
    step = s.lifecycle.fire("close", in_flight=s.in_flight)
    self._session_step(s, step)
    if step.changed:
        self._session_ended(s)
    self.dispatch()


def _batch_holds(self: Scheduler, s: SessionRecord, step: Step, now: int) -> None:
    _REAL_ACTIVATED(self, s, step, now)
    if not s.lifecycle.reserves_qpu:  # BUG: a batch holds the QPU like a session
        self.active_batches.remove(s)
        self.active_session = s


def _ratio_ignores_allocation(self: FairShare, instance: str, now: int) -> float:
    return float(self.used(instance, now))  # BUG: used, not used / allocated


@sched._atomic
def _cancel_loses_jobs(self: Scheduler, s: SessionRecord) -> None:
    if s.lifecycle.is_final:
        return
    step = s.lifecycle.fire("cancel")
    self._session_step(s, step)
    s.queue.clear()  # BUG: queued jobs dropped without a state change: lost
    self._session_ended(s)
    self.dispatch()


@sched._atomic
def _cancel_errors_queued(self: Scheduler, s: SessionRecord) -> None:
    if s.lifecycle.is_final:
        return
    now = self.now()
    step = s.lifecycle.fire("cancel")
    self._session_step(s, step)
    for job in list(s.queue):
        if job.state == QUEUED:  # BUG: cancel fails queued jobs (ERROR) like expiry
            self._end_queued(job, "expire", now, reason="session cancelled")
    s.queue.clear()
    self._session_ended(s)
    self.dispatch()


def _session_jobs_first(self: Scheduler) -> tuple[JobRecord, str, dict[str, Any]] | None:
    chosen = _REAL_SELECT(self)
    if chosen is None or chosen[1] != "normal":
        return chosen
    # BUG: a pending or inactive session's job gets session priority over the normal queue.
    for queue in self.normal.values():
        for job in queue:
            if job.state == QUEUED and job.session is not None and sched._normal_eligible(job):
                return job, "session", {}
    return chosen


def _lingering_activation(self: Scheduler, s: SessionRecord) -> None:
    s.ittl_timer = None
    s.deactivations += 1
    self._deactivated(s, self.now())  # BUG: the QPU is released but the model never hears



@sched._atomic
def _submit_ignores_close(self: Scheduler, session: SessionRecord | None, **kwargs: Any
                          ) -> JobRecord:
    if session is not None and not session.lifecycle.accepting_jobs \
            and not session.lifecycle.is_final:
        session.lifecycle.accepting_jobs = True  # BUG: a closing session takes the job
        try:
            return cast(JobRecord, _REAL_SUBMIT(self, session, **kwargs))
        finally:
            session.lifecycle.accepting_jobs = False
    return cast(JobRecord, _REAL_SUBMIT(self, session, **kwargs))


def _no_dispatch_after_timers(self: Any) -> None:
    self.changed.notify_all()  # BUG: the instant hooks (dispatch) never run


def _finish_then_dispatch(self: Scheduler, job: JobRecord) -> None:
    _REAL_ON_FINISH(self, job)
    self.dispatch()  # BUG: dispatches before the instant settled (expiry may be pending)


@sched._atomic
def _close_revives(self: Scheduler, s: SessionRecord) -> None:
    if s.lifecycle.is_final and s.state != "closed":
        before = s.state
        s.lifecycle.state = "closed"  # BUG: a final state changes (bypassing the model)
        self.trace.emit(self.now(), self.qpu, "session", s.id, "close", source=before,
                        dest="closed", instance=s.instance, accepting_jobs=False,
                        in_flight=s.in_flight)
        return
    _REAL_CLOSE(self, s)


def _ittl_bypasses_model(self: Scheduler, s: SessionRecord) -> None:
    s.ittl_timer = None
    now = self.now()
    before = s.state
    s.lifecycle.state = "inactive"  # BUG: no model event, and jobs may be in flight
    self.trace.emit(now, self.qpu, "session", s.id, "deactivate", source=before,
                    dest="inactive", instance=s.instance, accepting_jobs=True,
                    in_flight=s.in_flight)
    s.deactivations += 1
    self._deactivated(s, now)


def _submit_keeps_ittl(self: Scheduler, s: SessionRecord, which: str) -> None:
    if which == "ittl":
        return  # BUG (with the one above): a submission does not stop the ITTL timer
    _REAL_CANCEL_TIMER(self, s, which)


def _dispatch_while_running(self: Scheduler) -> None:
    chosen = self._select()  # BUG: no check that the QPU is free
    if chosen is not None:
        job, via, extra = chosen
        previous = self.running
        self._start(job, via, extra)
        if previous is not None:
            self.running = previous


def _idle_close_ignored(self: Scheduler, s: SessionRecord) -> None:
    s.idle_close_timer = None  # BUG: the timer fires but the unused session stays open


def _usage_stops_at_end(self: Scheduler, s: SessionRecord, now: int) -> None:
    if s.lifecycle.reserves_qpu:
        self._bill(s, now)  # BUG: billing stops at the session's end, its job still running
    if self.active_session is s:
        self._release_hold(now)
        self.active_session = None
    elif s in self.active_batches:
        self.active_batches.remove(s)


def _billed_after_end(self: SessionRecord, now: int) -> int:
    if self.activated_at is not None and (self.is_active or self.meter_job is not None
                                          or self.lifecycle.is_final):
        return self.usage_us + now - self.activated_at  # BUG: the meter runs on after the end
    return self.usage_us


def _bill_other_instance(self: Scheduler, s: SessionRecord, now: int) -> None:
    if s.activated_at is None:
        return
    span = now - s.activated_at
    s.usage_us += span
    others = [i for i in self.fair_share.allocations if i != s.instance]
    charged = others[0] if others else s.instance  # BUG: charged to another instance
    self.fair_share.record(charged, s.activated_at, now)
    self.trace.emit(now, self.qpu, "qpu", self.qpu, "bill", session=s.id,
                    instance=s.instance, extra={"from_us": s.activated_at, "span_us": span,
                                                "usage_us": s.usage_us})


def _window_drops_whole_span(self: FairShare, instance: str, now: int) -> int:
    horizon = now - self.window_us
    # BUG: a span that straddles the window edge is dropped whole, not cut at the edge.
    return sum(end - start for start, end in self._spans[instance] if start >= horizon)


def _ratio_most_used_first(self: FairShare, instance: str, now: int) -> float:
    return -(self.used(instance, now) / self.share[instance])  # BUG: most used goes first


def _run_until_idle_to_max_ttl(self: LocalService, timeout: float | None = None) -> bool:
    def idle_and_ended() -> bool:  # BUG: also waits for every open session to end
        return all(s.is_idle() for s in self.schedulers.values()) and all(
            r.lifecycle.is_final for sch in self.schedulers.values()
            for r in sch.sessions.values())
    with self.call():
        try:
            return self.clock.wait_for(idle_and_ended)
        except Exception:  # no timer left: a pending session that never ends
            return True


def _usage_counts_queue(self: Scheduler, job: JobRecord, event: str, now: int,
                        reason: str | None = None) -> None:
    assert job.running is not None
    job.finished = now
    job.held_us = now - job.running
    system_failed = event == "fail" and reason is not None and reason.startswith(QPU_FAULT)
    job.usage_us = 0 if system_failed else now - job.created  # BUG: from submission
    self._job_step(job, job.lifecycle.fire(event), reason=reason, usage_us=job.usage_us)
    self.running = None
    self.busy_us += job.held_us
    s = job.session
    charged = event == "finish" or (event == "fail" and reason == MAX_TIME_ERROR)
    if charged and (s is None or not s.lifecycle.reserves_qpu):
        self.fair_share.record(job.instance, job.running, now)
    if s is not None:
        s.running -= 1
        if s.meter_job is job:
            s.meter_job = None
            self._bill(s, now)
    self._after_job_left(job, now)


def _batches_latest_first(self: Scheduler, s: SessionRecord, step: Step, now: int) -> None:
    _REAL_ACTIVATED(self, s, step, now)
    if not s.lifecycle.reserves_qpu:  # BUG: the latest started batch is served first
        self.active_batches.sort(key=lambda b: (b.started_at or 0, b.created_at, b.id),
                                 reverse=True)


class _WrappingIds:
    """Ids that start again after 1,000 (the bug below)."""

    def __init__(self, inner: Iterator[int]) -> None:
        self.inner = inner

    def __iter__(self) -> _WrappingIds:
        return self

    def __next__(self) -> int:
        return (next(self.inner) - 1) % 1_000 + 1


def _ids_wrap(self: Scheduler, *args: Any, **kwargs: Any) -> None:
    _REAL_INIT(self, *args, **kwargs)
    if not isinstance(self._ids, _WrappingIds):
        self._ids = _WrappingIds(self._ids)  # BUG: ids repeat after 1,000


def _exit_keeps_open(self: Session, exc_type: Any, exc: Any, tb: Any) -> None:
    if exc_type is None:
        _REAL_EXIT(self, exc_type, exc, tb)
        return
    if self._tokens:  # BUG: leaving the block by an exception does not close
        from qsession.runtime.session import _current

        _current.reset(self._tokens.pop())


def _active_timeout_from_creation(self: Session) -> dict[str, Any]:
    details = _REAL_DETAILS(self)
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
    return float(_REAL_INSTRUCTION_SECONDS(self, inst, target, index))


def _metrics_span_ends_at_end(r: Any, t: float, sessions: dict[str, Any]) -> None:
    """The trace metrics' session record handler, ending a span at the session's end."""
    if r.event == "create":
        _REAL_METRICS["session"](r, t, sessions)
        return
    s = sessions[r.id]
    if r.dest is not None and r.source == "active" and r.dest != "active" and \
            s._active_since is not None:
        s._running = set()  # BUG: the running job no longer extends the span past the end
    _REAL_METRICS["session"](r, t, sessions)


def _metrics_patch() -> Any:
    # Trace metrics live in qsession.insight, which properties may not import (the layout
    # rule); the patch names its target, resolved only while the mutant is applied.
    import importlib

    module = importlib.import_module("qsession.insight.metrics")
    _REAL_METRICS["session"] = module._session_record
    return mock.patch.object(module, "_session_record", _metrics_span_ends_at_end)


_REAL_METRICS: dict[str, Any] = {}
_REAL_SELECT = Scheduler._select
_REAL_ACTIVATED = Scheduler._activated
_REAL_SUBMIT = Scheduler.submit.__wrapped__  # type: ignore[attr-defined]
_REAL_ON_FINISH = Scheduler._on_finish
_REAL_CLOSE = Scheduler.close.__wrapped__  # type: ignore[attr-defined]
_REAL_CANCEL_TIMER = Scheduler._cancel_timer
_REAL_INIT = Scheduler.__init__
_REAL_EXIT = Session.__exit__
_REAL_DETAILS = Session.details
_REAL_INSTRUCTION_SECONDS = TimingModel._instruction_seconds


MUTANTS: tuple[Mutant, ...] = (
    Mutant("clock-at-creation", "max-TTL clock started at session creation",
           frozenset({"INV-CLOCK", "INV-MAXTTL-NOSTART"}),
           lambda: [_on("_activated", _clock_at_creation)]),
    Mutant("expiry-leaves-queued", "queued jobs left queued at expiry",
           frozenset({"INV-EXPIRE-FAILS-QUEUED", "INV-MODEL-CONFORMS"}),
           lambda: [_on("_on_max_ttl", _expiry_leaves_queued)]),
    Mutant("expiry-kills-running", "expiry stops the running job",
           frozenset({"INV-RUNNING-COMPLETES"}),
           lambda: [_on("_on_max_ttl", _expiry_kills_running)]),
    Mutant("no-hold", "background job allowed during an active session",
           frozenset({"INV-PRIORITY", "INV-ACTIVE-ONE"}),
           lambda: [_on("_select", _no_hold)]),
    Mutant("ittl-from-start", "ITTL counted from the job's start",
           frozenset({"INV-ITTL"}),
           lambda: [_on("_after_job_left", _ittl_from_start)]),
    Mutant("close-cancels", "close() cancels the queued jobs",
           frozenset({"INV-CLOSE-DRAINS"}),
           lambda: [_on("close", _close_cancels)]),
    Mutant("batch-holds", "a batch holds the QPU idle",
           frozenset({"INV-BATCH-NO-HOLD"}),
           lambda: [_on("_activated", _batch_holds)]),
    Mutant("fair-share-ignores-allocation", "fair share ignores the allocation",
           frozenset({"INV-FAIR-SHARE"}),
           lambda: [mock.patch.object(FairShare, "ratio", _ratio_ignores_allocation)]),
    Mutant("cancel-loses-jobs", "cancel() loses the queued jobs",
           frozenset({"INV-CANCEL", "INV-PROGRESS", "INV-CONSERVATION"}),
           lambda: [_on("cancel", _cancel_loses_jobs)]),
    Mutant("cancel-errors-queued", "cancel() fails queued jobs instead of cancelling them",
           frozenset({"INV-CANCEL"}),
           lambda: [_on("cancel", _cancel_errors_queued)]),
    Mutant("first-job-priority", "a pending session's first job gets session priority",
           frozenset({"INV-FIRST-JOB-NORMAL"}),
           lambda: [_on("_select", _session_jobs_first)]),
    Mutant("lingering-activation", "ITTL frees the QPU but leaves the session active",
           frozenset({"INV-ACTIVE-ONE", "INV-ITTL", "INV-PRIORITY"}),
           lambda: [_on("_on_ittl", _lingering_activation)]),
    Mutant("submit-after-close", "a closing session still accepts jobs",
           frozenset({"INV-CLOSED-REJECTS"}),
           lambda: [_on("submit", _submit_ignores_close)]),
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
           lambda: [_on("_on_ittl", _ittl_bypasses_model),
                    _on("_cancel_timer", _submit_keeps_ittl)]),
    Mutant("dispatch-while-running", "a job starts while another runs",
           frozenset({"INV-CONSERVATION"}),
           lambda: [_on("dispatch", _dispatch_while_running)]),
    Mutant("idle-close-ignored", "an unused session never closes",
           frozenset({"INV-IDLE-CLOSE"}),
           lambda: [_on("_on_idle_close", _idle_close_ignored)]),
    Mutant("usage-stops-at-end", "a session's usage stops at its end while its job runs on",
           frozenset({"INV-USAGE"}),
           lambda: [_on("_deactivated", _usage_stops_at_end)]),
    Mutant("usage-grows-after-end", "a session's usage keeps growing after it ended",
           frozenset({"INV-REPORTED"}),
           lambda: [mock.patch.object(SessionRecord, "billed_us", _billed_after_end)]),
    Mutant("charged-to-other-instance", "a session's time is charged to another instance",
           frozenset({"INV-FAIR-SHARE"}),
           lambda: [_on("_bill", _bill_other_instance)]),
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
           lambda: [_on("_activated", _batches_latest_first)]),
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
    Mutant("metrics-span-ends-at-end", "metrics end an active span at the session's end",
           frozenset({"INV-REPORTED"}),
           lambda: [_metrics_patch()]),
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
    from qsession.runtime import joblist

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
