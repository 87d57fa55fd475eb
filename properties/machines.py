"""Hypothesis stateful machines: random session/job/timeout interleavings, invariants every step.

``RuntimeMachine`` drives the full runtime (virtual clock, scheduler, Aer QPU) through
the public API: open sessions and batches, submit to them, submit background job-mode
work on two instances, let time pass (steered to just before, at and just after the
ITTL, max-TTL and job-end instants), wait for results, close, cancel and cancel jobs.
After every step every invariant is checked on the trace so far; at the end the run
is driven to idle and checked once more, progress included.

The timeouts are short (ITTL 2 s, max time 5–60 s, jobs 0.5–5 s on a 0.5 s grid) so that expiry,
cancel with queued jobs, reactivation and contention between sessions are common; each
is counted with ``hypothesis.event`` (see ``--hypothesis-show-statistics``).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from qsession.model import QUEUED
from qsession.runtime import (
    QPU,
    Batch,
    IBMRuntimeError,
    LocalService,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
    RuntimeJobTimeoutError,
    RuntimeJobV2,
    SamplerV2,
    Session,
)
from qsession.runtime.clock import ClockError, to_us
from qsession.runtime.records import SessionRecord
from qsession.runtime.timing import TimingModel

from . import strategies as qs
from .invariants import INVARIANTS, Monitor, Report, Violation
from .reported import reported, run_until_idle_stop

ITTL = 2.0
BATCH_ITTL = 1.0
IDLE_CLOSE = 8.0
"""Unused sessions close after 8 s here (IBM: 30 min), so that it happens in most runs."""
INSTANCES = {"a": 2.0, "b": 1.0}
WINDOW = 6.0
"""A fair-share window shorter than most runs, so spans leave it (wholly or in part)."""
MAX_SESSIONS = 4
MAX_JOBS = 16


@dataclass(frozen=True, slots=True)
class GridTiming(TimingModel):
    """The timing model rounded up to a grid, so job ends coincide with timer deadlines.

    Ties at one instant (a job ending exactly at its session's max TTL or at another
    session's ITTL) are where ordering bugs hide; on a 0.5 s grid they are common.
    """

    grid_s: float = 0.5

    def job_microseconds(self, executions: Iterable[tuple[float, int]],
                         sub_jobs: int = 1) -> int:
        """The modeled time, rounded up to the grid."""
        grid = to_us(self.grid_s)
        return -(-TimingModel.job_microseconds(self, executions, sub_jobs) // grid) * grid


# Time moves on the same grid (and by ±1 µs around timer deadlines), so job ends, expiries
# and ITTL deadlines coincide often.
GRID_STEPS = st.integers(1, 10).map(lambda k: k * 0.5)
GRID_THINK = st.one_of(st.sampled_from([0.0, ITTL - 1e-6, ITTL, ITTL + 1e-6]), GRID_STEPS)

TIMING = GridTiming(sub_job_overhead_s=0.2, rep_delay_s=1e-2)
"""Slow shots on a 0.5 s grid: long jobs from cheap simulations (0.5 s to 5 s)."""
COVERAGE_EVENTS = ("expiry", "cancel with queued jobs", "reactivation", "contention",
                   "idle close", "submit inside ITTL", "close with queued jobs",
                   "non-default instance", "several active batches", "span past window edge",
                   "with-block left by an exception", "user callback")

coverage: Counter[str] = Counter()
"""In how many runs (examples) each rare situation was reached, in this process."""


@dataclass
class RunStats:
    """Totals over the stateful runs of this process: examples, invariant checks."""

    examples: int = 0
    checks: Counter[str] = field(default_factory=Counter)
    examples_checked: Counter[str] = field(default_factory=Counter)

    def add(self, report: Report) -> None:
        """Count one finished example."""
        self.examples += 1
        for inv, n in report.checks.items():
            self.checks[inv] += n
            if n:
                self.examples_checked[inv] += 1


stats = RunStats()
"""Totals of every RuntimeMachine run in this process (``qsession verify`` prints them)."""


class InvariantViolated(AssertionError):
    """An invariant broke during a stateful run; the message lists the violations."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.ids = sorted({v.invariant for v in report.violations})
        lines = "\n".join(f"  {v}" for v in report.violations[:10])
        super().__init__(f"invariant(s) violated: {', '.join(self.ids)}\n{lines}")

    @classmethod
    def single(cls, invariant: str, t: int, message: str) -> InvariantViolated:
        """A violation seen directly by a rule (through the API) rather than in the trace."""
        return cls(Report([Violation(invariant, t, message)]))


class RuntimeMachine(RuleBasedStateMachine):
    """The full runtime under random job/timeout interleavings."""

    monitored: tuple[str, ...] | None = None
    """Invariant ids to check (None: all); a subclass may watch one to test it alone."""

    def __init__(self) -> None:
        super().__init__()
        self.qpu = QPU.ideal("stateful_qpu", num_qubits=3, timing=TIMING)
        self.service = LocalService(seed=0, backends=[self.qpu], interactive_timeout=ITTL,
                                    batch_interactive_timeout=BATCH_ITTL, instances=INSTANCES,
                                    idle_close_timeout=IDLE_CLOSE,
                                    fair_share_window=WINDOW)
        self.scheduler = self.service.scheduler_of(self.qpu)
        self.monitor = Monitor(None if self.monitored is None else
                               [i for i in self.monitored if i in INVARIANTS])
        self.sessions: list[Session] = []
        self.samplers: list[SamplerV2] = []
        self.jobs: list[RuntimeJobV2] = []
        self.background = {name: SamplerV2(mode=self.qpu, instance=name)
                           for name in INSTANCES}
        self.seen = 0
        self.reached: set[str] = set()
        self.api_checks: Counter[str] = Counter()

    # -- rules -----------------------------------------------------------------------

    @initialize(max_time=qs.max_times(), second=qs.max_times(), batch=st.booleans(),
                shots=qs.shots(), n=st.integers(1, 3))
    def first_sessions(self, max_time: float, second: float, batch: bool, shots: int,
                       n: int) -> None:
        """Every run starts with a dedicated session holding ``n`` jobs, and a second one."""
        self.open_session(False, max_time)
        self.open_session(batch, second)
        pub = (qs.CIRCUITS["bell"],)
        self.jobs.extend(self.samplers[0].run([pub], shots=shots) for _ in range(n))

    @precondition(lambda self: len(self.sessions) < MAX_SESSIONS)
    @rule(batch=st.booleans(), max_time=qs.max_times(),
          instance=st.sampled_from([None, *sorted(INSTANCES)]))
    def open_session(self, batch: bool, max_time: float, instance: str | None = None) -> None:
        """Open a Session or a Batch (on the default instance or a named one)."""
        session = (Batch if batch else Session)(self.qpu, max_time=max_time, instance=instance)
        if session._record.instance != self.scheduler.settings.default_instance:
            self._reached("non-default instance")
        self.sessions.append(session)
        self.samplers.append(SamplerV2(mode=session))

    @precondition(lambda self: len(self.sessions) <= MAX_SESSIONS - 2
                  and len(self.jobs) < MAX_JOBS - 3)
    @rule(max_time=qs.max_times(), shots=qs.shots())
    def batches_together(self, max_time: float, shots: int) -> None:
        """Two batches with queued jobs, both active at once: the first started goes first.

        The first batch's job runs, the second's first job starts when it ends; right then
        the first batch (active, within its ITTL) gets another job, so both wait together.
        """
        pub = (qs.CIRCUITS["bell"],)
        for n in (1, 2):
            self.open_session(True, max_time)
            self.jobs.extend(self.samplers[-1].run([pub], shots=shots) for _ in range(n))
        first = self.jobs[-3]
        self._settle(first)
        if self.sessions[-2]._record.lifecycle.accepting_jobs:
            self.jobs.append(self.samplers[-2].run([pub], shots=shots))

    @precondition(lambda self: len(self.sessions) < MAX_SESSIONS and len(self.jobs) < MAX_JOBS)
    @rule(batch=st.booleans(), max_time=qs.max_times(), raises=st.booleans(), shots=qs.shots())
    def with_block(self, batch: bool, max_time: float, raises: bool, shots: int) -> None:
        """User code in a ``with`` block submits a job and may raise; leaving closes it."""
        class UserError(Exception):
            pass

        session = (Batch if batch else Session)(self.qpu, max_time=max_time)
        sampler = SamplerV2(mode=session)
        with contextlib.suppress(UserError), session:
            self.jobs.append(sampler.run([(qs.CIRCUITS["bell"],)], shots=shots))
            if raises:
                self._reached("with-block left by an exception")
                raise UserError("user code failed inside the session")
        self.sessions.append(session)
        self.samplers.append(sampler)
        self.monitor.sync(self.service.trace, self.service.clock.now())
        view = self.monitor.state.sessions.get(session.session_id)
        # qiskit_ibm_runtime/session.py, Session.__exit__: close(), however the block was left.
        self.api_checks["INV-WITH-CLOSES"] += 1
        self._expect(view is not None and (not view.accepting or view.is_final),
                     "INV-WITH-CLOSES", f"session {session.session_id} was left by "
                     f"{'an exception' if raises else 'the end of its block'} and the trace "
                     "shows no close()")

    @precondition(lambda self: self.sessions and len(self.jobs) < MAX_JOBS)
    @rule(index=st.integers(0, MAX_SESSIONS - 1), delay=GRID_THINK,
          action=st.sampled_from(["submit", "close"]), shots=qs.shots())
    def user_callback(self, index: int, delay: float, action: str, shots: int) -> None:
        """User code runs from a timer (``service.call_later``): it submits or closes then.

        The callback runs inside an instant, among the scheduler's own timers due then.
        """
        i = index % len(self.sessions)

        def act() -> None:
            self._reached("user callback")
            record = self.sessions[i]._record
            if action == "close":
                self.sessions[i].close()
            elif record.lifecycle.accepting_jobs:
                self.jobs.append(self.samplers[i].run([(qs.CIRCUITS["bell"],)], shots=shots))

        self.service.call_later(delay, act)

    @precondition(lambda self: self.sessions and len(self.jobs) < MAX_JOBS)
    @rule(index=st.integers(0, MAX_SESSIONS - 1), pub=qs.sampler_pubs(), shots=qs.shots(),
          prefer=st.sampled_from(["any", "inactive", "inactive", "waiting", "closing"]))
    def submit(self, index: int, pub: tuple[Any, ...], shots: int, prefer: str) -> None:
        """Submit to a session; a session that does not accept jobs must refuse.

        ``prefer`` steers toward rare paths: an ``inactive`` session (reactivation through
        the normal queue), a dedicated session ``waiting`` while another one is active, or
        a ``closing`` one (which must refuse).
        """
        i = self._pick(index, prefer)
        record = self.sessions[i]._record
        before = len(self.service.all_jobs())
        if not record.lifecycle.accepting_jobs:
            try:
                self.samplers[i].run([pub], shots=shots)
            except IBMRuntimeError as err:
                self._expect("The session is closed" in str(err), "INV-CLOSED-REJECTS",
                             f"refusal does not say the session is closed: {err}")
                self._expect(len(self.service.all_jobs()) == before, "INV-CLOSED-REJECTS",
                             "a refused submission created a job")
                return
            raise InvariantViolated.single(
                "INV-CLOSED-REJECTS", self.service.clock.now(),
                f"session {record.id} ({record.state}, not accepting) accepted a job")
        other = self.scheduler.active_session
        if other is not None and other is not record and record.mode == "dedicated":
            self._reached("contention")
        if record.ittl_timer is not None and not record.ittl_timer.cancelled:
            self._reached("submit inside ITTL")
        self.jobs.append(self.samplers[i].run([pub], shots=shots))

    @precondition(lambda self: self.sessions and len(self.jobs) < MAX_JOBS - 3)
    @rule(index=st.integers(0, MAX_SESSIONS - 1), n=st.integers(2, 3), shots=qs.shots())
    def burst(self, index: int, n: int, shots: int) -> None:
        """Submit several jobs at once to one session (so some of them queue)."""
        i = index % len(self.sessions)
        if self.sessions[i]._record.lifecycle.accepting_jobs:
            pub = (qs.CIRCUITS["bell"],)
            self.jobs.extend(self.samplers[i].run([pub], shots=shots) for _ in range(n))

    def _pick(self, index: int, prefer: str) -> int:
        """A session index, steered by ``prefer`` when some session fits (else any)."""
        records = [s._record for s in self.sessions]
        active = self.scheduler.active_session
        fits: dict[str, Callable[[SessionRecord], bool]] = {
            "inactive": lambda r: r.lifecycle.accepting_jobs and r.state == "inactive",
            "waiting": lambda r: (r.lifecycle.accepting_jobs and active is not None
                                  and r is not active and r.mode == "dedicated"),
            "closing": lambda r: not r.lifecycle.accepting_jobs and not r.lifecycle.is_final,
            "busy": lambda r: r.queued > 0 and not r.lifecycle.is_final,
        }
        if prefer in fits:
            matches = [k for k, r in enumerate(records) if fits[prefer](r)]
            if matches:
                return matches[index % len(matches)]
        return index % len(records)

    @precondition(lambda self: len(self.jobs) < MAX_JOBS)
    @rule(instance=st.sampled_from(sorted(INSTANCES)), pub=qs.sampler_pubs(), shots=qs.shots())
    def submit_background(self, instance: str, pub: tuple[Any, ...], shots: int) -> None:
        """Submit a job-mode job on one of two instances (fair share)."""
        self.jobs.append(self.background[instance].run([pub], shots=shots))

    @precondition(lambda self: len(self.jobs) < MAX_JOBS - 4)
    @rule(instances=st.lists(st.sampled_from(sorted(INSTANCES)), min_size=2, max_size=4),
          shots=qs.shots())
    def background_burst(self, instances: list[str], shots: int) -> None:
        """Other tenants submit several job-mode jobs at once (the normal queue fills)."""
        pub = (qs.CIRCUITS["bell"],)
        self.jobs.extend(self.background[i].run([pub], shots=shots) for i in instances)

    @rule(timer=st.sampled_from(["ittl", "max_ttl", "finish", "idle_close", "step"]),
          offset=st.sampled_from([-1, 0, 1]), step=GRID_STEPS)
    def advance(self, timer: str, offset: int, step: float) -> None:
        """Let time pass, to just before, at or just after the next timer of a kind."""
        now = self.service.clock.now()
        deadline = self._next_timer(timer)
        if deadline is None or deadline + offset <= now:
            self.service.advance(step)
        else:
            self.service.advance((deadline + offset - now) / 1e6)

    @precondition(lambda self: self.sessions)
    @rule(index=st.integers(0, MAX_SESSIONS - 1), think=GRID_THINK, resume=st.booleans(),
          shots=qs.shots())
    def think(self, index: int, think: float, resume: bool, shots: int) -> None:
        """A classical step: wait for a session's jobs, think (around the ITTL), resume.

        This is the VQE loop's rhythm; thinking past the ITTL and resuming is the path to
        deactivation and reactivation through the normal queue.
        """
        i = index % len(self.sessions)
        record = self.sessions[i]._record
        for job in [j for j in self.jobs if j._record.session is record]:
            self._settle(job)
        self.service.advance(think)
        if resume and record.lifecycle.accepting_jobs and len(self.jobs) < MAX_JOBS:
            if record.ittl_timer is not None and not record.ittl_timer.cancelled:
                self._reached("submit inside ITTL")
            self.jobs.append(self.samplers[i].run([(qs.CIRCUITS["bell"],)], shots=shots))

    def _idle_in_ittl(self) -> list[int]:
        """Sessions that are active, idle, and within their ITTL window (timer pending)."""
        return [k for k, s in enumerate(self.sessions)
                if (t := s._record.ittl_timer) is not None and not t.cancelled
                and s._record.lifecycle.accepting_jobs]

    @precondition(lambda self: self._idle_in_ittl() and len(self.jobs) < MAX_JOBS)
    @rule(index=st.integers(0, MAX_SESSIONS - 1), part=st.sampled_from([0.0, 0.5, 1.0]),
          shots=qs.shots())
    def submit_inside_ittl(self, index: int, part: float, shots: int) -> None:
        """Resume an idle active session before its ITTL runs out (at once, halfway, or
        1 µs before): the job must go first, and the ITTL timer stop."""
        candidates = self._idle_in_ittl()
        i = candidates[index % len(candidates)]
        timer = self.sessions[i]._record.ittl_timer
        assert timer is not None
        left = timer.at - self.service.clock.now()
        wait = max(0, left - 1) if part == 1.0 else int(left * part)
        if wait:
            self.service.advance(wait / 1e6)
        record = self.sessions[i]._record
        if record.ittl_timer is timer and record.lifecycle.accepting_jobs:
            self._reached("submit inside ITTL")
            self.jobs.append(self.samplers[i].run([(qs.CIRCUITS["bell"],)], shots=shots))

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(0, MAX_JOBS - 1))
    def wait_result(self, index: int) -> None:
        """Wait for a job's result (virtual time jumps to its end)."""
        self._settle(self.jobs[index % len(self.jobs)])

    def _settle(self, job: RuntimeJobV2) -> None:
        """Wait for ``job`` and check that its result matches its status."""
        try:
            job.result()
        except (RuntimeJobFailureError, RuntimeInvalidStateError, RuntimeJobMaxTimeoutError):
            self._expect(job.status() in ("ERROR", "CANCELLED"), "INV-CONSERVATION",
                         f"result() raised for job {job.job_id()} in {job.status()}")
        except RuntimeJobTimeoutError as err:
            raise InvariantViolated.single("INV-PROGRESS", self.service.clock.now(),
                                           str(err)) from err
        else:
            self._expect(job.status() == "DONE", "INV-CONSERVATION",
                         f"result() returned for job {job.job_id()} in {job.status()}")

    @precondition(lambda self: self.sessions)
    @rule(index=st.integers(0, MAX_SESSIONS - 1), prefer=st.sampled_from(["any", "busy"]),
          late=st.booleans(), shots=qs.shots())
    def close(self, index: int, prefer: str, late: bool, shots: int) -> None:
        """close() a session (no-op once it ended); ``busy`` prefers one with jobs queued.

        ``late``: the caller then still tries to submit to it, which must be refused.
        """
        i = self._pick(index, prefer)
        if self.sessions[i]._record.queued and self.sessions[i]._record.lifecycle.accepting_jobs:
            self._reached("close with queued jobs")
        self.sessions[i].close()
        if late:
            self.submit(i, (qs.CIRCUITS["bell"],), shots, "any")

    @precondition(lambda self: self.sessions)
    @rule(index=st.integers(0, MAX_SESSIONS - 1), prefer=st.sampled_from(["any", "busy"]))
    def cancel(self, index: int, prefer: str) -> None:
        """cancel() a session; ``busy`` prefers one with jobs queued."""
        session = self.sessions[self._pick(index, prefer)]
        if session._record.queued and not session._record.lifecycle.is_final:
            self._reached("cancel with queued jobs")
        session.cancel()

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(0, MAX_JOBS - 1))
    def cancel_job(self, index: int) -> None:
        """cancel() a job; a final job must refuse."""
        job = self.jobs[index % len(self.jobs)]
        was_final = job.in_final_state()
        try:
            job.cancel()
        except RuntimeInvalidStateError:
            self._expect(was_final, "INV-FINAL", f"cancel of live job {job.job_id()} refused")
        else:
            self._expect(not was_final and job.status() == "CANCELLED", "INV-FINAL",
                         f"cancel of job {job.job_id()} left it {job.status()}")

    # -- checks ----------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        """Every invariant holds on the trace so far."""
        self.monitor.sync(self.service.trace, self.service.clock.now())
        self._count_new_situations()
        report = self.monitor.report()
        if not report.ok:
            raise InvariantViolated(report)
        self._check_reported()

    def _check_reported(self) -> None:
        """What details(), usage() and metrics() report agrees with the trace."""
        if self.monitored is not None and "INV-REPORTED" not in self.monitored:
            return
        sessions = {s.session_id: {**s.details(), "usage": s.usage()} for s in self.sessions}
        jobs = {j.job_id(): {"usage": j.usage(), "partial": j.usage(partial=True),
                             "timestamps": j.metrics()["timestamps"]} for j in self.jobs}
        found = reported(self.monitor.state, self.service.clock.now(), sessions, jobs)
        self.api_checks["INV-REPORTED"] += len(sessions) + len(jobs)
        if found:
            raise InvariantViolated(Report(found))

    def teardown(self) -> None:
        """Drive the run to idle and check once more, progress included."""
        try:
            # No timer left but jobs unfinished: INV-PROGRESS reports them below.
            called_at = self.service.clock.now()
            with contextlib.suppress(ClockError):
                self.service.run_until_idle()
            self.monitor.sync(self.service.trace, self.service.clock.now())
            self._count_new_situations()
            report = self.monitor.finish(settled=True)
            report.violations.extend(run_until_idle_stop(
                self.monitor.state, called_at, self.service.clock.now()))
            self.api_checks["INV-RUN-UNTIL-IDLE"] += 1
            report.checks.update(self.api_checks)
            stats.add(report)
            if not report.ok:
                tail = self.service.trace.dumps().splitlines()[-12:]
                note("last records of the trace:\n" + "\n".join(tail))
                raise InvariantViolated(report)
        finally:
            self.service.close()

    # -- helpers ---------------------------------------------------------------------

    def _expect(self, condition: bool, invariant: str, message: str) -> None:
        if not condition:
            raise InvariantViolated.single(invariant, self.service.clock.now(), message)

    def _reached(self, situation: str) -> None:
        if situation not in self.reached:
            self.reached.add(situation)
            event(situation)
            coverage[situation] += 1

    def _next_timer(self, kind: str) -> int | None:
        s = self.scheduler
        if kind == "finish":
            running = s.running
            timer = running.finish_timer if running is not None else None
            return None if timer is None else timer.at
        if kind == "step":
            return None
        attr = {"ittl": "ittl_timer", "max_ttl": "maxttl_timer",
                "idle_close": "idle_close_timer"}[kind]
        times = [t.at for rec in s.sessions.values()
                 if (t := getattr(rec, attr)) is not None and not t.cancelled]
        return min(times) if times else None

    def _count_new_situations(self) -> None:
        records = self.service.trace.records
        for r in records[self.seen:]:
            if r.entity != "session":
                continue
            if r.event == "max_time_reached":
                self._reached("expiry")
            elif r.event == "job_started" and r.source == "inactive":
                self._reached("reactivation")
            elif r.event == "idle_close_elapsed":
                self._reached("idle close")
        if len(self.scheduler.active_batches) > 1:
            self._reached("several active batches")
        for r in records[self.seen:]:
            if r.entity == "qpu" and r.event == "dispatch" and r.data.get("via") == "normal":
                horizon = r.t - to_us(WINDOW)
                if any(b.t > horizon and b.data.get("from_us", r.t) < horizon  # type: ignore[operator]
                       for b in records[:r.seq] if b.event == "bill"):
                    self._reached("span past window edge")
        self.seen = len(records)


def queued_jobs_of(session: Session) -> int:
    """Jobs of ``session`` still queued (for tests)."""
    return sum(1 for j in session._record.jobs if j.state == QUEUED)


TestRuntime = RuntimeMachine.TestCase


class ModelMachine(RuleBasedStateMachine):
    """The pure model (lifecycle tables + dispatch rule) on long random walks, no runtime.

    It reuses the explorer's ``Rules`` and ``Checker`` (one copy of the abstract rules)
    with larger bounds than exhaustive search reaches: 4 sessions and 10 jobs, any order
    of user and timer events. Fast: thousands of examples a minute.
    """

    def __init__(self) -> None:
        super().__init__()
        from .explorer import INITIAL, Checker, Rules

        self.model_rules = Rules(max_sessions=4, max_jobs=10)
        self.checker = Checker()
        self.state = INITIAL
        self.path: list[str] = []

    @rule(choice=st.integers(0, 2**16))
    def step(self, choice: int) -> None:
        """Take one enabled event; odd choices prefer timers and job ends.

        One draw per step: Hypothesis' own cost per draw dominates a model step.
        """
        candidates = list(self.model_rules.candidates(self.state))
        choice, system = choice >> 1, bool(choice & 1)
        pool = [e for e in candidates if e.is_system] if system else []
        pool = pool or candidates
        out = None
        for offset in range(len(pool)):  # the drawn event, or the next one the model allows
            out = self.model_rules.apply(self.state, pool[(choice + offset) % len(pool)])
            if out is not None:
                break
        if out is None:
            return
        self.path.append(out.event.label)
        found = self.checker.transition(self.state, out)
        after = out.post if out.post is not None else out.mid
        found += self.checker.state(after)
        found += self.checker.enabled(after, [e for e in self.model_rules.candidates(after)
                                              if e.is_system])
        if found:
            raise InvariantViolated(Report([
                Violation(inv, 0, f"{msg} (path: {' → '.join(self.path)})")
                for inv, msg in found]))
        self.state = after

    def teardown(self) -> None:
        """INV-PROGRESS: with no more submissions, system events alone end every job."""
        state = self.state
        for _ in range(10 * (len(state.jobs) + len(state.sessions)) + 10):
            if state.all_final:
                return
            # Job ends first, then timers: the way time would run them out.
            system = [e for e in self.model_rules.candidates(state) if e.is_system]
            ends = [e for e in system if e.kind == "finish"] or system
            applied = (self.model_rules.apply(state, e) for e in ends)
            nxt = next((o for o in applied if o is not None), None)
            if nxt is None:
                break
            state = nxt.post if nxt.post is not None else nxt.mid
        if not state.all_final:
            raise InvariantViolated(Report([Violation(
                "INV-PROGRESS", 0, f"jobs never end after {' → '.join(self.path)}: "
                                   f"{state.describe()}")]))


TestModel = ModelMachine.TestCase
