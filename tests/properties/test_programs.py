"""Determinism and replay over 100 seeds, and a small campaign with nothing lost."""

from __future__ import annotations

import pytest

from qsession.properties.invariants import check
from qsession.properties.programs import campaign, run_aer, run_null
from qsession.runtime.engine.replay import replay

SEEDS = range(100)


@pytest.mark.parametrize("chunk", range(10))
def test_same_seed_same_trace_and_the_replay_reproduces_it(chunk: int) -> None:
    for seed in SEEDS[chunk * 10:(chunk + 1) * 10]:
        first = run_aer(seed, steps=10)
        second = run_aer(seed, steps=10)
        assert first.dumps() == second.dumps(), f"seed {seed} is not deterministic"
        result = replay(first)
        assert result.identical, f"seed {seed}: {result.difference}"
        assert check(first, settled=True).ok


def test_different_seeds_give_different_programs() -> None:
    assert run_null(1).dumps() != run_null(2).dumps()


@pytest.mark.heavy  # side processes
def test_a_campaign_across_processes_loses_and_duplicates_nothing() -> None:
    result = campaign(600, processes=2, chunk=150)
    assert result.runs == 600 and result.jobs > 2000
    assert (result.lost, result.duplicated) == (0, 0)
    assert not result.violations, result.failing_seeds[:5]
    serial = campaign(600, processes=1, chunk=150)
    assert (serial.jobs, serial.records) == (result.jobs, result.records)


def test_replay_reports_the_first_difference() -> None:
    import dataclasses

    trace = run_null(7)
    index = next(i for i, r in enumerate(trace.records) if r.event == "dispatch")
    original = trace.records[index]
    trace.records[index] = dataclasses.replace(original, data={**original.data, "via": "x"})
    result = replay(trace)
    assert not result.identical and result.difference is not None
    assert result.difference.index == index
    assert result.difference.recorded is trace.records[index]
    assert result.difference.replayed == original
