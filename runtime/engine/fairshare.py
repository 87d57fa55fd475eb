"""Fair share for the normal queue: each instance's charged QPU time over a rolling window.

The instance with the smallest used/allocated ratio goes first
(``qsession docs semantics "Scheduling and fair share"``). One ``FairShare`` serves every
QPU of a service, so an instance's use is counted across all of them (IBM: "all usage on
all the QPUs is accounted for"). What is charged is decided by the scheduler (a dedicated
session its billed active time, batch and job-mode jobs their QPU time, user-cancelled and
system-failed jobs nothing); a span counts once it has ended, clipped to the window. The
same use decides an Open-Plan instance's quota.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

DEFAULT_WINDOW_S = 28 * 86_400.0
"""The rolling window fair share and Open-Plan quotas count use over: 28 days, as IBM's."""
DEFAULT_WINDOW_US = round(DEFAULT_WINDOW_S * 1_000_000)
"""``DEFAULT_WINDOW_S`` in microseconds (a trace that configures no window uses it)."""


class FairShare:
    """Rolling-window charged time per instance and the share ratio the normal queue sorts on."""

    def __init__(self, allocations: Mapping[str, float], window_us: int) -> None:
        self.allocations: dict[str, float] = {}
        self.window_us = window_us
        self._spans: dict[str, deque[tuple[int, int]]] = {}
        self._sum: dict[str, int] = {}
        self._longest = 0
        self.add(allocations)

    def add(self, allocations: Mapping[str, float]) -> None:
        """Know more instances (a QPU added to the service may name new ones)."""
        for name, value in allocations.items():
            if name not in self.allocations:
                self.allocations[name] = float(value)
                self._spans[name] = deque()
                self._sum[name] = 0

    @property
    def share(self) -> dict[str, float]:
        """Each instance's allocation as a fraction of the total."""
        total = sum(self.allocations.values())
        return {name: value / total for name, value in self.allocations.items()}

    def record(self, instance: str, start: int, end: int) -> None:
        """Charge ``instance`` for ``[start, end)`` (µs); spans are recorded as they end."""
        if end > start:
            self._spans[instance].append((start, end))
            self._sum[instance] += end - start
            self._longest = max(self._longest, end - start)

    def spans(self, instance: str) -> list[tuple[int, int]]:
        """The spans charged to ``instance`` that may still count, in the order they ended."""
        return list(self._spans[instance])

    def used(self, instance: str, now: int) -> int:
        """Microseconds charged to ``instance`` within ``[now - window, now]``."""
        spans = self._spans[instance]
        horizon = now - self.window_us
        # Spans are recorded in end order, so wholly expired ones are at the left.
        while spans and spans[0][1] <= horizon:
            start, end = spans.popleft()
            self._sum[instance] -= end - start
        used = self._sum[instance]
        # Spans of several QPUs overlap, so more than the first may straddle the horizon;
        # only spans ending before horizon + the longest span can start before it.
        for start, end in spans:
            if end >= horizon + self._longest:
                break
            if start < horizon:
                used -= horizon - start
        return used

    def ratio(self, instance: str, now: int) -> float:
        """Used over allocated share: the normal queue serves the smallest first."""
        return self.used(instance, now) / self.share[instance]

    def below_at(self, instance: str, quota_us: int, now: int) -> int:
        """The first instant >= ``now`` at which ``instance``'s use is below ``quota_us``."""
        if self.used(instance, now) < quota_us:
            return now
        spans = list(self._spans[instance])
        low, high = now, max(end for _, end in spans) + self.window_us
        while low < high:  # used() only falls as the window slides: bisect on it
            mid = (low + high) // 2
            horizon = mid - self.window_us
            used = sum(end - max(start, horizon) for start, end in spans if end > horizon)
            if used < quota_us:
                high = mid
            else:
                low = mid + 1
        return low
