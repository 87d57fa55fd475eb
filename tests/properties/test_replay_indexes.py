"""The trace replay's indexes (what makes ``check()`` linear) agree, at every record, with
the scans they replace, on random programs, hostile ones and ones run with seeded bugs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qsession.model import ACTIVE, FINAL_STATUSES, QUEUED
from qsession.properties.mutants import MUTANTS
from qsession.properties.programs import run_null
from qsession.properties.replay import Replay
from qsession.runtime.clock import ClockError
from qsession.runtime.trace import Trace


def _scan_used(spans: list[tuple[int, int]], window: int, now: int) -> int:
    horizon = now - window
    return sum(end - max(start, horizon) for start, end in spans if end > horizon)


def _agree(trace: Trace) -> Iterator[int]:
    state = Replay()
    all_spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in trace:
        job = state.jobs.get(r.id) if r.entity == "job" else None
        if job is not None and job.state == "RUNNING" and r.dest in FINAL_STATUSES:
            assert job.started is not None
            all_spans.setdefault((job.qpu, job.instance), []).append((job.started, r.t))
        state.apply(r)
        for name, q in state.qpus.items():
            scan = sorted((j for j in state.jobs.values() if j.qpu == name and j.state == QUEUED),
                          key=lambda j: j.order)
            assert state.queued_on(name) == scan
            assert state.has_queued(name) == bool(scan)
            active = [s for s in state.sessions.values() if s.qpu == name and s.state == ACTIVE]
            assert state.active_dedicated(name) == next(
                (s for s in active if s.mode == "dedicated"), None)
            assert state.active_batches(name) == sorted(
                (s for s in active if s.mode == "batch"), key=lambda s: s.activated_order)
            for instance in q.spans:
                kept = all_spans.get((name, instance), [])
                assert q.used(instance, r.t) == _scan_used(kept, q.window_us, r.t)
        assert set(state.deadlines) == {s.id for s in state.sessions.values()
                                        if s.started_at is not None and not s.is_final}
        assert set(state.closing) == {s.id for s in state.sessions.values()
                                      if not s.accepting and not s.is_final}
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

    from qsession.properties.replay import QPUView

    rng = random.Random(10)
    for _ in range(50):
        q = QPUView("q", window_us=rng.choice((5, 50, 500)))
        spans: list[tuple[int, int]] = []
        t = 0
        for _ in range(100):
            start = t + rng.randrange(0, 20)
            t = start + rng.randrange(1, 30)  # one job at a time: spans do not overlap
            q.add_span("a", start, t)
            spans.append((start, t))
            now = t + rng.randrange(0, 40)
            assert q.used("a", now) == _scan_used(spans, q.window_us, now)
            t = now
