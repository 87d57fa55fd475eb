"""``qsession verify``: a small campaign runs every part and reports per invariant."""

from __future__ import annotations

from typing import ClassVar

import pytest
from click.testing import CliRunner
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from qsession.cli import verify
from qsession.cli.main import main
from qsession.properties.invariants import INVARIANTS


def test_verify_runs_a_small_campaign_and_reports_every_invariant() -> None:
    args = ["verify", "--profile", "dev", "--seed", "5", "--runs", "200", "--processes", "1"]
    result = CliRunner(env={"COLUMNS": "220"}).invoke(main, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output[-3000:]
    assert "--seed 5" in text
    for inv in INVARIANTS:
        assert inv in text
    assert "lost 0, duplicated 0" in text
    assert "states" in text and "rare paths reached" in text


class _Draws(RuleBasedStateMachine):
    """Records the integers each example draws, one list per example."""

    examples: ClassVar[list[list[int]]] = []

    def __init__(self) -> None:
        super().__init__()
        self.examples.append([])

    @rule(n=st.integers(0, 10**9))
    def draw(self, n: int) -> None:
        self.examples[-1].append(n)


def test_long_parts_run_in_seeded_chunks_that_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "CHUNK_EXAMPLES", 3)
    base = settings(stateful_step_count=5, database=None, deadline=None)
    runs = []
    for _ in range(2):
        _Draws.examples = []
        verify._run_in_chunks(_Draws, base, 7, seed=11)
        runs.append([e for e in _Draws.examples if e])  # drop examples with no step
    assert runs[0] == runs[1]  # the same seed, the same examples
    assert len(runs[0]) >= 7  # 7 examples were asked for (phases may add a few)
    # three runs (3 + 3 + 1 examples), each with its own seed: no run repeats another
    _Draws.examples = []
    with verify._forced_seed(11):
        run_state_machine_as_test(_Draws, settings=settings(base, max_examples=3,
                                                            derandomize=False))
    first_run = [e for e in _Draws.examples if e]
    assert runs[0][:len(first_run)] == first_run
    assert runs[0][len(first_run):len(first_run) * 2] != first_run
