"""B2: scheduler throughput with a null executor, the full lifecycle model in the loop.

The subject is one ``Scheduler`` on a virtual clock with no executor (job durations come
from the timing model; no Aer) and ``Trace(keep=False)``; every session and job move is
fired through the model's transitions machines. The baseline is a SimPy
``Resource(capacity=1)`` single-queue model of the same job stream (``bench.stream``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .common import Result, fmt_rate, interleaved, median, verdict
from .stream import Stream, make_stream, run_qsession, run_simpy

JOBS = 20_000
PER_SESSION = 100
TARGET = 0.5


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B2 (``quick``: 300 jobs, one repetition)."""
    n, repeats = (300, 1) if quick else (JOBS, 5)
    stream = make_stream(n, PER_SESSION)
    for warm in (run_qsession, run_simpy):  # on a prefix: the full stream takes seconds
        warm(_warm(stream))
    runs = interleaved({"qsession": lambda: run_qsession(stream),
                        "simpy": lambda: run_simpy(stream)}, repeats, warmup=False)
    ours = median(x.jobs_per_s for x in runs["qsession"])
    simpy = median(x.jobs_per_s for x in runs["simpy"])
    ratio = ours / simpy
    cost = model_cost(300 if quick else 2_000, 2_000 if quick else 20_000)
    same = {x.ends_digest for x in runs["qsession"]} == {x.ends_digest for x in runs["simpy"]}
    complete = all(x.completed == n for xs in runs.values() for x in xs)
    return Result(
        id="B2",
        figure=f"scheduler throughput, {n:,} jobs in sessions of {PER_SESSION}, null "
               "executor, lifecycle model in the loop",
        subject=f"{fmt_rate(ours, 'jobs')} ({1e6 / ours:.1f} µs/job)",
        baseline=f"{fmt_rate(simpy, 'jobs')} SimPy Resource(1) ({1e6 / simpy:.1f} µs/job)",
        ratio=f"{ratio:.3f}×",
        target=f"≥ {TARGET}× SimPy's jobs/s",
        verdict=verdict(ratio >= TARGET and same and complete),
        notes=[f"medians of {repeats} interleaved repetitions",
               "same schedule as SimPy (every job completes at the same virtual instant) and every "
               "job DONE: "
               f"{'yes' if same and complete else 'NO'}",
               *analysis(cost, 1e6 / ours, 1e6 / simpy)],
        raw={"qsession_jobs_per_s": [x.jobs_per_s for x in runs["qsession"]],
             "simpy_jobs_per_s": [x.jobs_per_s for x in runs["simpy"]], "ratio": ratio,
             "model_cost": cost},
    )


def model_cost(jobs: int, loops: int) -> dict[str, float]:
    """How many model transitions a job of the stream takes, and what one costs (µs).

    Counts ``Lifecycle.fire`` calls over a short stream, then times the same five-event
    mix (job start and finish; session submit, job_started, job_ended) fired on fresh
    lifecycle objects: once through ``Lifecycle.fire`` and once straight through the
    shared machine's ``Event.trigger`` (transitions alone).
    """
    from qsession.model import JobLifecycle, SessionLifecycle
    from qsession.model.lifecycle import Lifecycle

    fires = [0]
    original = Lifecycle.__dict__["fire"]

    def counting(self: Lifecycle, event: str, **facts: Any) -> Any:
        fires[0] += 1
        return original(self, event, **facts)

    Lifecycle.fire = counting  # type: ignore[method-assign]
    try:
        run_qsession(make_stream(jobs, PER_SESSION))
    finally:
        Lifecycle.fire = original  # type: ignore[method-assign]
    job_events = JobLifecycle.machine().events
    session_events = SessionLifecycle.machine().events
    start, finish = job_events["start"].trigger, job_events["finish"].trigger
    submit, started = session_events["submit"].trigger, session_events["job_started"].trigger
    ended = session_events["job_ended"].trigger

    def raw() -> None:
        for i in range(loops):
            job, session = JobLifecycle(i), SessionLifecycle(i)
            submit(session)
            start(job)
            started(session)
            finish(job)
            ended(session, in_flight=1)

    def fired() -> None:
        for i in range(loops):
            job, session = JobLifecycle(i), SessionLifecycle(i)
            session.fire("submit")
            job.fire("start")
            session.fire("job_started")
            job.fire("finish")
            session.fire("job_ended", in_flight=1)

    def best(fn: Callable[[], None]) -> float:
        times = []
        for _ in range(3):
            began = time.perf_counter()
            fn()
            times.append(time.perf_counter() - began)
        return min(times) / (5 * loops) * 1e6

    return {"fires_per_job": fires[0] / jobs, "trigger_us": best(raw), "fire_us": best(fired)}


def analysis(cost: dict[str, float], ours_us: float, simpy_us: float) -> list[str]:
    """Why the ratio is what it is: the model's share of a job, and the ceiling it sets."""
    per_job = cost["fires_per_job"]
    model_us = per_job * cost["fire_us"]
    transitions_us = per_job * cost["trigger_us"]
    return [
        f"profile: a job takes {per_job:.2f} model transitions (session submit, job start, "
        f"session job_started, job finish, session job_ended); one costs "
        f"{cost['fire_us']:.1f} µs through Lifecycle.fire, {cost['trigger_us']:.1f} µs of it "
        f"in transitions' Event.trigger; so {model_us:.0f} of the {ours_us:.0f} µs a job "
        f"takes are the model ({transitions_us:.0f} µs transitions alone), the rest the "
        "scheduler, clock and trace",
        f"SimPy's whole job costs {simpy_us:.1f} µs; the job's transitions triggers alone "
        f"cost {transitions_us / simpy_us:.1f}× that, so with {per_job:.0f} triggers per job "
        f"even a free scheduler could not exceed {simpy_us / transitions_us:.2f}×. The target "
        f"allows {2 * simpy_us:.0f} µs per job in all: room for "
        f"{2 * simpy_us / cost['trigger_us']:.1f} triggers and nothing else",
        "what would close it: nothing that keeps the model in charge. Three of the five "
        "moves (session submit, job_started while active, job_ended while jobs remain) "
        "change no state, but they are where the model's guards decide (is_accepting, "
        "is_drained): skipping them would move those decisions into the scheduler. Nor is "
        "the model the only cost: the scheduler, clock and trace take "
        f"{ours_us - model_us:.0f} µs per job by themselves (about 9 trace records, two "
        "timers, the dispatch rule, the lock every call takes), "
        f"{(ours_us - model_us) / simpy_us:.1f}× SimPy's whole job, so even a free model "
        f"would reach {simpy_us / (ours_us - model_us):.2f}×. SimPy's process does none of "
        "that work (no session, no record, no timeout)",
    ]


def _warm(stream: Stream) -> Stream:
    """A short prefix of the stream, to warm imports and caches before timing."""
    k = min(stream.n, 200)
    return Stream(stream.arrivals[:k], stream.durations[:k], stream.per_session)
