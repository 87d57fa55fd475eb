"""The seeded mixed workload B10 and B14 write their traces with, on one QPU's scheduler.

About 75 % load: job-mode jobs and runs of 10 jobs in dedicated sessions or batches, on
two instances ("a" and "b"), 0.5-2 s each with exponential gaps (mean 1.6 s); some
sessions run into their max TTL, and the next job then opens another. Jobs run the
scheduler's null executor (kind ``null``), so a large history takes seconds to build.
"""

from __future__ import annotations

import random
from typing import Any


def run_mixed(scheduler: Any, clock: Any, jobs: int, seed: int) -> None:
    """Submit ``jobs`` jobs to ``scheduler`` as they arrive on ``clock`` and run until all
    have ended; the session left open at the end is closed."""
    from qsession.model import Mode
    from qsession.runtime import IBMRuntimeError
    from qsession.runtime.engine.clock import to_us

    rng = random.Random(seed)
    state: dict[str, Any] = {"left": jobs, "session": None, "in_session": 0}

    def arrive() -> None:
        state["left"] -= 1
        duration = to_us(rng.choice((0.5, 1.0, 2.0)))
        if rng.random() < 0.5:
            if state["session"] is None:
                mode: Mode = rng.choice(("dedicated", "batch"))
                state["session"] = scheduler.open_session(
                    mode, max_time_us=to_us(rng.choice((30.0, 300.0))),
                    ittl_us=to_us(2.0 if mode == "dedicated" else 1.0),
                    instance=rng.choice("ab"))
                state["in_session"] = 0
            session = state["session"]
            try:
                scheduler.submit(session, instance=session.instance, kind="null",
                                 payload=None, duration_us=duration)
            except IBMRuntimeError:  # it expired meanwhile: the next job opens another
                state["session"] = None
            state["in_session"] += 1
            if state["in_session"] >= 10 and state["session"] is not None:
                scheduler.close(state["session"])
                state["session"] = None
        else:
            scheduler.submit(None, instance=rng.choice("ab"), kind="null", payload=None,
                             duration_us=duration)
        if state["left"] > 0:
            clock.call_at(clock.now() + to_us(rng.expovariate(1 / 1.6)), arrive)

    clock.call_at(0, arrive)
    clock.wait_for(lambda: state["left"] <= 0 and scheduler.is_idle())
    if state["session"] is not None:
        scheduler.close(state["session"])
