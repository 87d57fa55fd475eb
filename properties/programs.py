"""Seeded random session programs, and a campaign that runs many of them across processes.

A program is a random sequence of what session code does — open sessions and batches,
submit (to them or in job mode, on two instances), let time pass, wait for results,
close, cancel, cancel jobs — drawn from ``random.Random(seed)``: the same seed, the same
program, the same trace. ``aer=True`` runs it through the public API on an Aer QPU;
``aer=False`` drives one scheduler with the null executor (durations from the same
grid), fast enough for campaigns of 100,000 runs.

``hostile=True`` adds what a careless or hostile program does from timer callbacks: a
callback set for an instant that often coincides with a job end or an ITTL expiry, which
cancels a job, submits, closes or cancels a session, raises, or calls ``advance()`` or
waits on a job from inside the callback (the clock refuses). The program catches what its
calls raise and carries on; every job must still settle, and ``replay`` must reproduce
the trace exactly.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qsession.model import Mode
from qsession.runtime import IBMRuntimeError, QPUSettings, RuntimeInvalidStateError, Trace
from qsession.runtime.engine.campaign import pool
from qsession.runtime.engine.clock import ReentrantCallError, VirtualClock, to_us
from qsession.runtime.engine.platform import USER_PRIORITY
from qsession.runtime.engine.scheduler import Scheduler

from .invariants import check

INSTANCES = {"a": 2.0, "b": 1.0}
DURATIONS = (0.5, 1.0, 2.5, 5.0)
MAX_TIMES = (5.0, 10.0, 20.0, 60.0)
ITTL, BATCH_ITTL = 2.0, 1.0
CALLBACK_DELAYS = (0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 5.0)
"""Delays of hostile callbacks: the grid of DURATIONS and ITTLs, so they hit job ends."""


class ProgramError(Exception):
    """What a hostile program's callback raises on purpose."""


def run_null(seed: int, steps: int = 30, *, hostile: bool = False) -> Trace:
    """Run the random program ``seed`` on one scheduler with the null executor.

    ``hostile``: also set timer callbacks that misbehave (module docstring); the same
    seed without it is the same program as before.
    """
    rng = random.Random(seed)
    clock = VirtualClock()
    trace = Trace(meta={"clock": "virtual", "seed": seed, "program": "null"})
    sched = Scheduler("qpu", clock, trace, QPUSettings(
        interactive_timeout=ITTL, batch_interactive_timeout=BATCH_ITTL, instances=INSTANCES))
    sessions: list[Any] = []
    jobs: list[Any] = []

    def op_open() -> None:
        mode: Mode = rng.choice(("dedicated", "batch"))
        with clock.instant():
            sessions.append(sched.open_session(
                mode, max_time_us=to_us(rng.choice(MAX_TIMES)),
                ittl_us=to_us(ITTL if mode == "dedicated" else BATCH_ITTL),
                instance=rng.choice(tuple(INSTANCES))))

    def op_submit() -> None:
        target = rng.choice([None, *sessions])
        # A session that no longer accepts jobs refuses (the invariants check no job came).
        with contextlib.suppress(IBMRuntimeError):
            jobs.append(sched.submit(target, instance=rng.choice(tuple(INSTANCES)),
                                     kind="null", payload=None,
                                     duration_us=to_us(rng.choice(DURATIONS))))

    def op_advance() -> None:
        clock.advance(to_us(rng.choice((0.5, 1.0, 2.0, ITTL, 3.0, 5.0))))

    def op_wait() -> None:
        if jobs:
            job = rng.choice(jobs)
            clock.wait_for(lambda: job.is_final)

    def op_end(method: Callable[[Any], None]) -> Callable[[], None]:
        def act() -> None:
            if sessions:
                method(rng.choice(sessions))
        return act

    def op_cancel_job() -> None:
        if jobs:
            with contextlib.suppress(RuntimeInvalidStateError):
                sched.cancel_job(rng.choice(jobs))

    def misbehave() -> None:
        """One hostile callback's action, drawn when it fires."""
        action = rng.randrange(7)
        if action == 0:
            op_cancel_job()
        elif action == 1:
            op_submit()
        elif action in (2, 3) and sessions:
            (sched.close if action == 2 else sched.cancel)(rng.choice(sessions))
        elif action == 4:
            raise ProgramError("a callback raised")
        elif action == 5:
            clock.advance(to_us(rng.choice((0.0, 1.0))))  # refused: ReentrantCallError
        elif jobs:
            job = rng.choice(jobs)
            with contextlib.suppress(ReentrantCallError):  # refused unless already final
                clock.wait_for(lambda: job.is_final)

    def op_callback() -> None:
        clock.call_at(clock.now() + to_us(rng.choice(CALLBACK_DELAYS)), misbehave,
                      priority=USER_PRIORITY, label="hostile")

    def guarded(op: Callable[[], None]) -> Callable[[], None]:
        def act() -> None:
            # A callback's exception reaches the call that let time pass, as in user code.
            with contextlib.suppress(ProgramError, ReentrantCallError):
                op()
        return act

    ops = [op_open, op_submit, op_submit, op_submit, op_advance, op_wait,
           op_end(sched.close), op_end(sched.cancel), op_cancel_job]
    if hostile:
        ops = [guarded(op) for op in ops] + [op_callback, op_callback, op_callback]
    op_open()
    for _ in range(steps):
        rng.choice(ops)()
    while True:
        try:
            clock.wait_for(sched.is_idle)
            break
        except (ProgramError, ReentrantCallError):
            if not hostile:
                raise
    return trace


LONG_EVERY = 100
"""One program in this many is a long one (over 1,000 ids), so id reuse would show."""
LONG_JOBS = 1_050


def run_null_long(seed: int, jobs: int = LONG_JOBS) -> Trace:
    """A long program: waves of job-mode and batch jobs, over 1,000 ids in one trace."""
    rng = random.Random(seed)
    clock = VirtualClock()
    trace = Trace(meta={"clock": "virtual", "seed": seed, "program": "null-long"})
    sched = Scheduler("qpu", clock, trace, QPUSettings(
        interactive_timeout=ITTL, batch_interactive_timeout=BATCH_ITTL, instances=INSTANCES))
    submitted = 0
    while submitted < jobs:
        with clock.instant():
            batch = sched.open_session("batch", max_time_us=to_us(60.0),
                                       ittl_us=to_us(BATCH_ITTL),
                                       instance=rng.choice(tuple(INSTANCES)))
        for _ in range(25):
            target = rng.choice([None, batch])
            sched.submit(target, instance=rng.choice(tuple(INSTANCES)), kind="null",
                         payload=None, duration_us=to_us(rng.choice(DURATIONS[:2])))
            submitted += 1
        sched.close(batch)
        clock.wait_for(sched.is_idle)
    return trace


def run_aer(seed: int, steps: int = 15) -> Trace:
    """Run the random program ``seed`` through the public API on an Aer QPU."""
    from qsession.runtime import QPU, Batch, LocalService, SamplerV2, Session

    from .machines import TIMING
    from .strategies import CIRCUITS, SHOTS

    rng = random.Random(seed)
    qpu = QPU.ideal("random_qpu", num_qubits=3, timing=TIMING)
    service = LocalService(seed=seed, backends=[qpu], interactive_timeout=ITTL,
                           batch_interactive_timeout=BATCH_ITTL, instances=INSTANCES)
    sessions: list[Any] = []
    jobs: list[Any] = []
    bell = CIRCUITS["bell"]
    for step in range(steps):
        choice = rng.randrange(8) if step else 0
        if choice == 0:
            kind = rng.choice((Session, Batch))
            sessions.append(kind(qpu, max_time=rng.choice(MAX_TIMES)))
        elif choice in (1, 2, 3):
            target = rng.choice([qpu, *sessions])
            with contextlib.suppress(IBMRuntimeError):
                jobs.append(SamplerV2(mode=target).run([bell], shots=rng.choice(SHOTS)))
        elif choice == 4:
            service.advance(rng.choice((0.5, 1.0, ITTL, 5.0)))
        elif choice == 5 and jobs:
            job = rng.choice(jobs)
            job.wait_for_final_state()
        elif choice == 6 and sessions:
            rng.choice(sessions).close()
        elif choice == 7 and sessions:
            rng.choice(sessions).cancel()
    service.run_until_idle()
    return service.trace


@dataclass
class CampaignResult:
    """Totals of a campaign: runs, jobs, violations by invariant, lost and duplicated jobs."""

    runs: int = 0
    jobs: int = 0
    records: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    duplicated: int = 0
    failing_seeds: list[int] = field(default_factory=list)
    long_runs: int = 0
    examples: list[str] = field(default_factory=list)

    def merge(self, other: CampaignResult) -> None:
        """Add another chunk's totals."""
        self.runs += other.runs
        self.jobs += other.jobs
        self.records += other.records
        self.violations.update(other.violations)
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.failing_seeds.extend(other.failing_seeds)
        self.long_runs += other.long_runs
        self.examples.extend(other.examples[:max(0, 3 - len(self.examples))])


def _chunk(seeds: range) -> CampaignResult:
    result = CampaignResult()
    for seed in seeds:
        long = seed % LONG_EVERY == LONG_EVERY - 1
        try:
            trace = run_null_long(seed) if long else run_null(seed)
        except Exception as err:
            result.runs += 1
            result.violations["program raised"] += 1
            result.failing_seeds.append(seed)
            result.examples.append(f"seed {seed}: {type(err).__name__}: {err}")
            continue
        result.long_runs += long
        report = check(trace, settled=True)
        created = [r.id for r in trace if r.entity == "job" and r.event == "create"]
        final = {r.id for r in trace if r.entity == "job" and r.dest in ("DONE", "ERROR",
                                                                            "CANCELLED")}
        result.runs += 1
        result.jobs += len(created)
        result.records += len(trace)
        result.duplicated += len(created) - len(set(created))
        result.lost += len(set(created) - final)
        if not report.ok:
            result.violations.update(v.invariant for v in report.violations)
            result.failing_seeds.append(seed)
            result.examples.append(f"seed {seed}: {report.violations[0]}")
    return result


def campaign(runs: int, *, start: int = 0, processes: int = 2, chunk: int = 500,
             progress: Callable[[int], None] | None = None,
             executor: str | None = None) -> CampaignResult:
    """Run ``runs`` random programs (seeds ``start``…) in shards of ``chunk`` seeds; check each.

    The shards run in this process (``processes`` 1), in local processes, or on the Dask
    cluster ``executor`` names (``dask://HOST:PORT``, ``runtime.campaign``); they are merged
    in seed order, so the result is the same wherever they ran.
    """
    chunks = [range(s, min(s + chunk, start + runs)) for s in range(start, start + runs, chunk)]
    total = CampaignResult()
    if processes <= 1 and executor in (None, "local"):
        for seeds in chunks:
            total.merge(_chunk(seeds))
            if progress:
                progress(len(seeds))
        return total
    with pool(executor, processes, start="fork") as shards:
        for seeds, part in zip(chunks, shards.map(_chunk, chunks), strict=True):
            total.merge(part)
            if progress:
                progress(len(seeds))
    return total
