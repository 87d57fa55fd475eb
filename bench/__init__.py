"""Benchmarks B1–B14: each prints a ratio against a baseline measured in the same run.

Run them with ``make bench`` (``python -m bench`` from the repository root). Absolute
times on these machines are not stable, so every figure that has a baseline is a ratio
against it, measured interleaved with the subject (medians of several repetitions) or,
for start-up time, best of several. The bench writes ``docs/performance.md``.

They are not timed tests: ``make test`` only runs each benchmark's ``quick`` variant
(tiny sizes, no timing assertions) to keep the code working.
"""

from __future__ import annotations

BENCHMARKS: tuple[str, ...] = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11",
                               "B12", "B13", "B14")
"""Every benchmark id, in table order."""
