"""B3: the scheduler at scale — 10k, 100k and 1M jobs over 1 % as many sessions.

Each size runs alone in a fresh interpreter (``python -m bench.b3_scale --child N``), which
reports its wall time and its own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``), so the
1M case's memory is measured alone. The stream and the scheduler are B2's
(``bench.stream``): dedicated sessions of 100 consecutive jobs, null executor,
``Trace(keep=False)``. The figure is the per-job cost at each size against 10k's.
"""

from __future__ import annotations

import argparse
import json
import resource
from typing import Any

from .common import Result, in_fresh_interpreter, label, median, verdict

SIZES = (10_000, 100_000, 1_000_000)
REPEATS = {10_000: 5, 100_000: 3, 1_000_000: 1}
PER_SESSION = 100  # 1 % as many sessions as jobs
COST_TARGET = 1.3
RSS_TARGET_GB = 1.5


def child(n: int) -> dict[str, Any]:
    """Run one size in this process; return its measurements."""
    from .stream import make_stream, run_qsession

    stream = make_stream(n, PER_SESSION)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_qsession(stream)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"n": n, "seconds": result.seconds, "per_job_us": result.seconds / n * 1e6,
            "completed": result.completed, "makespan_us": result.makespan_us,
            "rss_before_kib": before, "peak_rss_kib": peak}


def measure(n: int) -> dict[str, Any]:
    """Run one size in a fresh interpreter and return what it reports."""
    return in_fresh_interpreter("bench.b3_scale", "--child", str(n),
                                what=f"B3 child for {n} jobs")


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B3 (``quick``: 1,000 and 3,000 jobs, one run each)."""
    sizes = (1_000, 3_000) if quick else SIZES
    repeats = dict.fromkeys(sizes, 1) if quick else REPEATS
    reports: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    # Small sizes interleaved round by round; the largest alone at the end.
    rounds = max(repeats[n] for n in sizes)
    for r in range(rounds):
        for n in sizes[:-1]:
            if r < repeats[n]:
                reports[n].append(measure(n))
    for _ in range(repeats[sizes[-1]]):
        reports[sizes[-1]].append(measure(sizes[-1]))
    per_job = {n: median(x["per_job_us"] for x in reports[n]) for n in sizes}
    base, top = sizes[0], sizes[-1]
    cost_ratio = per_job[top] / per_job[base]
    peak_gb = max(x["peak_rss_kib"] for x in reports[top]) * 1024 / 1e9
    ok_cost = cost_ratio <= COST_TARGET
    ok_rss = peak_gb <= RSS_TARGET_GB
    complete = all(x["completed"] == n for n in sizes for x in reports[n])
    costs = ", ".join(f"{label(n)} {per_job[n]:.1f} µs" for n in sizes)
    ratios = ", ".join(f"{label(n)} {per_job[n] / per_job[base]:.2f}×" for n in sizes[1:])
    return Result(
        id="B3",
        figure=f"scale: {', '.join(label(n) for n in sizes)} jobs over 1 % as many sessions",
        subject=f"per job {costs}; peak RSS at {label(top)} {peak_gb:.2f} GB",
        baseline=f"itself at {label(base)} ({per_job[base]:.1f} µs/job)",
        ratio=ratios,
        target=f"{label(top)} per-job cost ≤ {COST_TARGET}× {label(base)}'s; peak RSS "
               f"≤ {RSS_TARGET_GB} GB at {label(top)}",
        verdict=verdict(ok_cost and ok_rss and complete),
        notes=[
            "each size in a fresh interpreter; runs per size: "
            + ", ".join(f"{label(n)} ×{repeats[n]}" for n in sizes)
            + " (medians)",
            f"per-job cost {label(top)}/{label(base)}: {cost_ratio:.2f}× "
            f"({'PASS' if ok_cost else 'MISS'}); peak RSS {peak_gb:.2f} GB "
            f"({'PASS' if ok_rss else 'MISS'}); RSS after imports and stream "
            f"{reports[top][0]['rss_before_kib'] * 1024 / 1e9:.2f} GB",
            f"every job DONE at every size: {'yes' if complete else 'NO'}",
        ],
        raw={"reports": {str(n): reports[n] for n in sizes}, "cost_ratio": cost_ratio,
             "peak_rss_gb": peak_gb},
    )


def main() -> None:
    """``--child N``: run one size and print its measurements as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.b3_scale")
    parser.add_argument("--child", type=int, required=True, help="jobs to run in this process")
    args = parser.parse_args()
    print(json.dumps(child(args.child)))


if __name__ == "__main__":
    main()
