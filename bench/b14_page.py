"""B14: the live page's poll, ``GET /page/live``, at 1k, 10k and 100k jobs.

A server on the virtual clock is given a history of N jobs (the seeded mixed workload of
B10 — dedicated sessions and batches of 10 jobs and job-mode jobs on two instances at
about 75 % load — written by the emulator's own scheduler with a null executor, so
building 100k jobs takes seconds, not an Aer run each), then a fixed live tail: an open
session and a queue of 20 jobs. The page is polled as a browser polls it: each poll after
virtual time moved by 0.05 s, with the version and the part digests of the previous
answer, over HTTP to the real server. Each size runs in a fresh interpreter. The figure
is the median poll at 100k against the median at 1k: the poll must cost what the page
shows, not what the trace holds.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from typing import Any

from .b10_check import label
from .common import REPO, Result, median, verdict

SIZES = (1_000, 10_000, 100_000)
POLLS = 30
TARGET = 2.0


def build(jobs: int, seed: int = 1) -> Any:
    """A virtual-clock server whose trace holds ``jobs`` finished jobs and a live tail."""
    from qsession.model import Mode
    from qsession.runtime import IBMRuntimeError
    from qsession.runtime.engine.clock import to_us
    from qsession.server import Emulator, Instance, Server

    emulator = Emulator(clock="virtual", noise=False, backends=("qsession_ideal",),
                        instances=[Instance("a", "premium", 2.0),
                                   Instance("b", "premium", 1.0)], seed=seed)
    service: Any = emulator.service
    scheduler = service.schedulers["qsession_ideal"]
    clock = service.clock
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
            except IBMRuntimeError:
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

    from qsession.runtime.engine import scheduler as module

    # Jobs that run no circuit: the scheduler's null executor instead of the QPU's.
    scheduler.executor = module._null_executor
    with clock.lock:
        clock.call_at(0, arrive)
        clock.wait_for(lambda: state["left"] <= 0 and scheduler.is_idle())
        if state["session"] is not None:
            scheduler.close(state["session"])
        # The live tail: a session holding the QPU and 20 jobs queued behind a long one.
        tail = scheduler.open_session("dedicated", max_time_us=to_us(3600.0),
                                      ittl_us=to_us(60.0), instance="a")
        scheduler.submit(tail, instance="a", kind="null", payload=None,
                         duration_us=to_us(600.0))
        for i in range(20):
            scheduler.submit(None, instance="ab"[i % 2], kind="null", payload=None,
                             duration_us=to_us(1.0))
    return Server(emulator).start()


def child(jobs: int, polls: int = POLLS) -> dict[str, Any]:
    """Build one size in this process, poll its page, report the polls' times and sizes."""
    import urllib.request

    began = time.perf_counter()
    server = build(jobs)
    built = time.perf_counter() - began
    try:
        version, digests = "", ""
        times: list[float] = []
        sizes: list[int] = []
        for poll in range(polls + 2):  # the first two are untimed: imports, first render
            server.advance(0.05)
            url = f"{server.url}/page/live?v={version}&h={digests}"
            start = time.perf_counter()
            with urllib.request.urlopen(url, timeout=600) as response:
                raw = response.read()
            seconds = time.perf_counter() - start
            body = json.loads(raw)
            version = body.get("version", version)
            digests = body.get("digests", "")
            if poll >= 2:
                times.append(seconds)
                sizes.append(len(raw))
        records = server.emulator.trace.count
    finally:
        server.stop()
    return {"jobs": jobs, "records": records, "build_s": built, "poll_s": times,
            "bytes": sizes}


def measure(jobs: int, polls: int = POLLS) -> dict[str, Any]:
    """One size in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-m", "bench.b14_page", "--child", str(jobs),
                           "--polls", str(polls)],
                          cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"B14 child for {jobs} jobs failed:\n{proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B14 (``quick``: 100 and 300 jobs, 3 polls each)."""
    sizes = (100, 300) if quick else SIZES
    polls = 3 if quick else POLLS
    reports = {n: measure(n, polls) for n in sizes}
    poll = {n: median(reports[n]["poll_s"]) for n in sizes}
    base, top = sizes[0], sizes[-1]
    ratio = poll[top] / poll[base]
    shown = ", ".join(f"{label(n)}: {poll[n] * 1e3:.1f} ms, "
                      f"{median(reports[n]['bytes']) / 1e3:.1f} kB"
                      for n in sizes)
    return Result(
        id="B14",
        figure=f"GET /page/live (a poll after time moved) at {', '.join(label(n) for n in sizes)}"
               " jobs",
        subject=f"{label(top)} jobs: {poll[top] * 1e3:.1f} ms a poll",
        baseline=f"the same page at {label(base)} jobs: {poll[base] * 1e3:.1f} ms",
        ratio=f"{ratio:.2f}×",
        target=f"{label(top)} ≤ {TARGET}× {label(base)}",
        verdict=verdict(ratio <= TARGET),
        notes=[
            f"median of {polls} polls per size (after 2 untimed), each after 0.05 s of "
            "virtual time, carrying the previous answer's version and part digests; "
            f"per size (median poll, answer size): {shown}",
            "trace records: " + ", ".join(f"{label(n)}: {reports[n]['records']:,}"
                                          for n in sizes)
            + "; building the history (null executor): "
            + ", ".join(f"{label(n)}: {reports[n]['build_s']:.1f} s" for n in sizes),
            "before the page kept its own incremental view (each poll re-read the whole "
            "trace and rendered every row and bar): 1.6 s a poll at 3,000 jobs, 28.6 s "
            "(11 MB) at 10,000",
        ],
        raw={"ratio": ratio, "reports": {str(n): reports[n] for n in sizes}},
    )


def main() -> None:
    """``--child N``: build a server with N jobs, poll its page, print JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.b14_page")
    parser.add_argument("--child", type=int, required=True, help="jobs in the history")
    parser.add_argument("--polls", type=int, default=POLLS, help="timed polls")
    args = parser.parse_args()
    print(json.dumps(child(args.child, args.polls)))


if __name__ == "__main__":
    main()
