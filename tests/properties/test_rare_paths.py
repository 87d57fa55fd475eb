"""The stateful runtime machine reaches the rare situations often (≥ 50 per 1,000 runs)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from qsession.properties import machines

RUNS = 100


@pytest.mark.heavy  # a long Hypothesis run
def test_expiry_cancel_with_queued_jobs_and_reactivation_are_common() -> None:
    machines.coverage.clear()
    before = machines.stats.examples
    run_state_machine_as_test(machines.RuntimeMachine, settings=settings(
        max_examples=RUNS, derandomize=True, database=None, deadline=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
    runs = machines.stats.examples - before
    rates = {name: machines.coverage[name] / runs for name in machines.COVERAGE_EVENTS}
    print(f"rare paths over {runs} runs: {rates}")
    for name in ("expiry", "cancel with queued jobs", "reactivation"):
        assert rates[name] >= 0.05, rates
