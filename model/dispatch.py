"""The dispatch rule: which job a free QPU starts next, as one pure function.

The runtime scheduler and the explorer both call ``select``; neither restates the order.
Candidates are passed lazily (iterables), so the scheduler computes fair-share ratios
only when no session or batch job goes first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from .session import INACTIVE, PENDING

J = TypeVar("J")

Via = Literal["session", "batch", "normal"]


@dataclass(frozen=True, slots=True)
class Decision(Generic[J]):
    """What a free QPU does now: start ``job`` (taken from ``via``), hold, or stay idle."""

    action: Literal["start", "hold", "idle"]
    job: J | None = None
    via: Via | None = None


def in_normal_queue(session_state: str | None) -> bool:
    """True when a queued job waits in the normal queue (job mode, pending or inactive session)."""
    return session_state is None or session_state in (PENDING, INACTIVE)


def batch_order(started_at: int, created_at: int, ident: str) -> tuple[int, int, str]:
    """The key that orders started batches: by when their first job started (then by
    creation and id), also after one went inactive and came back. ``started_at`` may be
    any increasing measure (an instant, or the explorer's rank of first starts)."""
    return started_at, created_at, ident


def select(
    active_dedicated: bool,
    session_head: J | None,
    batch_heads: Iterable[J | None],
    normal_heads: Iterable[tuple[float, int, J]],
) -> Decision[J]:
    """Choose for a free QPU, highest first.

    The rule is stated by ``qsession docs semantics "Scheduling and fair share"``:

    1. ``active_dedicated``: the active dedicated session's oldest queued job
       (``session_head``), or, when it has none, *hold* the QPU idle for it;
    2. the first active batch (in ``batch_order``) with a queued job;
    3. the normal queue: the smallest ``(share ratio, submission seq)`` among the heads of
       each instance's FIFO — the least-served instance first, FIFO on ties.
    """
    if active_dedicated:
        if session_head is not None:
            return Decision("start", session_head, "session")
        return Decision("hold")
    for head in batch_heads:
        if head is not None:
            return Decision("start", head, "batch")
    best: tuple[float, int, J] | None = None
    for candidate in normal_heads:
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    if best is None:
        return Decision("idle")
    return Decision("start", best[2], "normal")
