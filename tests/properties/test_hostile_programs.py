"""Random programs whose timer callbacks raise, re-enter the clock and cancel jobs: every
job still settles, every invariant holds, and ``replay`` reproduces the trace exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qsession.model import FINAL_STATUSES
from qsession.properties import programs
from qsession.properties.invariants import check
from qsession.properties.programs import run_null
from qsession.runtime.engine.clock import ReentrantCallError, VirtualClock
from qsession.runtime.engine.replay import replay


@given(seed=st.integers(min_value=0, max_value=2**32 - 1),
       steps=st.integers(min_value=5, max_value=60))
def test_hostile_programs_settle_every_job_and_replay_exactly(seed: int, steps: int) -> None:
    trace = run_null(seed, steps, hostile=True)
    created = {r.id for r in trace if r.entity == "job" and r.event == "create"}
    final = {r.id for r in trace if r.entity == "job" and r.dest in FINAL_STATUSES}
    assert created == final, f"seed {seed}: jobs left non-final: {sorted(created - final)}"
    report = check(trace, settled=True)
    assert report.ok, [str(v) for v in report.violations]
    times = [r.t for r in trace]
    assert times == sorted(times), f"seed {seed}: time went back"
    result = replay(trace)
    assert result.identical, f"seed {seed}: {result.difference}"


def test_hostile_programs_do_what_they_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 200 seeds the callbacks cancel jobs (some late), raise, and try to re-enter."""
    raised: list[str] = []
    refused: list[str] = []
    real_refuse = VirtualClock.refuse_reentry

    def counting_refuse(self: VirtualClock, what: str) -> None:
        try:
            real_refuse(self, what)
        except ReentrantCallError:
            refused.append(what)
            raise

    monkeypatch.setattr(programs.ProgramError, "__init__",
                        lambda self, *args: raised.append("raised"))
    monkeypatch.setattr(VirtualClock, "refuse_reentry", counting_refuse)
    callback_cancels = late = 0
    for seed in range(200):
        for r in run_null(seed, hostile=True):
            if r.entity == "job" and r.event == "cancel" and r.data.get("by") == "callback":
                callback_cancels += 1
                late += r.data.get("late") is True
    assert callback_cancels > 50 and late >= 3
    assert len(raised) > 50 and len(refused) > 50


def test_the_same_seed_without_hostility_is_the_program_it_was() -> None:
    assert run_null(11).dumps() == run_null(11, hostile=False).dumps()
    assert run_null(11).dumps() != run_null(11, hostile=True).dumps()
