"""B14: the live page's poll, ``GET /page/live``, at 1k, 10k and 100k jobs.

A server on the virtual clock is given a history of N jobs (the seeded mixed workload of
B10 — dedicated sessions and batches of 10 jobs and job-mode jobs on two instances at
about 75 % load — written by the emulator's own scheduler with a null executor, so
building 100k jobs takes seconds, not an Aer run each), then a fixed live tail: an open
session and a queue of 20 jobs. The page is polled as a browser polls it: each poll after
virtual time moved by 0.05 s, with the version and the part digests of the previous
answer, over HTTP to the real server. Each size's server runs in a fresh interpreter; all
are up at once and polled in rounds (one poll of each, who goes first rotating), so the
sizes share the machine's load alike. The figure is the median CPU time of a poll (the
server's process: server and polling client) at 100k against the median at 1k: the poll
must cost what the page shows, not what the trace holds. Wall times are noted beside it:
on a machine shared with other work they vary with everyone else's load.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from .common import REPO, Result, label, median, verdict
from .workload import run_mixed

SIZES = (1_000, 10_000, 100_000)
POLLS = 100
TARGET = 2.0


def build(jobs: int, seed: int = 1) -> Any:
    """A virtual-clock server whose trace holds ``jobs`` finished jobs and a live tail."""
    from qsession.runtime.engine.clock import to_us
    from qsession.server import Emulator, Instance, Server

    emulator = Emulator(clock="virtual", noise=False, backends=("qsession_ideal",),
                        instances=[Instance("a", "premium", 2.0),
                                   Instance("b", "premium", 1.0)], seed=seed)
    service: Any = emulator.service
    scheduler = service.schedulers["qsession_ideal"]
    clock = service.clock

    from qsession.runtime.engine import scheduler as module

    # Jobs that run no circuit: the scheduler's null executor instead of the QPU's.
    scheduler.executor = module._null_executor
    with clock.lock:
        run_mixed(scheduler, clock, jobs, seed)
        # The live tail: a session holding the QPU and 20 jobs queued behind a long one.
        tail = scheduler.open_session("dedicated", max_time_us=to_us(3600.0),
                                      ittl_us=to_us(60.0), instance="a")
        scheduler.submit(tail, instance="a", kind="null", payload=None,
                         duration_us=to_us(600.0))
        for i in range(20):
            scheduler.submit(None, instance="ab"[i % 2], kind="null", payload=None,
                             duration_us=to_us(1.0))
    return Server(emulator).start()


class Poller:
    """One size's server in this process, polled as the page polls it."""

    def __init__(self, jobs: int) -> None:
        began = time.perf_counter()
        self.server = build(jobs)
        self.build_s = time.perf_counter() - began
        self.version, self.digests = "", ""

    def poll(self) -> tuple[float, float, int]:
        """Move virtual time by 0.05 s, then one poll: its wall seconds, the CPU seconds
        this process (server and client) spent on it, and the answer's bytes."""
        import urllib.request

        self.server.advance(0.05)
        url = f"{self.server.url}/page/live?v={self.version}&h={self.digests}"
        start, cpu = time.perf_counter(), time.process_time()
        with urllib.request.urlopen(url, timeout=600) as response:
            raw = response.read()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        body = json.loads(raw)
        self.version = body.get("version", self.version)
        self.digests = body.get("digests", "")
        return seconds, cpu, len(raw)


def child(jobs: int) -> None:
    """Build one size, then answer the parent's lines on stdin: ``poll`` (one poll, its
    seconds and bytes as JSON) and ``stop`` (the trace's record count, then exit)."""
    poller = Poller(jobs)
    print(json.dumps({"built_s": poller.build_s}), flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "poll":
                seconds, cpu, size = poller.poll()
                print(json.dumps({"s": seconds, "cpu": cpu, "bytes": size}), flush=True)
            else:
                print(json.dumps({"records": poller.server.emulator.trace.count}), flush=True)
                break
    finally:
        poller.server.stop()


class Child:
    """A size's server in a fresh interpreter, driven one poll at a time."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.b14_page", "--child", str(jobs)], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.build_s = float(self.ask(None)["built_s"])

    def ask(self, line: str | None) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if line is not None:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"B14's server of {self.jobs} jobs ended (status "
                               f"{self.proc.wait()})")
        reply: dict[str, Any] = json.loads(answer)
        return reply

    def stop(self) -> int:
        records = int(self.ask("stop")["records"])
        self.proc.wait(timeout=120)
        return records


def measure(sizes: tuple[int, ...], polls: int = POLLS) -> dict[int, dict[str, Any]]:
    """Every size's server up at once (built one after the other, each in a fresh
    interpreter), then polled in rounds, one poll of each per round, who goes first
    rotating: the sizes share the machine's load alike."""
    children: list[Child] = []
    try:
        for jobs in sizes:
            children.append(Child(jobs))
        times: dict[int, list[float]] = {n: [] for n in sizes}
        cpus: dict[int, list[float]] = {n: [] for n in sizes}
        sizes_b: dict[int, list[int]] = {n: [] for n in sizes}
        for round_ in range(polls + 2):  # the first two are untimed: imports, first render
            k = round_ % len(children)
            for c in children[k:] + children[:k]:
                answer = c.ask("poll")
                if round_ >= 2:
                    times[c.jobs].append(float(answer["s"]))
                    cpus[c.jobs].append(float(answer["cpu"]))
                    sizes_b[c.jobs].append(int(answer["bytes"]))
        return {c.jobs: {"jobs": c.jobs, "records": c.stop(), "build_s": c.build_s,
                         "poll_s": times[c.jobs], "cpu_s": cpus[c.jobs],
                         "bytes": sizes_b[c.jobs]}
                for c in children}
    finally:
        for c in children:
            if c.proc.poll() is None:
                c.proc.kill()
                c.proc.wait()


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B14 (``quick``: 100 and 300 jobs, 3 polls each)."""
    sizes = (100, 300) if quick else SIZES
    polls = 3 if quick else POLLS
    reports = measure(sizes, polls)
    poll = {n: median(reports[n]["cpu_s"]) for n in sizes}
    wall = {n: median(reports[n]["poll_s"]) for n in sizes}
    base, top = sizes[0], sizes[-1]
    ratio = poll[top] / poll[base]
    shown = ", ".join(f"{label(n)}: {poll[n] * 1e3:.1f} ms CPU, {wall[n] * 1e3:.1f} ms wall, "
                      f"{median(reports[n]['bytes']) / 1e3:.1f} kB"
                      for n in sizes)
    return Result(
        id="B14",
        figure=f"GET /page/live (a poll after time moved) at {', '.join(label(n) for n in sizes)}"
               " jobs",
        subject=f"{label(top)} jobs: {poll[top] * 1e3:.1f} ms of CPU a poll",
        baseline=f"the same page at {label(base)} jobs: {poll[base] * 1e3:.1f} ms",
        ratio=f"{ratio:.2f}×",
        target=f"{label(top)} ≤ {TARGET}× {label(base)}",
        verdict=verdict(ratio <= TARGET),
        notes=[
            f"median of {polls} polls per size (after 2 untimed), in rounds of one poll per "
            "size (who goes first rotating, every size's server up at once, each in its own "
            "interpreter), each after 0.05 s of virtual time, carrying the previous "
            "answer's version and part digests; the figure is the CPU time the server's "
            "process (server and polling client) spent on a poll, which other programs' "
            "load on a shared machine does not inflate as it does the wall time; "
            f"per size (medians, answer size): {shown}",
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
    """``--child N``: build a server with N jobs, then poll it when the parent asks."""
    parser = argparse.ArgumentParser(prog="python -m bench.b14_page")
    parser.add_argument("--child", type=int, required=True, help="jobs in the history")
    args = parser.parse_args()
    child(args.child)


if __name__ == "__main__":
    main()
