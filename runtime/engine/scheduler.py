"""One QPU's scheduler: its queues and selection, its timers, driven by the model.

Every session and job state change goes through the model (``Lifecycle.fire``); a move
the model refuses raises ``TransitionRefused`` — a scheduler bug, never swallowed. The
scheduler never reads the clock's kind: it sets timers, and dispatches when an instant
has settled (the clock's instant hook) or after a caller's request.

Selection when the QPU is free, highest first:
1. the jobs of the *active* dedicated session (FIFO); if it has none queued, the QPU is
   held idle for it until its ITTL runs out;
2. the jobs of active batches, batches in the order they activated (FIFO within);
3. the normal queue: the instance with the smallest used/allocated share first, FIFO
   within an instance. Job-mode jobs and the jobs of pending or inactive sessions wait
   here.

Same-instant order: max-TTL expiry before job completion before ITTL deactivation before
the idle close of an unused session, and dispatch only after all of them; so no job starts
at the max-TTL instant.

What a session event does to its jobs, which session event a job's start or end tells
its session, and the order of started batches are the model's coupling rules
(``qsession.model.coupling``), executed here as data (``Scheduler.coupling``).

Accounting (``qsession docs semantics "Usage and billing"``): what a job's end bills and charges
is the model's ``job_charge``; a dedicated session is billed its active spans, each
ending at the latest of its deactivation, its end and the completion of a job of it still
running then. The service-wide ``FairShare`` is charged the session's billed spans and
what each job end charges, and the trace records both (``bill`` records, and
``usage_us``/``charged_us`` on each end of a job that ran), so readers take them from
there. An Open-Plan instance past its quota gets no job started until its use leaves the
window.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar, cast

from qsession.model import (
    COUPLING,
    PENDING,
    QUEUED,
    RUNNING,
    SESSION_TABLE,
    Coupling,
    EndCause,
    Mode,
    SessionJobRule,
    Step,
    TransitionRefused,
    bills_active_spans,
    in_normal_queue,
    job_charge,
    select,
    span_runs_on,
)

from .clock import Clock, Timer, VirtualClock, to_us
from .errors import IBMRuntimeError, RuntimeInvalidStateError
from .fairshare import FairShare
from .ids import IdScheme, Kind, ShortIds
from .records import JobKind, JobRecord, SessionRecord
from .settings import Instance, QPUSettings
from .trace import Trace

Executor = Callable[[Any, int | None], Any]
"""Runs a job's payload with a seed and returns its result; raising fails the job."""

# Timer priorities among timers due at the same instant (lower fires first).
PRIO_EXPIRE, PRIO_FINISH, PRIO_ITTL, PRIO_IDLE_CLOSE, PRIO_QUOTA = 0, 1, 2, 3, 4

USER_CANCEL = "cancelled by the user"
MAX_TIME_ERROR = "Error code 1305; the job ran longer than its max_execution_time and was stopped"
QPU_FAULT = "QPU fault:"
"""How the reasons of jobs failed by the system (not by their circuits) begin."""
RESTART_CODE = 5203
"""IBM's code for a job the service failed to run ("Failed to run job. Try to run the job
again."): how a job running when the platform stopped ends
(``qsession docs server "Persistence and recovery"``)."""
RESTART_ERROR = (f"{QPU_FAULT} error code {RESTART_CODE}; Failed to run job: the platform "
                 "stopped while the job was running; run the job again")


def end_cause(event: str, reason: str | None) -> EndCause:
    """Why a job that ran ended, from its end event and the scheduler's own reason text
    (the one place that reads them; a replayed failure carries the recorded text)."""
    if event == "finish":
        return "completed"
    if event == "cancel":
        return "user_cancel"
    if reason == MAX_TIME_ERROR:
        return "time_limit"
    if reason is not None and reason.startswith(QPU_FAULT):
        return "system_fault"
    return "execution_error"


class SessionClosedError(IBMRuntimeError):
    """Submitting to a session that does not accept jobs (IBM's text: "The session is closed.")."""


_F = TypeVar("_F", bound=Callable[..., Any])


def _atomic(method: _F) -> _F:
    """Run a scheduler operation under the clock's lock, at one frozen instant."""

    @functools.wraps(method)
    def wrapper(self: Scheduler, *args: Any, **kwargs: Any) -> Any:
        with self.clock.instant():
            return method(self, *args, **kwargs)

    return cast(_F, wrapper)


def _null_executor(payload: Any, seed: int | None) -> Any:
    return None


class Scheduler:
    """The scheduler of one QPU: queues, dispatch, ITTL and max-TTL timers, accounting."""

    coupling: Coupling = COUPLING
    """The model's coupling rules this scheduler executes (a changed copy plants a bug)."""

    def __init__(self, qpu: str, clock: Clock, trace: Trace, settings: QPUSettings,
                 executor: Executor | None = None, *, ids: Iterator[int] | None = None,
                 execution_timeout: float | None = 600.0,
                 fair_share: FairShare | None = None, names: IdScheme | None = None) -> None:
        self.qpu = qpu
        self.clock = clock
        self.trace = trace
        self.settings = settings
        self.executor: Executor = executor or _null_executor
        self.execution_timeout = execution_timeout
        self._ids = ids if ids is not None else itertools.count(1)
        self._names: IdScheme = names if names is not None else ShortIds()
        self._rebinding: JobRecord | None = None
        self.inline_executions = False
        """Run executions on the scheduler's own thread: for an executor that returns at
        once (a replay's recorded outcomes), where a worker thread is pure overhead."""
        # One FairShare per service: an instance's use counts across all its QPUs.
        if fair_share is None:
            fair_share = FairShare(settings.allocations, to_us(settings.fair_share_window))
        else:
            fair_share.add(settings.allocations)
        self.fair_share = fair_share
        self._quota_us = {name: to_us(i.quota) for name, i in settings.instances.items()
                          if i.quota is not None}
        self._quota_held: dict[str, Timer | None] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.jobs: dict[str, JobRecord] = {}
        self.running: JobRecord | None = None
        self.active_session: SessionRecord | None = None
        self.active_batches: list[SessionRecord] = []
        self.normal: dict[str, deque[JobRecord]] = {name: deque() for name in settings.instances}
        self.queued_count = 0
        self.busy_us = 0
        self._hold_since: int | None = None
        # Executions run on a worker thread: in virtual time the scheduler waits for them
        # (so a hung simulation can be abandoned after ``execution_timeout`` wall seconds);
        # in real time the job ends when both its modeled time and the simulation are over.
        self._virtual = isinstance(clock, VirtualClock)
        self._pool: ThreadPoolExecutor | None = None
        clock.add_instant_hook(self.dispatch)
        self._configure_record()

    def _configure_record(self) -> None:
        """Record the QPU's settings, so a trace alone can be checked (fair share, timeouts)."""
        with self.clock.instant():
            for instance in self.settings.instances:
                self._record_instance(instance)

    def _record_instance(self, instance: str) -> None:
        s = self.settings
        plan = s.instance(instance)
        extra = {} if plan.quota is None else {"quota_us": to_us(plan.quota)}
        self.trace.emit(self.now(), self.qpu, "qpu", self.qpu, "configure",
                        instance=instance, allocation=plan.allocation,
                        fair_share_window_us=to_us(s.fair_share_window),
                        interactive_timeout_us=to_us(
                            s.interactive_timeout_of(instance, "dedicated")),
                        batch_interactive_timeout_us=to_us(
                            s.interactive_timeout_of(instance, "batch")),
                        extra={"plan": plan.plan, **extra})

    def add_instance(self, name: str, plan: Instance) -> None:
        """Know one more instance from now on (a tenant that appeared after the start), and
        record its ``configure`` record at this instant, as the first ones were."""
        if name in self.settings.instances:
            return
        self.settings = replace(self.settings, instances={**self.settings.instances, name: plan})
        self.fair_share.add({name: plan.allocation})
        if plan.quota is not None:
            self._quota_us[name] = to_us(plan.quota)
        self.normal[name] = deque()
        with self.clock.instant():
            self._record_instance(name)

    # -- queries ---------------------------------------------------------------------

    def now(self) -> int:
        """The clock's now (µs)."""
        return self.clock.now()

    def is_idle(self) -> bool:
        """True when no job is queued or running on this QPU."""
        return self.running is None and self.queued_count == 0

    @property
    def holding(self) -> SessionRecord | None:
        """The dedicated session holding the QPU idle within its ITTL, if any."""
        return self.active_session if self._hold_since is not None else None

    # -- sessions --------------------------------------------------------------------

    @_atomic
    def open_session(self, mode: Mode, *, max_time_us: int, ittl_us: int,
                     instance: str, idle_close_us: int | bool | None = True) -> SessionRecord:
        """Create a pending session (``dedicated``) or batch on this QPU.

        ``idle_close_us``: close it if no job is submitted within that time (True: the
        QPU's ``idle_close_timeout``; None: never).
        """
        now = self.now()
        self.settings.check_mode(instance, mode)
        if idle_close_us is True:
            timeout = self.settings.idle_close_timeout
            idle_close_us = None if timeout is None else to_us(timeout)
        elif idle_close_us is False:
            idle_close_us = None
        sid = self._name("session", next(self._ids))
        s = SessionRecord(sid, mode, self.qpu, instance, ittl_us, max_time_us, now,
                          idle_close_us)
        self.sessions[sid] = s
        extra: dict[str, Any] = self._origin()
        if idle_close_us is not None:
            extra["idle_close_timeout_us"] = idle_close_us
        self.trace.emit(now, self.qpu, "session", sid, "create", dest=s.state, instance=instance,
                        mode=mode, interactive_timeout_us=ittl_us, max_time_us=max_time_us,
                        accepting_jobs=True, extra=extra)
        if idle_close_us is not None:
            s.idle_close_timer = self.clock.call_at(
                now + idle_close_us, lambda: self._on_idle_close(s), priority=PRIO_IDLE_CLOSE,
                label=f"idle_close {s.id}")
            self._trace_timer("timer_set", s.idle_close_timer, session=s.id)
        return s

    @_atomic
    def close(self, s: SessionRecord) -> None:
        """Stop accepting jobs; closed now if nothing is queued or running (final: no-op)."""
        if s.lifecycle.is_final:
            return
        step = self._session_event(s, "close", self._origin())
        if step.changed:
            self._session_ended(s)
        self.dispatch()

    @_atomic
    def cancel(self, s: SessionRecord) -> None:
        """Cancel the session: queued jobs CANCELLED now, a running job completes."""
        if s.lifecycle.is_final:
            return
        self._session_event(s, "cancel", self._origin())
        self._session_ended(s)
        self.dispatch()

    # -- jobs ------------------------------------------------------------------------

    @_atomic
    def submit(self, session: SessionRecord | None, *, instance: str, kind: JobKind,
               payload: Any, duration_us: int, seed: int | None = None,
               time_limit_us: int | None = None, tags: Sequence[str] = (),
               **data: str | int | float | bool | None) -> JobRecord:
        """Queue a job (in ``session``, or in job mode when None) and dispatch.

        ``time_limit_us`` is the job's maximum execution time: a job modeled to run longer
        is stopped at the limit and fails with ``MAX_TIME_ERROR``. Inside ``rebinding(job)``
        nothing is queued: ``job`` (recovered from a trace) gets ``payload`` and is returned.
        """
        rebound = self._rebinding
        if rebound is not None:
            self._rebinding = None
            rebound.payload = payload
            return rebound
        now = self.now()
        if duration_us <= 0:
            raise ValueError(f"a job's modeled duration must be positive, not {duration_us}us")
        if time_limit_us is not None and time_limit_us <= 0:
            raise ValueError(f"a job's time limit must be positive, not {time_limit_us}us")
        if session is not None:
            if session.qpu != self.qpu:
                raise IBMRuntimeError(f"session {session.id} runs on {session.qpu}, not "
                                      f"{self.qpu}: submit through its own backend")
            try:  # the model decides whether the session takes it
                step = session.lifecycle.fire("submit")
            except TransitionRefused:
                raise SessionClosedError(
                    f"The session is closed: session {session.id} is {session.state} and "
                    "does not accept jobs. Open a new Session (or Batch) to submit more."
                ) from None
            instance = session.instance
        seq = next(self._ids)
        job = JobRecord(self._name("job", seq), seq, self.qpu, session, instance, kind, payload,
                        duration_us, seed, now)
        job.time_limit_us = time_limit_us
        job.tags = tuple(tags)
        self.jobs[job.id] = job
        if time_limit_us is not None:
            data = {**data, "time_limit_us": time_limit_us}
        if seed is not None:
            data = {**data, "seed": seed}
        if tags:
            data = {**data, "tags": ",".join(tags)}
        self.trace.emit(now, self.qpu, "job", job.id, "create", dest=QUEUED,
                        session=job.session_id, instance=instance, kind=kind,
                        duration_us=duration_us, extra={**data, **self._origin()})
        if any("," in tag for tag in tags):  # the create record's list would not read back
            self._tags_record(job, on_create=True)
        if session is not None:
            session.jobs.append(job)
            session.queue.append(job)
            session.queued += 1
            self._session_step(session, step)  # in_flight counts the new job, as everywhere
            self._cancel_timer(session, "ittl")
            self._cancel_timer(session, "idle_close")
        if session is None or not session.is_active:
            self.normal[instance].append(job)
        self.queued_count += 1
        self.dispatch()
        return job

    @_atomic
    def cancel_job(self, job: JobRecord) -> None:
        """Cancel a queued or running job now; a final job raises RuntimeInvalidStateError."""
        if job.is_final:
            raise RuntimeInvalidStateError(
                f"Job {job.id} cannot be cancelled: it is already {job.state}."
            )
        now = self.now()
        by = self._origin()
        origin = " (from a timer callback)" if by else ""
        if job.state == QUEUED:
            self._end_queued(job, "cancel", now, reason=USER_CANCEL + origin, **by)
            self._after_job_left(job, "cancel", now)
        else:
            assert job is self.running
            if job.finish_timer is not None:
                self._trace_timer("timer_cancel", job.finish_timer, job=job.id)
                job.finish_timer.cancel()
            self._end_running(job, "cancel", now, reason=USER_CANCEL + " while running" + origin,
                              **by)
        self.dispatch()

    @_atomic
    def set_tags(self, job: JobRecord, tags: Sequence[str]) -> None:
        """Replace a job's tags (recorded, so a replay of the trace restores them)."""
        job.tags = tuple(tags)
        self._tags_record(job)

    def _tags_record(self, job: JobRecord, on_create: bool = False) -> None:
        extra = {"on_create": True} if on_create else {}
        self.trace.emit(self.now(), self.qpu, "qpu", self.qpu, "job_tags", job=job.id,
                        tags=json.dumps(list(job.tags)), extra=extra)

    @_atomic
    def delete_job(self, job: JobRecord) -> None:
        """Delete a final job: it leaves listings and lookups (its records stay)."""
        if not job.is_final:
            raise RuntimeInvalidStateError(
                f"job {job.id} is {job.state}; only a final job can be deleted")
        if job.deleted:
            return
        job.deleted = True
        self.trace.emit(self.now(), self.qpu, "qpu", self.qpu, "job_delete", job=job.id)

    @_atomic
    def restart(self, restarts: int, reason: str = RESTART_ERROR) -> None:
        """The platform came back after it stopped: record it; a job that was running fails.

        The running job's execution is gone with the process that ran it, so it ends now
        as IBM ends a job the service failed to run (``RESTART_ERROR``, billed 0); queued
        jobs stay queued in their order and the next one starts.
        """
        now = self.now()
        self.trace.emit(now, self.qpu, "qpu", self.qpu, "restart", restarts=restarts)
        job = self.running
        if job is not None:
            if job.finish_timer is not None:
                self._trace_timer("timer_cancel", job.finish_timer, job=job.id)
                job.finish_timer.cancel()
                job.finish_timer = None
            job.outcome = None
            job.error = reason
            self._end_running(job, "fail", now, reason=reason)
        self.dispatch()

    @contextmanager
    def rebinding(self, job: JobRecord) -> Iterator[JobRecord]:
        """Within the block, the next ``submit`` gives its payload to ``job`` and queues nothing.

        A job recovered from a trace has no payload (inputs live outside the trace):
        redoing the call that submitted it, inside this block, rebuilds exactly what the
        first call built (options, duration, pubs) without a second job.
        """
        with self.clock.instant():
            self._rebinding = job
            try:
                yield job
            finally:
                self._rebinding = None

    # -- dispatch --------------------------------------------------------------------

    def dispatch(self) -> None:
        """Start the next eligible job if the QPU is free (the dispatch rule's order)."""
        if self.running is not None:
            return
        chosen = self._select()
        if chosen is None:
            return
        job, via, extra = chosen
        self._start(job, via, extra)

    def _select(self) -> tuple[JobRecord, str, dict[str, Any]] | None:
        now = self.now()
        active = self.active_session
        shares: dict[str, float] = {}

        def normal_heads() -> Iterator[tuple[float, int, JobRecord]]:
            for instance, queue in self.normal.items():
                while queue and not normal_eligible(queue[0]):
                    queue.popleft()
                if queue and not self._over_quota(instance, now):
                    shares[instance] = self.fair_share.ratio(instance, now)
                    yield shares[instance], queue[0].seq, queue[0]

        def batch_heads() -> Iterator[JobRecord | None]:
            for batch in self.active_batches:
                head = batch.head()
                yield None if head is None or self._over_quota(batch.instance, now) else head

        decision = select(
            active is not None,
            None if active is None else active.head(),
            batch_heads(),
            normal_heads(),
        )
        if decision.action == "hold":
            assert active is not None
            if self._hold_since is None:
                self._hold_since = now
                self.trace.emit(now, self.qpu, "qpu", self.qpu, "hold", session=active.id)
            return None
        if decision.job is None or decision.via is None:
            return None
        job = decision.job
        extra = {"share_ratio": shares[job.instance]} if decision.via == "normal" else {}
        return job, decision.via, extra

    def _over_quota(self, instance: str, now: int) -> bool:
        """True while an instance with a quota has used it up; the trace says so once."""
        quota = self._quota_us.get(instance)
        if quota is None:
            return False
        used = self.fair_share.used(instance, now)
        if used < quota:
            return False
        if instance not in self._quota_held:
            # Its jobs wait QUEUED (a Decision); a timer re-dispatches when use leaves the window.
            at = self.fair_share.below_at(instance, quota, now)
            timer = self.clock.call_at(at, lambda: self._quota_released(instance),
                                       priority=PRIO_QUOTA, label=f"quota {instance}")
            self._quota_held[instance] = timer
            self.trace.emit(now, self.qpu, "qpu", self.qpu, "quota_hold", instance=instance,
                            extra={"used_us": used, "quota_us": quota, "until_us": at,
                                   "reason": f"instance {instance} used {used / 1e6:g}s of its "
                                             f"{quota / 1e6:g}s quota in the rolling window; "
                                             "its jobs wait QUEUED"})
        return True

    def _quota_released(self, instance: str) -> None:
        self._quota_held.pop(instance, None)
        self.trace.emit(self.now(), self.qpu, "qpu", self.qpu, "quota_release", instance=instance,
                        extra={"used_us": self.fair_share.used(instance, self.now())})

    def _start(self, job: JobRecord, via: str, extra: dict[str, Any]) -> None:
        now = self.now()
        self.trace.emit(now, self.qpu, "qpu", self.qpu, "dispatch", session=job.session_id,
                        instance=job.instance, job=job.id, via=via, extra=extra)
        self._job_step(job, job.lifecycle.fire("start"))
        job.running = now
        self.running = job
        self.queued_count -= 1
        if via == "normal":
            self.normal[job.instance].popleft()
        s = job.session
        if s is not None:
            if s.head() is job:
                s.queue.popleft()
            s.queued -= 1
            s.running += 1
            s.last_job_started = now
            told = self.coupling.on_job.get("start")
            if told is not None:
                step = self._session_event(s, told)
                if step.changed:
                    self._activated(s, step, now)
        self._release_hold(now)
        run_for = job.duration_us
        limited = job.time_limit_us is not None and job.duration_us > job.time_limit_us
        if limited:
            assert job.time_limit_us is not None
            run_for = job.time_limit_us  # stopped at the limit; its circuits never complete
            job.error = MAX_TIME_ERROR
        # The finish timer is set before the execution runs, so a job whose execution is
        # interrupted (Ctrl-C) or cannot start still ends, at its modeled end, in ERROR.
        job.finish_timer = self.clock.call_at(
            now + run_for, lambda: self._on_finish(job), priority=PRIO_FINISH,
            label=f"finish {job.id}",
        )
        self._trace_timer("timer_set", job.finish_timer, job=job.id)
        if not limited:
            self._execute(job)

    def _execute(self, job: JobRecord) -> None:
        if self.executor is _null_executor:
            return
        try:
            self._run_execution(job)
        except BaseException as interrupt:  # Ctrl-C meanwhile: end the job, then stop
            self._abandon_worker(job)
            job.outcome = None
            job.result = None
            job.error = (f"QPU fault: the execution was interrupted "
                         f"({type(interrupt).__name__}) and abandoned")
            raise

    def _run_execution(self, job: JobRecord) -> None:
        if self.inline_executions:  # an instant executor (a replay's recorded outcomes)
            try:
                job.result = self.executor(job.payload, job.seed)
            except Exception as failure:
                job.error = _describe(failure)
            return
        future = self._submit_execution(job)
        if future is None:
            return
        if not self._virtual:
            job.outcome = future
            if self.execution_timeout is not None:
                self._watch(job, future)
            return
        done, _ = wait([future], timeout=self.execution_timeout)
        if not done:
            self._abandon_worker(job)
            return
        err = future.exception()
        if err is None:
            job.result = future.result()
        else:  # any execution failure (even SystemExit in the worker) fails this job only
            job.error = _describe(err)

    def _watch(self, job: JobRecord, future: Future[Any]) -> None:
        """Real time: abandon the execution if it outlasts ``execution_timeout``.

        The watchdog thread ends as soon as the execution does (it is cancelled then),
        so only running executions have one.
        """
        assert self.execution_timeout is not None
        watchdog = threading.Timer(self.execution_timeout, self._abandon, (job, future))
        watchdog.daemon = True
        try:
            watchdog.start()
        except RuntimeError:  # no thread to spare: the execution runs unwatched
            return
        future.add_done_callback(lambda _f: watchdog.cancel())

    def _submit_execution(self, job: JobRecord) -> Future[Any] | None:
        error = "no worker could be started"
        for _attempt in range(2):
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"qsession-{self.qpu}")
            try:
                return self._pool.submit(self.executor, job.payload, job.seed)
            except RuntimeError as err:  # shut down, broken, or no thread can be started
                error = str(err) or type(err).__name__
                self._pool = None  # make a new one
        job.error = (f"QPU fault: no worker could be started to run the job's circuits "
                     f"({error})")
        return None

    def _abandon_worker(self, job: JobRecord) -> None:
        """The simulation hung: fail the job and give the QPU a fresh worker thread."""
        job.error = (f"QPU fault: execution did not finish within {self.execution_timeout:g} s "
                     "of wall time and was abandoned")
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)  # the hung thread is left
        self._pool = None

    def _abandon(self, job: JobRecord, future: Future[Any]) -> None:
        """Real time: the simulation still runs ``execution_timeout`` after it started."""
        with self.clock.instant():
            if job.outcome is not future or future.done():
                return
            job.outcome = None
            self._abandon_worker(job)
            if job.state == RUNNING and job.finish_timer is None:  # its modeled time is over
                self._end_running(job, "fail", self.now(), reason=job.error)
                self.clock.run_hooks()

    def _on_finish(self, job: JobRecord) -> None:
        self._trace_timer("timer_fire", job.finish_timer, job=job.id)
        job.finish_timer = None
        future = job.outcome
        if isinstance(future, Future) and not future.done():
            # Real time: the model duration is over but the simulation is not; end the
            # job when the simulation does.
            future.add_done_callback(lambda _f: self._finish_late(job))
            return
        self._complete(job)

    def _finish_late(self, job: JobRecord) -> None:
        with self.clock.instant():
            if job.state == RUNNING and isinstance(job.outcome, Future):
                self._complete(job)
                self.clock.run_hooks()

    def _complete(self, job: JobRecord) -> None:
        future = job.outcome
        if isinstance(future, Future):
            err = future.exception()
            if err is None:
                job.result = future.result()
            else:
                job.error = _describe(err)
            job.outcome = None
        now = self.now()
        if job.error is None:
            self._end_running(job, "finish", now)
        else:
            self._end_running(job, "fail", now, reason=job.error)

    # -- endings ---------------------------------------------------------------------

    def _end_running(self, job: JobRecord, event: str, now: int, reason: str | None = None,
                     **origin: Any) -> None:
        assert job.running is not None
        job.finished = now
        job.held_us = now - job.running
        s = job.session
        # What the end bills and charges is the model's rule; the trace records both, and
        # the span charged (from the job's start), so that no reader works them out again.
        charge = job_charge(end_cause(event, reason), job.held_us,
                            None if s is None else s.mode)
        job.usage_us = charge.usage_us
        charged: dict[str, Any] = {"usage_us": charge.usage_us,
                                   "charged_us": charge.charged_us}
        if charge.charged_us:
            charged["from_us"] = job.running
        self._job_step(job, job.lifecycle.fire(event), reason=reason, **charged, **origin)
        self.running = None
        self.busy_us += job.held_us
        if charge.charged_us:
            self.fair_share.record(job.instance, job.running, job.running + charge.charged_us)
        if s is not None:
            s.running -= 1
            if s.meter_job is job:  # the session ended while this job ran: its span ends now
                s.meter_job = None
                self._bill(s, now)
        self._after_job_left(job, event, now)

    def _end_queued(self, job: JobRecord, event: str, now: int, reason: str,
                    **origin: Any) -> None:
        self._job_step(job, job.lifecycle.fire(event), reason=reason, **origin)
        job.finished = now
        job.error = reason if event == "expire" else None
        self.queued_count -= 1
        if job.session is not None:
            job.session.queued -= 1

    def _after_job_left(self, job: JobRecord, event: str, now: int) -> None:
        s = job.session
        if s is None:
            return
        s.last_job_completed = now
        told = self.coupling.on_job.get(event)
        if s.lifecycle.is_final or told is None:
            return  # a job that ran on after its session expired or was cancelled
        step = self._session_event(s, told)
        if step.changed:  # drained after close(): closed at once, no ITTL wait
            self._session_ended(s)
        elif s.is_active and s.in_flight == 0:
            s.ittl_timer = self.clock.call_at(
                self._ittl_deadline(s, job, now), lambda: self._on_ittl(s), priority=PRIO_ITTL,
                label=f"ittl {s.id}",
            )
            self._trace_timer("timer_set", s.ittl_timer, session=s.id)

    # -- timers ----------------------------------------------------------------------

    def _on_ittl(self, s: SessionRecord) -> None:
        self._trace_timer("timer_fire", s.ittl_timer, session=s.id)
        s.ittl_timer = None
        now = self.now()
        self._session_event(s, "ittl_elapsed")
        s.deactivations += 1
        self._deactivated(s, now)

    def _on_max_ttl(self, s: SessionRecord) -> None:
        self._trace_timer("timer_fire", s.maxttl_timer, session=s.id)
        s.maxttl_timer = None
        self._session_event(s, "max_time_reached")
        self._session_ended(s)

    def _on_idle_close(self, s: SessionRecord) -> None:
        self._trace_timer("timer_fire", s.idle_close_timer, session=s.id)
        s.idle_close_timer = None
        self._session_event(s, "idle_close_elapsed", {"submitted": len(s.jobs)})
        self._session_ended(s)

    def _cancel_timer(self, s: SessionRecord, which: str) -> None:
        attr = {"ittl": "ittl_timer", "max_ttl": "maxttl_timer",
                "idle_close": "idle_close_timer"}[which]
        timer = getattr(s, attr)
        if timer is not None:
            timer.cancel()
            self._trace_timer("timer_cancel", timer, session=s.id)
            setattr(s, attr, None)

    # -- activation bookkeeping ------------------------------------------------------

    def _activated(self, s: SessionRecord, step: Step, now: int) -> None:
        s.activated_at = now
        if step.source == PENDING:
            s.started_at = now
            s.maxttl_timer = self.clock.call_at(
                self._max_ttl_deadline(s), lambda: self._on_max_ttl(s), priority=PRIO_EXPIRE,
                label=f"max_ttl {s.id}",
            )
            self._trace_timer("timer_set", s.maxttl_timer, session=s.id)
        if s.lifecycle.reserves_qpu:
            self.active_session = s
        else:
            # Started batches are served in the model's batch order.
            self.active_batches.append(s)
            order = self.coupling.batch_order
            self.active_batches.sort(key=lambda b: order(b.started_at or 0, b.created_at, b.id))

    def _max_ttl_deadline(self, s: SessionRecord) -> int:
        """When a started session expires: its first job's start plus its max time."""
        assert s.started_at is not None
        return s.started_at + s.max_time_us

    def _ittl_deadline(self, s: SessionRecord, job: JobRecord, now: int) -> int:
        """When an active session left idle at ``now`` by ``job`` deactivates: a full ITTL
        from the moment nothing of it is queued or running."""
        return now + s.ittl_us

    def _deactivated(self, s: SessionRecord, now: int) -> None:
        """``s`` left the active state (ITTL, or it ended while active)."""
        if bills_active_spans(s.mode):
            running = self.running
            if span_runs_on(s.lifecycle.is_final, running is not None and running.session is s):
                s.meter_job = running  # billed on until its job completes
            else:
                self._bill(s, now)
        if self.active_session is s:
            self._release_hold(now)
            self.active_session = None
        elif s in self.active_batches:
            self.active_batches.remove(s)

    def _bill(self, s: SessionRecord, now: int) -> None:
        """Close a dedicated session's active span at ``now``: usage and fair share."""
        if s.activated_at is None:
            return
        span = now - s.activated_at
        s.usage_us += span
        self.fair_share.record(s.instance, s.activated_at, now)
        self.trace.emit(now, self.qpu, "qpu", self.qpu, "bill", session=s.id,
                        instance=s.instance, extra={"from_us": s.activated_at, "span_us": span,
                                                    "usage_us": s.usage_us})

    def _session_ended(self, s: SessionRecord) -> None:
        now = self.now()
        was_active = s in self.active_batches or self.active_session is s
        self._cancel_timer(s, "ittl")
        self._cancel_timer(s, "max_ttl")
        self._cancel_timer(s, "idle_close")
        s.closed_at = now
        if was_active:
            self._deactivated(s, now)

    def _release_hold(self, now: int) -> None:
        if self._hold_since is not None:
            assert self.active_session is not None
            self.active_session.reserved_idle_us += now - self._hold_since
            self.trace.emit(now, self.qpu, "qpu", self.qpu, "release",
                            session=self.active_session.id,
                            held_us=now - self._hold_since)
            self._hold_since = None

    # -- the coupling rules ----------------------------------------------------------

    def _session_event(self, s: SessionRecord, event: str,
                       extra: dict[str, Any] | None = None) -> Step:
        """Fire a session event with the facts it takes, record it, and do to the
        session's jobs what the coupling rules say that event does."""
        takes = _FACTS[event]
        if not takes:  # job_started, cancel, max_time_reached take no fact
            step = s.lifecycle.fire(event)
        elif takes == ("in_flight",):  # job_ended, close, ittl_elapsed (the hot path)
            step = s.lifecycle.fire(event, in_flight=s.in_flight)
        else:
            known = {"in_flight": s.in_flight, "submitted": len(s.jobs)}
            step = s.lifecycle.fire(event, **{name: known[name] for name in takes})
        self._session_step(s, step, **(extra or {}))
        rule = self.coupling.on_session.get(event)  # None: the event leaves its jobs alone
        if rule is not None and (rule.queued is not None or rule.running is not None):
            self._end_session_jobs(s, rule)
        return step

    def _end_session_jobs(self, s: SessionRecord, rule: SessionJobRule) -> None:
        now = self.now()
        reason = rule.reason or f"session {rule.event}"
        if rule.queued is not None:
            for job in list(s.queue):
                if job.state == QUEUED:
                    self._end_queued(job, rule.queued, now, reason=reason)
            s.queue.clear()
        running = self.running
        if rule.running is not None and running is not None and running.session is s:
            if running.finish_timer is not None:
                self._trace_timer("timer_cancel", running.finish_timer, job=running.id)
                running.finish_timer.cancel()
                running.finish_timer = None
            self._end_running(running, rule.running, now, reason=reason)

    # -- trace helpers ---------------------------------------------------------------

    def _name(self, kind: Kind, seq: int) -> str:
        """The id of object number ``seq``, created now."""
        seconds = int(self.clock.epoch.timestamp()) + self.now() // 1_000_000
        return self._names.name(kind, seq, seconds)

    def _session_step(self, s: SessionRecord, step: Step, **origin: Any) -> None:
        if step.changed:
            s.history.append((step.dest, self.now()))
        self.trace.emit(self.now(), self.qpu, "session", s.id, step.event, source=step.source,
                        dest=step.dest, instance=s.instance,
                        accepting_jobs=s.lifecycle.accepting_jobs, in_flight=s.in_flight,
                        extra=origin)

    def _origin(self) -> dict[str, Any]:
        """Marks a user operation made from a timer callback (replay must redo it there)."""
        if not self.clock.in_timers:
            return {}
        # A callback set for "now" after the instant settled runs after its dispatch.
        return {"by": "callback", "late": True} if self.clock.late else {"by": "callback"}

    def _job_step(self, job: JobRecord, step: Step, reason: str | None = None,
                  **data: Any) -> None:
        extra: dict[str, Any] = dict(data)
        if reason is not None:
            extra["reason"] = reason
        self.trace.emit(self.now(), self.qpu, "job", job.id, step.event, source=step.source,
                        dest=step.dest, session=job.session_id, instance=job.instance,
                        extra=extra)

    def _trace_timer(self, event: str, timer: Timer | None, *, session: str | None = None,
                     job: str | None = None) -> None:
        if timer is None:
            return
        kind = timer.label.split(" ", 1)[0]
        extra = {} if job is None else {"job": job}
        self.trace.emit(self.now(), self.qpu, "qpu", self.qpu, event, session=session,
                        timer=kind, at_us=timer.at, extra=extra)

    def shutdown(self) -> None:
        """Stop the worker thread (wall clock) once no job runs."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


_FACTS = {spec.name: spec.facts for spec in SESSION_TABLE.events}
"""The facts each session event takes (looked up once, not on every event)."""


def _describe(err: BaseException) -> str:
    """A failed execution's error message (an exception may carry its own, as replay's do)."""
    own = getattr(err, "job_error", None)
    return own if isinstance(own, str) else f"{type(err).__name__}: {err}"


def normal_eligible(job: JobRecord) -> bool:
    """A job at the head of the normal queue may still be taken from it."""
    # Once its session is active, the job is served from the session's own queue.
    if job.state != QUEUED:
        return False
    return in_normal_queue(None if job.session is None else job.session.state)
