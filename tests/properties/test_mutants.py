"""Proof of teeth: the stateful suite kills every seeded scheduler bug within a fixed budget."""

from __future__ import annotations

import pytest
from helpers.mutants import MUTANTS, Mutant
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from qsession.model import TransitionRefused
from qsession.properties.machines import InvariantViolated, RuntimeMachine

BUDGET = 150
"""Examples allowed to find each bug (derandomized, so the same run every time)."""

KILL_SETTINGS = settings(max_examples=BUDGET, stateful_step_count=40, derandomize=True,
                         database=None, deadline=None, phases=[Phase.generate],
                         suppress_health_check=list(HealthCheck), print_blob=False)


def killers(mutant: Mutant) -> set[str]:
    """Run the machine under ``mutant``; the invariant ids that caught it (empty: survived)."""
    with mutant.applied():
        try:
            run_state_machine_as_test(RuntimeMachine, settings=KILL_SETTINGS)
        except InvariantViolated as err:
            return set(err.ids)
        except TransitionRefused:
            return {"INV-MODEL-CONFORMS"}  # the model refused a move: the runtime's own guard
    return set()


def test_the_catalogue_covers_the_invariant_families() -> None:
    assert len(MUTANTS) >= 12
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    covered = set().union(*(m.expected for m in MUTANTS))
    assert len(covered) >= 12


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_is_killed(mutant: Mutant) -> None:
    caught = killers(mutant)
    assert caught, f"mutant {mutant.name!r} ({mutant.bug}) survived {BUDGET} examples"
    assert caught & mutant.expected, (
        f"mutant {mutant.name!r} was caught by {sorted(caught)}, expected one of "
        f"{sorted(mutant.expected)}")
