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
    EstimatorV2,
    IBMInputValueError,
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
from qsession.runtime.engine.clock import ClockError, to_us
from qsession.runtime.engine.records import SessionRecord
from qsession.runtime.engine.scheduler import MAX_TIME_ERROR
from qsession.runtime.engine.settings import JOB_TIME_CAP_S, Instance
from qsession.runtime.engine.timing import TimingModel

from . import strategies as qs
from .invariants import INVARIANTS, Monitor, Report, Violation
from .oracle import Expected, JobChoice, SessionChoice, Timing
from .reported import reported, run_until_idle_stop

ITTL = 2.0
BATCH_ITTL = 1.0
IDLE_CLOSE = 8.0
"""Unused sessions close after 8 s here (IBM: 30 min), so that it happens in most runs."""
INSTANCES = {"a": 2.0, "b": 1.0}
WINDOW = 6.0
"""A fair-share window shorter than most runs, so spans leave it (wholly or in part)."""
OPEN = "open"
QUOTA = 3.0
"""The Open-Plan instance's QPU seconds per window (IBM: 600 s in 28 days), so it runs out."""
OPEN_LIMIT = 20.0
"""The Open-Plan instance's largest (and default) batch max_time here (IBM: 600 s)."""
PLANS: dict[str, float | Instance] = {
    **INSTANCES, OPEN: Instance(allocation=1.0, plan="open", quota=QUOTA,
                                max_time_limit=OPEN_LIMIT)}
"""Two Premium instances and one on the Open Plan (sessions refused, batches capped, quota)."""
QPU_NAMES = ("stateful_qpu", "stateful_qpu_b")
"""Two QPUs: fair share counts an instance's use across both."""
ON_QPU = st.sampled_from([0, 0, 1])
"""Which QPU a session or job goes to: mostly the first, so sessions still contend there."""
MAX_SESSIONS = 4
MAX_JOBS = 16
TAGS = ("t1", "t2")
LIMITS = (1, 2, 3)
"""``max_execution_time`` values (s): jobs take 0.5 to 5 s here, so some are stopped."""


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
ORACLE_TIMING = Timing(overhead_s=0.2, rep_delay_s=1e-2, grid_s=0.5)
"""The same constants, for the test's own duration formula (``oracle.Timing``)."""
COVERAGE_FLOORS: dict[str, float] = {
    "expiry": 0.20, "cancel with queued jobs": 0.05, "reactivation": 0.05,
    "contention": 0.03, "idle close": 0.10, "submit inside ITTL": 0.02,
    "close with queued jobs": 0.04, "non-default instance": 0.04,
    "several active batches": 0.04, "span past window edge": 0.12,
    "with-block left by an exception": 0.02, "user callback": 0.12,
    "second QPU": 0.25, "Open Plan session refused": 0.10, "Open Plan batch": 0.02,
    "Open Plan quota reached": 0.02, "multi-pub job": 0.06,
    "stopped at max_execution_time": 0.10, "timed wait timed out": 0.05,
    "timed wait returned": 0.08, "jobs() query": 0.10, "jobs() query matched some": 0.05,
}
"""Each rare situation and the share of runs that must reach it: a campaign below a floor
fails (its generators no longer reach that code). Floors are about a third of the lowest
rate measured over 150 runs with several seeds, so a seed does not fail by chance."""
COVERAGE_EVENTS = tuple(COVERAGE_FLOORS)

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


@dataclass
class Submitted:
    """What the test itself knows of a job it submitted (the oracle of ``jobs()``)."""

    job: RuntimeJobV2
    created: int
    qpu: str
    session: str | None
    instance: str
    tags: tuple[str, ...]
    kind: str


_FILTERS = st.fixed_dictionaries({
    # Each filter is absent half the time, so that queries often match some jobs.
    "backend_name": st.sampled_from([None, None, *QPU_NAMES]),
    "pending": st.sampled_from([None, None, True, False]),
    "instance": st.sampled_from([None, None, None, *PLANS]),
    "by_session": st.booleans(),
    "pivot": st.integers(0, MAX_JOBS - 1),
    "bound": st.sampled_from([None, None, "after", "before"]),
    "job_tags": st.sampled_from([None, None, None, ["t1"], ["t1", "t2"]]),
    "program_id": st.sampled_from([None, None, "sampler", "estimator"]),
    "limit": st.sampled_from([None, 1, 3, 10]),
    "skip": st.sampled_from([0, 0, 0, 1, 2]),
    "descending": st.booleans(),
})
"""A ``jobs()`` query: every filter IBM's ``QiskitRuntimeService.jobs`` takes."""


class RuntimeMachine(RuleBasedStateMachine):
    """The full runtime under random job/timeout interleavings."""

    monitored: tuple[str, ...] | None = None
    """Invariant ids to check (None: all); a subclass may watch one to test it alone."""

    def __init__(self) -> None:
        super().__init__()
        self.qpus = [QPU.ideal(name, num_qubits=3, timing=TIMING) for name in QPU_NAMES]
        self.qpu = self.qpus[0]
        self.service = LocalService(seed=0, backends=self.qpus, interactive_timeout=ITTL,
                                    batch_interactive_timeout=BATCH_ITTL, instances=PLANS,
                                    idle_close_timeout=IDLE_CLOSE,
                                    fair_share_window=WINDOW)
        self.scheduler = self.service.scheduler_of(self.qpu)
        # The test's own configuration: the checkers hold the runtime to it.
        self.expected = Expected(quotas={OPEN: to_us(QUOTA)}, window_us=to_us(WINDOW))
        self.monitor = Monitor(None if self.monitored is None else
                               [i for i in self.monitored if i in INVARIANTS],
                               expected=self.expected)
        self.sessions: list[Session] = []
        self.samplers: list[SamplerV2] = []
        self.jobs: list[RuntimeJobV2] = []
        self.submitted: dict[str, Submitted] = {}
        self.background = {(q.name, name): SamplerV2(mode=q, instance=name)
                           for q in self.qpus for name in PLANS}
        self.circuit_s = {name: TIMING.circuit_seconds(c, self.qpu.target)
                          for name, c in qs.CIRCUITS.items()}
        self.seen = 0
        self.durations_checked: set[str] = set()
        self.reached: set[str] = set()
        self.api_checks: Counter[str] = Counter()

    # -- what the test asks for, and what it expects of it ---------------------------------

    def _open(self, batch: bool, max_time: float | None, instance: str | None = None,
              qpu: int = 0) -> Session | None:
        """Open a Session or Batch through the API and note the test's own expectations.

        The Open-Plan instance must refuse a dedicated Session and a batch ``max_time``
        above its limit (INV-PLAN); a refused open creates no session.
        """
        name = instance if instance is not None else next(iter(PLANS))
        target = self.qpus[qpu % len(self.qpus)]
        cls = Batch if batch else Session
        on_open = name == OPEN
        refused = on_open and (not batch or (max_time is not None and max_time > OPEN_LIMIT))
        before = len(self.service.trace.ids("session"))
        try:
            session = cls(target, max_time=max_time, instance=instance)
        except (IBMRuntimeError, IBMInputValueError) as err:
            self.api_checks["INV-PLAN"] += 1
            self._expect(refused, "INV-PLAN", f"opening a {cls.__name__} on instance {name!r} "
                         f"(max_time {max_time}) was refused: {err}")
            why = "Open Plan" if not batch else "exceeds"
            self._expect(why in str(err), "INV-PLAN", f"the refusal does not say why: {err}")
            self._expect(len(self.service.trace.ids("session")) == before, "INV-PLAN",
                         "a refused open created a session")
            if not batch:
                self._reached("Open Plan session refused")
            return None
        self.api_checks["INV-PLAN"] += on_open
        self._expect(not refused, "INV-PLAN", f"instance {name!r} is on the Open Plan, yet a "
                     f"{cls.__name__} with max_time {max_time} opened")
        if on_open:
            self._reached("Open Plan batch")
        if qpu % len(self.qpus):
            self._reached("second QPU")
        if name != next(iter(PLANS)):
            self._reached("non-default instance")
        chosen = max_time if max_time is not None else (OPEN_LIMIT if on_open else 8 * 3600.0)
        self.expected.sessions[session.session_id] = SessionChoice(
            target.name, "batch" if batch else "dedicated", name,
            to_us(BATCH_ITTL if batch else ITTL), to_us(chosen), to_us(IDLE_CLOSE))
        self.sessions.append(session)
        self.samplers.append(SamplerV2(mode=session))
        return session

    def _run(self, target: Session | QPU, pubs: list[tuple[Any, ...]], shots: int, *,
             instance: str | None = None, limit: int | None = None,
             tags: tuple[str, ...] = (), sampler: SamplerV2 | None = None) -> RuntimeJobV2:
        """Submit sampler pubs and note what the job must do: its instance, session and
        QPU, and its time on the QPU from the published formula (one overhead per pub)."""
        session = target if isinstance(target, Session) else None
        options: dict[str, Any] = {}
        if limit is not None:
            options["max_execution_time"] = limit
        if tags:
            options["environment"] = {"job_tags": list(tags)}
        if session is not None:
            chosen = self.expected.sessions[session.session_id]
            qpu_name, name = chosen.qpu, chosen.instance
        else:
            assert isinstance(target, QPU)
            qpu_name, name = target.name, instance or next(iter(PLANS))
        if options:
            sampler = SamplerV2(mode=target, options=options, instance=instance)
        elif sampler is None:
            sampler = (self.samplers[self.sessions.index(session)] if session is not None
                       else self.background[(qpu_name, name)])
        created = self.service.clock.now()
        job = sampler.run(pubs, shots=shots)
        duration = ORACLE_TIMING.job_us([
            (self.circuit_s[pub[0].name], shots, len(pub[1]) if len(pub) > 1 else 1)
            for pub in pubs])
        self.expected.jobs[job.job_id()] = JobChoice(
            qpu_name, None if session is None else session.session_id, name, duration,
            to_us(limit if limit is not None else JOB_TIME_CAP_S))
        self.submitted[job.job_id()] = Submitted(job, created, qpu_name,
                                                 None if session is None else
                                                 session.session_id, name, tags, "sampler")
        self.jobs.append(job)
        if len(pubs) > 1:
            self._reached("multi-pub job")
        if qpu_name != self.qpu.name:
            self._reached("second QPU")
        return job

    # -- rules -----------------------------------------------------------------------

    @initialize(max_time=qs.max_times(), second=qs.max_times(), batch=st.booleans(),
                shots=qs.shots(), n=st.integers(1, 3), qpu=ON_QPU)
    def first_sessions(self, max_time: float, second: float, batch: bool, shots: int,
                       n: int, qpu: int) -> None:
        """Every run starts with a dedicated session holding ``n`` jobs, and a second one
        (on the same QPU or the other)."""
        first = self._open(False, max_time)
        self._open(batch, second, qpu=qpu)
        assert first is not None
        for _ in range(n):
            self._run(first, [(qs.CIRCUITS["bell"],)], shots)

    @precondition(lambda self: len(self.sessions) < MAX_SESSIONS)
    @rule(batch=st.booleans(), max_time=st.one_of(qs.max_times(), st.none()),
          instance=st.sampled_from([None, *PLANS]), qpu=ON_QPU)
    def open_session(self, batch: bool, max_time: float | None, instance: str | None = None,
                     qpu: int = 0) -> None:
        """Open a Session or a Batch, on either QPU, on the default instance or a named one
        (the Open-Plan one refuses a Session and a batch longer than its limit)."""
        if max_time is None and instance != OPEN:
            max_time = 60.0  # the 8 h default would never expire here; only Open's is short
        self._open(batch, max_time, instance, qpu)

    @rule(ask=st.sampled_from([("session", None), ("session", 5.0), ("batch", 60.0),
                               ("batch", None), ("batch", OPEN_LIMIT), ("batch", 5.0)]),
          qpu=ON_QPU)
    def open_on_open_plan(self, ask: tuple[str, float | None], qpu: int) -> None:
        """Ask the Open-Plan instance for a Session, or a Batch within or past its limit.

        The refusals create nothing, so this rule stays enabled when the run already holds
        its share of sessions; an allowed batch then is not opened.
        """
        kind, max_time = ask
        allowed = kind == "batch" and (max_time is None or max_time <= OPEN_LIMIT)
        if not allowed or len(self.sessions) < MAX_SESSIONS:
            self._open(kind == "batch", max_time, OPEN, qpu)

    @precondition(lambda self: len(self.sessions) < MAX_SESSIONS + 2
                  and len(self.jobs) < MAX_JOBS and self._holding())
    @rule(max_time=qs.max_times(), shots=qs.shots())
    def contend(self, max_time: float, shots: int) -> None:
        """Another dedicated session submits while one is active on its QPU: it must wait
        in the normal queue (INV-ACTIVE-ONE, INV-PRIORITY, INV-FIRST-JOB-NORMAL)."""
        qpu = self._holding()[0]
        session = self._open(False, max_time, None, qpu)
        assert session is not None
        self._reached("contention")
        self._run(session, [(qs.CIRCUITS["bell"],)], shots)

    def _holding(self) -> list[int]:
        """The QPUs (by index) an active dedicated session holds."""
        return [k for k, q in enumerate(self.qpus)
                if self.service.scheduler_of(q).active_session is not None]

    @precondition(lambda self: len(self.sessions) <= MAX_SESSIONS - 2
                  and len(self.jobs) < MAX_JOBS - 3)
    @rule(max_time=qs.max_times(), shots=qs.shots())
    def batches_together(self, max_time: float, shots: int) -> None:
        """Two batches with queued jobs, both active at once: the first started goes first.

        The first batch's job runs, the second's first job starts when it ends; right then
        the first batch (active, within its ITTL) gets another job, so both wait together.
        """
        pub = (qs.CIRCUITS["bell"],)
        opened = [self._open(True, max_time) for _ in (1, 2)]
        for batch, n in zip(opened, (1, 2), strict=True):
            assert batch is not None
            for _ in range(n):
                self._run(batch, [pub], shots)
        first = self.jobs[-3]
        self._settle(first)
        assert opened[0] is not None
        if opened[0]._record.lifecycle.accepting_jobs:
            self._run(opened[0], [pub], shots)

    @precondition(lambda self: len(self.sessions) < MAX_SESSIONS and len(self.jobs) < MAX_JOBS)
    @rule(batch=st.booleans(), max_time=qs.max_times(), raises=st.booleans(), shots=qs.shots())
    def with_block(self, batch: bool, max_time: float, raises: bool, shots: int) -> None:
        """User code in a ``with`` block submits a job and may raise; leaving closes it.

        Closed, not cancelled: the trace must show the session's close() and no cancel()
        (IBM's ``__exit__`` calls ``close()``; a cancel would also stop it accepting jobs).
        """
        class UserError(Exception):
            pass

        session = self._open(batch, max_time)
        assert session is not None
        mark = len(self.service.trace.records)
        with contextlib.suppress(UserError), session:
            self._run(session, [(qs.CIRCUITS["bell"],)], shots)
            if raises:
                self._reached("with-block left by an exception")
                raise UserError("user code failed inside the session")
        sid = session.session_id
        events = [r.event for r in self.service.trace.records[mark:]
                  if r.entity == "session" and r.id == sid]
        # qiskit_ibm_runtime/session.py, Session.__exit__: close(), however the block was left.
        self.api_checks["INV-WITH-CLOSES"] += 1
        self._expect("close" in events and "cancel" not in events, "INV-WITH-CLOSES",
                     f"session {sid} was left by "
                     f"{'an exception' if raises else 'the end of its block'}; the trace shows "
                     f"{events or 'nothing'} for it, not close()")

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
                self._run(self.sessions[i], [(qs.CIRCUITS["bell"],)], shots)

        self.service.call_later(delay, act)

    @precondition(lambda self: self.sessions and len(self.jobs) < MAX_JOBS)
    @rule(index=st.integers(0, MAX_SESSIONS - 1),
          pubs=st.lists(qs.sampler_pubs(), min_size=1, max_size=3), shots=qs.shots(),
          prefer=st.sampled_from(["any", "accepting", "accepting", "inactive", "inactive",
                                  "waiting", "closing", "ittl"]),
          limit=st.sampled_from([None, None, *LIMITS]),
          tags=st.sampled_from([(), ("t1",), ("t1", "t2")]))
    def submit(self, index: int, pubs: list[tuple[Any, ...]], shots: int, prefer: str,
               limit: int | None = None, tags: tuple[str, ...] = ()) -> None:
        """Submit one to three pubs to a session, maybe with a ``max_execution_time`` and
        tags; a session that does not accept jobs must refuse.

        ``prefer`` steers toward rare paths: an ``inactive`` session (reactivation through
        the normal queue), a dedicated session ``waiting`` while another one is active, or
        a ``closing`` one (which must refuse).
        """
        i = self._pick(index, prefer)
        record = self.sessions[i]._record
        before = len(self.service.all_jobs())
        if not record.lifecycle.accepting_jobs:
            try:
                self.samplers[i].run(pubs, shots=shots)
            except IBMRuntimeError as err:
                self._expect("The session is closed" in str(err), "INV-CLOSED-REJECTS",
                             f"refusal does not say the session is closed: {err}")
                self._expect(len(self.service.all_jobs()) == before, "INV-CLOSED-REJECTS",
                             "a refused submission created a job")
                return
            raise InvariantViolated.single(
                "INV-CLOSED-REJECTS", self.service.clock.now(),
                f"session {record.id} ({record.state}, not accepting) accepted a job")
        other = self.service.scheduler_of(record.qpu).active_session
        if other is not None and other is not record and record.mode == "dedicated":
            self._reached("contention")
        if record.ittl_timer is not None and not record.ittl_timer.cancelled:
            self._reached("submit inside ITTL")
        self._run(self.sessions[i], pubs, shots, limit=limit, tags=tags)

    @precondition(lambda self: self.sessions and len(self.jobs) < MAX_JOBS - 3)
    @rule(index=st.integers(0, MAX_SESSIONS - 1), n=st.integers(2, 3), shots=qs.shots())
    def burst(self, index: int, n: int, shots: int) -> None:
        """Submit several jobs at once to one session (so some of them queue)."""
        i = index % len(self.sessions)
        if self.sessions[i]._record.lifecycle.accepting_jobs:
            for _ in range(n):
                self._run(self.sessions[i], [(qs.CIRCUITS["bell"],)], shots)

    def _pick(self, index: int, prefer: str) -> int:
        """A session index, steered by ``prefer`` when some session fits (else any)."""
        records = [s._record for s in self.sessions]

        def active(r: SessionRecord) -> SessionRecord | None:
            return self.service.scheduler_of(r.qpu).active_session

        fits: dict[str, Callable[[SessionRecord], bool]] = {
            "accepting": lambda r: r.lifecycle.accepting_jobs,
            "ittl": lambda r: (r.lifecycle.accepting_jobs and r.ittl_timer is not None
                               and not r.ittl_timer.cancelled),
            "inactive": lambda r: r.lifecycle.accepting_jobs and r.state == "inactive",
            "waiting": lambda r: (r.lifecycle.accepting_jobs and active(r) is not None
                                  and r is not active(r) and r.mode == "dedicated"),
            "closing": lambda r: not r.lifecycle.accepting_jobs and not r.lifecycle.is_final,
            "busy": lambda r: r.queued > 0 and not r.lifecycle.is_final,
        }
        if prefer in fits:
            matches = [k for k, r in enumerate(records) if fits[prefer](r)]
            if matches:
                return matches[index % len(matches)]
        return index % len(records)

    @precondition(lambda self: len(self.jobs) < MAX_JOBS)
    @rule(instance=st.sampled_from(sorted(PLANS)), pub=qs.sampler_pubs(), shots=qs.shots(),
          qpu=ON_QPU, limit=st.sampled_from([None, None, *LIMITS]),
          estimator=st.sampled_from([False, False, False, True]))
    def submit_background(self, instance: str, pub: tuple[Any, ...], shots: int,
                          qpu: int = 0, limit: int | None = None,
                          estimator: bool = False) -> None:
        """Submit a job-mode job on one of the instances (fair share, the Open-Plan quota);
        now and then an estimator job (``jobs(program_id=...)`` tells the two apart)."""
        target = self.qpus[qpu % len(self.qpus)]
        if not estimator:
            self._run(target, [pub], shots, instance=instance, limit=limit)
            return
        created = self.service.clock.now()
        job = EstimatorV2(mode=target, instance=instance).run(
            [(qs.CIRCUITS["bell"], "ZZ")], precision=0.25)
        self.expected.jobs[job.job_id()] = JobChoice(target.name, None, instance, None,
                                                     to_us(JOB_TIME_CAP_S))
        self.submitted[job.job_id()] = Submitted(job, created, target.name, None, instance,
                                                 (), "estimator")
        self.jobs.append(job)

    @precondition(lambda self: len(self.jobs) < MAX_JOBS - 4)
    @rule(instances=st.lists(st.sampled_from(sorted(PLANS)), min_size=2, max_size=4),
          shots=qs.shots(), qpu=ON_QPU)
    def background_burst(self, instances: list[str], shots: int, qpu: int = 0) -> None:
        """Other tenants submit several job-mode jobs at once (the normal queue fills)."""
        pub = (qs.CIRCUITS["bell"],)
        for name in instances:
            self._run(self.qpus[qpu % len(self.qpus)], [pub], shots, instance=name)

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
            self._run(self.sessions[i], [(qs.CIRCUITS["bell"],)], shots)

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
            self._run(self.sessions[i], [(qs.CIRCUITS["bell"],)], shots)

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(0, MAX_JOBS - 1),
          timeout=st.sampled_from([None, None, 0.0, 0.5, 1.0, 2.5, 5.0, 10.0]),
          final_state=st.booleans())
    def wait_result(self, index: int, timeout: float | None = None,
                    final_state: bool = False) -> None:
        """Wait for a job's result (virtual time jumps to its end), or wait at most
        ``timeout`` seconds."""
        if timeout is None:
            self._settle(self.jobs[index % len(self.jobs)])
        else:
            self._wait_timeout(index, timeout, final_state)

    def _wait_timeout(self, index: int, timeout: float, final_state: bool) -> None:
        """``result(timeout=…)`` or ``wait_for_final_state(timeout=…)`` (INV-WAIT).

        The test's own expectation: if the job ends within ``timeout`` seconds the call
        returns at its end (at once if it was final), else it raises
        ``RuntimeJobTimeoutError`` exactly ``timeout`` seconds later, the job not final.
        """
        live = [j for j in self.jobs if not j._record.is_final] or self.jobs
        job = live[index % len(live)]
        start = self.service.clock.now()
        timed_out = False
        try:
            if final_state:
                job.wait_for_final_state(timeout=timeout)
            else:
                job.result(timeout=timeout)
        except RuntimeJobTimeoutError:
            timed_out = True
        except (RuntimeJobFailureError, RuntimeInvalidStateError, RuntimeJobMaxTimeoutError):
            pass
        end = self.service.clock.now()
        self.monitor.sync(self.service.trace, end)
        view = self.monitor.state.jobs[job.job_id()]
        deadline = start + to_us(timeout)
        self.api_checks["INV-WAIT"] += 1
        call = f"{'wait_for_final_state' if final_state else 'result'}(timeout={timeout})"
        ended = "is not final" if view.finished is None else \
            f"ended at {view.finished / 1e6:g}s"
        if timed_out:
            self._reached("timed wait timed out")
            self._expect(view.finished is None and end == deadline, "INV-WAIT",
                         f"{call} on job {job.job_id()} called at {start / 1e6:g}s timed "
                         f"out at {end / 1e6:g}s (the deadline is {deadline / 1e6:g}s; the "
                         f"job {ended})")
            return
        if view.finished is not None and view.finished > start:
            self._reached("timed wait returned")
        self._expect(view.finished is not None and view.finished <= deadline
                     and end == max(start, view.finished), "INV-WAIT",
                     f"{call} on job {job.job_id()} called at {start / 1e6:g}s returned at "
                     f"{end / 1e6:g}s; the job {ended} and the deadline was "
                     f"{deadline / 1e6:g}s")

    @precondition(lambda self: self.submitted)
    @rule(query=_FILTERS)
    def query_jobs(self, query: dict[str, Any]) -> None:
        """``service.jobs()`` with random filters, against the test's own list (INV-JOBS-QUERY).

        IBM's semantics (qiskit_ibm_runtime/qiskit_runtime_service.py, ``jobs``): every
        filter applies; newest first unless ``descending=False``; ``skip`` then ``limit``
        after filtering; ``job_tags`` matches jobs carrying all of them; creation bounds
        inclusive; ``pending`` means queued or running.
        """
        self._reached("jobs() query")
        self.monitor.sync(self.service.trace, self.service.clock.now())
        rows = list(self.submitted.values())
        pivot = rows[query["pivot"] % len(rows)]
        session_id = pivot.session if query["by_session"] else None
        after = pivot.created if query["bound"] == "after" else None
        before = pivot.created if query["bound"] == "before" else None
        tags = set(query["job_tags"] or ())
        order = {jid: k for k, jid in enumerate(self.submitted)}

        def matches(sub: Submitted) -> bool:
            final = self.monitor.state.jobs[sub.job.job_id()].is_final
            return ((query["backend_name"] is None or sub.qpu == query["backend_name"])
                    and (query["pending"] is None or query["pending"] != final)
                    and (query["instance"] is None or sub.instance == query["instance"])
                    and (session_id is None or sub.session == session_id)
                    and (after is None or sub.created >= after)
                    and (before is None or sub.created <= before)
                    and tags <= set(sub.tags)
                    and (query["program_id"] is None or sub.kind == query["program_id"]))

        wanted = sorted((s for s in rows if matches(s)),
                        key=lambda s: (s.created, order[s.job.job_id()]),
                        reverse=query["descending"])
        skip, limit = query["skip"], query["limit"]
        expected = [s.job.job_id() for s in wanted[skip:None if limit is None else skip + limit]]
        clock = self.service.clock
        got = [j.job_id() for j in self.service.jobs(
            limit=limit, skip=skip, backend_name=query["backend_name"],
            pending=query["pending"], program_id=query["program_id"],
            instance=query["instance"], job_tags=query["job_tags"], session_id=session_id,
            created_after=None if after is None else clock.datetime(after),
            created_before=None if before is None else clock.datetime(before),
            descending=query["descending"])]
        self.api_checks["INV-JOBS-QUERY"] += 1
        if expected:
            self._reached("jobs() query matched some")
        shown = {k: v for k, v in query.items() if k not in ("pivot", "by_session", "bound")}
        self._expect(got == expected, "INV-JOBS-QUERY",
                     f"jobs({shown}, session_id={session_id!r}, created_after={after}, "
                     f"created_before={before}) returned {got}; the jobs submitted that match "
                     f"are {expected}")

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
            self.submit(i, [(qs.CIRCUITS["bell"],)], shots, "any")

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
        report.violations.extend(self._durations())
        if not report.ok:
            raise InvariantViolated(report)
        self._check_reported()

    def _durations(self) -> list[Violation]:
        """INV-DURATION for the jobs that became final: the test's own formula."""
        if self.monitored is not None and "INV-DURATION" not in self.monitored:
            return []
        ended = [(j.id, j.state, j.started, j.finished, j.reason)
                 for j in self.monitor.state.jobs.values()
                 if j.finished is not None and j.id not in self.durations_checked]
        self.durations_checked.update(e[0] for e in ended)
        self.api_checks["INV-DURATION"] += len(ended)
        return self.expected.job_violations(
            (jid, state, started, finished, reason)
            for jid, state, started, finished, reason in ended if finished is not None)

    def _check_reported(self) -> None:
        """What details(), usage(), status() and metrics() report agrees with the trace and
        with what the test chose, in IBM's types."""
        if self.monitored is not None and "INV-REPORTED" not in self.monitored:
            return
        sessions = {s.session_id: {**s.details(), "usage": s.usage()} for s in self.sessions}
        jobs = {j.job_id(): {"usage": j.usage(), "partial": j.usage(partial=True),
                             "metrics": j.metrics(), "status": j.status(),
                             "instance": j.instance, "session_id": j.session_id}
                for j in self.jobs}
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
            report.violations.extend(self._durations())
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
        if kind == "step":
            return None
        times: list[int] = []
        for s in self.service.schedulers.values():
            if kind == "finish":
                timer = s.running.finish_timer if s.running is not None else None
                if timer is not None:
                    times.append(timer.at)
                continue
            attr = {"ittl": "ittl_timer", "max_ttl": "maxttl_timer",
                    "idle_close": "idle_close_timer"}[kind]
            times.extend(t.at for rec in s.sessions.values()
                         if (t := getattr(rec, attr)) is not None and not t.cancelled)
        return min(times) if times else None

    def _count_new_situations(self) -> None:
        records = self.service.trace.records
        for r in records[self.seen:]:
            if r.entity == "session":
                if r.event == "max_time_reached":
                    self._reached("expiry")
                elif r.event == "job_started" and r.source == "inactive":
                    self._reached("reactivation")
                elif r.event == "idle_close_elapsed":
                    self._reached("idle close")
            elif r.entity == "job" and r.data.get("reason") == MAX_TIME_ERROR:
                self._reached("stopped at max_execution_time")
            elif r.entity == "qpu" and r.event == "quota_hold":
                self._reached("Open Plan quota reached")
        if any(len(s.active_batches) > 1 for s in self.service.schedulers.values()):
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
