"""The job stream of B2 and B3, and the two simulators that process it.

A stream is ``n`` jobs with Poisson arrivals and durations from the QPU timing model
(``TimingModel.job_microseconds`` of a fixed 2 µs circuit and shot counts drawn from a
seeded RNG), at an offered load of 0.9. Jobs belong to dedicated sessions in consecutive
blocks of ``per_session`` jobs: a session opens when its first job arrives and is closed
right after its last job is submitted, so the next session's first job waits in the
normal queue while the previous session drains.

With that shape the qsession schedule is FIFO, so a SimPy ``Resource(capacity=1)`` fed
the same arrivals and durations must end at the same virtual instant: both results carry
the same completion instant for every job, and the bench checks they agree.
"""

from __future__ import annotations

import random
import time
from array import array
from dataclasses import dataclass
from typing import Any

SHOTS = (100, 500, 1_000, 4_000)
CIRCUIT_S = 2e-6
LOAD = 0.9


@dataclass(frozen=True)
class Stream:
    """Arrival instants and durations (µs) of ``n`` jobs, and their session block size."""

    arrivals: array[int]
    durations: array[int]
    per_session: int

    @property
    def n(self) -> int:
        """Number of jobs."""
        return len(self.arrivals)


@dataclass(frozen=True)
class Run:
    """One simulation of a stream: wall seconds, virtual makespan (µs), jobs completed, and
    a digest of every job's completion instant in stream order (equal digests: the same
    schedule)."""

    seconds: float
    makespan_us: int
    completed: int
    ends_digest: int

    @property
    def jobs_per_s(self) -> float:
        """Jobs processed per wall second."""
        return self.completed / self.seconds


def make_stream(n: int, per_session: int, seed: int = 1) -> Stream:
    """A seeded stream of ``n`` jobs in sessions of ``per_session`` jobs."""
    from qsession.runtime.engine.timing import TimingModel

    timing = TimingModel()
    by_shots = {s: timing.job_microseconds([(CIRCUIT_S, s)]) for s in SHOTS}
    rng = random.Random(seed)
    durations = array("q", (by_shots[rng.choice(SHOTS)] for _ in range(n)))
    mean_gap = (sum(by_shots.values()) / len(by_shots)) / LOAD
    arrivals = array("q")
    t = 0
    for _ in range(n):
        t += max(1, round(rng.expovariate(1 / mean_gap)))
        arrivals.append(t)
    return Stream(arrivals, durations, per_session)


def run_qsession(stream: Stream) -> Run:
    """Process the stream on one qsession ``Scheduler`` (virtual clock, null executor,
    ``Trace(keep=False)``): every session and job move goes through the lifecycle model."""
    from qsession.runtime import QPUSettings, Trace
    from qsession.runtime.engine.clock import VirtualClock, to_us
    from qsession.runtime.engine.scheduler import Scheduler

    clock = VirtualClock()
    settings = QPUSettings()
    scheduler = Scheduler("bench_qpu", clock, Trace(keep=False), settings, None)
    arrivals, durations, per_session = stream.arrivals, stream.durations, stream.per_session
    n = stream.n
    max_time_us = to_us(settings.max_time)
    ittl_us = to_us(settings.interactive_timeout)
    instance = settings.default_instance
    submit, open_session, close = scheduler.submit, scheduler.open_session, scheduler.close
    call_at = clock.call_at
    state: dict[str, Any] = {"next": 0, "session": None}

    def arrive() -> None:
        i = state["next"]
        if i % per_session == 0:
            state["session"] = open_session("dedicated", max_time_us=max_time_us,
                                            ittl_us=ittl_us, instance=instance)
        session = state["session"]
        submit(session, instance=instance, kind="null", payload=None,
               duration_us=durations[i])
        if i % per_session == per_session - 1 or i == n - 1:
            close(session)
        state["next"] = i + 1
        if i + 1 < n:
            call_at(arrivals[i + 1], arrive, label="arrival")

    def done() -> bool:
        return state["next"] == n and scheduler.is_idle()

    began = time.perf_counter()
    call_at(arrivals[0], arrive, label="arrival")
    clock.wait_for(done)
    seconds = time.perf_counter() - began
    jobs = list(scheduler.jobs.values())  # in submission order, i.e. stream order
    completed = sum(1 for job in jobs if job.state == "DONE")
    return Run(seconds, clock.now(), completed, hash(tuple(job.finished for job in jobs)))


def run_simpy(stream: Stream) -> Run:
    """Process the same stream through a SimPy ``Resource(capacity=1)`` single FIFO queue."""
    import simpy

    env = simpy.Environment()
    qpu = simpy.Resource(env, capacity=1)
    finished = [0, 0]  # completed jobs, last completion instant
    ends = [0] * stream.n

    def job(index: int, duration: int) -> Any:
        with qpu.request() as request:
            yield request
            yield env.timeout(duration)
        finished[0] += 1
        finished[1] = ends[index] = int(env.now)

    def source() -> Any:
        previous = 0
        for index, (at, duration) in enumerate(zip(stream.arrivals, stream.durations,
                                                   strict=True)):
            yield env.timeout(at - previous)
            previous = at
            env.process(job(index, duration))

    env.process(source())
    began = time.perf_counter()
    env.run()
    seconds = time.perf_counter() - began
    return Run(seconds, int(finished[1]), finished[0], hash(tuple(ends)))
