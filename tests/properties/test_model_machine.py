"""The model-only stateful machine: long random walks over the tables keep every invariant."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from qsession.properties.machines import ModelMachine


@pytest.mark.heavy  # a long Hypothesis run
def test_model_machine_keeps_every_invariant() -> None:
    run_state_machine_as_test(ModelMachine, settings=settings(max_examples=300,
                                                              stateful_step_count=60))
