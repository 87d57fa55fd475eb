"""The stateful runtime machine: random interleavings keep every invariant (CI profile budget)."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from qsession.properties.machines import RuntimeMachine


@pytest.mark.heavy  # a long Hypothesis run
def test_runtime_machine_keeps_every_invariant() -> None:
    run_state_machine_as_test(RuntimeMachine, settings=settings(stateful_step_count=40))
