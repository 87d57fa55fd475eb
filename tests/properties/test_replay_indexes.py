"""The trace replay's indexes (what makes ``check()`` linear) agree, at every record, with
the scans they replace, on random programs, hostile ones and ones run with seeded bugs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qsession.model import ACTIVE, QUEUED
from qsession.properties.mutants import MUTANTS
from qsession.properties.programs import run_null
from qsession.properties.replay import Replay
from qsession.runtime import Trace
from qsession.runtime.engine.clock import ClockError


def _scan_used(spans: list[tuple[int, int]], window: int, now: int) -> int:
    horizon = now - window
    return sum(end - max(start, horizon) for start, end in spans if end > horizon)


class _Scanned(Replay):
    """A replay that also keeps every charged span in a plain list, to scan."""

    def __init__(self) -> None:
        super().__init__()
        self.all_spans: dict[str, list[tuple[int, int]]] = {}

    def _charge(self, instance: str | None, start: int, end: int) -> None:
        super()._charge(instance, start, end)
        if instance is not None and end > start:
            self.all_spans.setdefault(instance, []).append((start, end))


def _agree(trace: Trace) -> Iterator[int]:
    state = _Scanned()
    for r in trace:
        state.apply(r)
        for name in state.qpus:
            scan = sorted((j for j in state.jobs.values() if j.qpu == name and j.state == QUEUED),
                          key=lambda j: j.order)
            assert state.queued_on(name) == scan
            assert state.has_queued(name) == bool(scan)
            active = [s for s in state.sessions.values() if s.qpu == name and s.state == ACTIVE]
            assert state.active_dedicated(name) == next(
                (s for s in active if s.mode == "dedicated"), None)
            assert state.active_batches(name) == sorted(
                (s for s in active if s.mode == "batch"), key=lambda s: s.activated_order)
        assert set(state.deadlines) == {s.id for s in state.sessions.values()
                                        if s.started_at is not None and not s.is_final}
        assert set(state.closing) == {s.id for s in state.sessions.values()
                                      if not s.accepting and not s.is_final}
        assert set(state.unused) == {s.id for s in state.sessions.values()
                                     if s.idle_close_deadline is not None}
        for instance, spans in state.all_spans.items():  # the ledger across every QPU
            assert state.used(instance, r.t) == _scan_used(spans, state.window_us, r.t)
        yield r.seq


@pytest.mark.parametrize("hostile", [False, True])
def test_indexes_agree_with_scans_on_random_programs(hostile: bool) -> None:
    for seed in range(40):
        assert list(_agree(run_null(seed, hostile=hostile)))


def test_indexes_agree_with_scans_under_seeded_bugs() -> None:
    checked = 0
    for mutant in MUTANTS:
        traces = []
        with mutant.applied():
            for seed in range(8):
                try:
                    traces.append(run_null(seed))
                except ClockError:  # the bug left a job that can never end: no trace back
                    continue
        for trace in traces:
            assert list(_agree(trace)), mutant.name
            checked += 1
    assert checked > 8 * len(MUTANTS) // 2


def test_windowed_use_matches_the_scan_as_spans_leave_the_window() -> None:
    import random

    from qsession.properties.replay import WindowedUse

    rng = random.Random(10)
    for _ in range(50):
        window = rng.choice((5, 50, 500))
        ledger = WindowedUse()
        # Spans of three QPUs overlap and are charged in end order, as a trace ends them;
        # some are long (a session's active span) and reach back past the window's start.
        spans = sorted(((start, start + rng.choice((rng.randrange(1, 30), 600)))
                        for start in (rng.randrange(0, 2_000) for _ in range(100))),
                       key=lambda span: span[1])
        charged: list[tuple[int, int]] = []
        now = 0
        for start, end in spans:
            now = max(now, end) + rng.randrange(0, 40)
            ledger.add(start, end)
            charged.append((start, end))
            assert ledger.used(now - window) == _scan_used(charged, window, now)
