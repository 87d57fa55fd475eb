"""Fair share for the normal queue: each instance's QPU use over a rolling window.

The instance with the smallest used/allocated ratio goes first (SPEC §5). Use is the
quantum seconds of its jobs that ended within the window, clipped to the window; a
running job counts once it ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping


class FairShare:
    """Rolling-window QPU use per instance and the share ratio the normal queue sorts on."""

    def __init__(self, allocations: Mapping[str, float], window_us: int) -> None:
        total = sum(allocations.values())
        self.share = {name: value / total for name, value in allocations.items()}
        self.window_us = window_us
        self._spans: dict[str, deque[tuple[int, int]]] = {n: deque() for n in allocations}
        self._sum: dict[str, int] = dict.fromkeys(allocations, 0)

    def record(self, instance: str, start: int, end: int) -> None:
        """Count a job of ``instance`` that held the QPU from ``start`` to ``end`` (µs)."""
        if end > start:
            self._spans[instance].append((start, end))
            self._sum[instance] += end - start

    def used(self, instance: str, now: int) -> int:
        """Microseconds ``instance`` used within ``[now - window, now]``."""
        spans = self._spans[instance]
        horizon = now - self.window_us
        # Spans end in order (one QPU runs one job at a time), so expired ones are at the left.
        while spans and spans[0][1] <= horizon:
            start, end = spans.popleft()
            self._sum[instance] -= end - start
        used = self._sum[instance]
        if spans and spans[0][0] < horizon:
            used -= horizon - spans[0][0]
        return used

    def ratio(self, instance: str, now: int) -> float:
        """Used over allocated share: the normal queue serves the smallest first."""
        return self.used(instance, now) / self.share[instance]
