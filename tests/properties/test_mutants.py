"""Proof of teeth: the stateful suite kills every seeded scheduler bug within a fixed budget."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from qsession.cli import verify
from qsession.model import TransitionRefused
from qsession.properties.machines import InvariantViolated, RuntimeMachine
from qsession.properties.mutants import MUTANTS, Mutant

BUDGET = 150
"""Examples allowed to find each bug (derandomized, so the same run every time)."""

KILL_SETTINGS = settings(max_examples=BUDGET, stateful_step_count=40, derandomize=True,
                         database=None, deadline=None, phases=[Phase.generate],
                         suppress_health_check=list(HealthCheck), print_blob=False)


def killers(mutant: Mutant, only: str | None = None) -> set[str]:
    """Run the machine under ``mutant``; the invariant ids that caught it (empty: survived).

    With ``only``, just that invariant is checked (the API-level checks stay on).
    """
    machine = RuntimeMachine
    if only is not None:
        machine = type("OneInvariantMachine", (RuntimeMachine,), {"monitored": (only,)})
    with mutant.applied():
        try:
            run_state_machine_as_test(machine, settings=KILL_SETTINGS)
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


STATEFUL_ONLY_SURVIVORS = {"ids-repeat", "branches-summed"}
"""Killed by verify's other parts: >1,000 ids (programs), circuits (durations)."""


@pytest.mark.heavy  # a Hypothesis campaign per seeded bug
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_is_killed(mutant: Mutant) -> None:
    if mutant.name not in STATEFUL_ONLY_SURVIVORS:
        caught = killers(mutant)
    else:
        # verify's own parts, as `qsession verify --mutants` runs them (it reports that
        # the stateful runs miss these two).
        with mutant.applied():
            caught = verify._mutant_programs(verify.MUTANT_PROGRAMS) | \
                verify._mutant_durations(BUDGET)
            if verify._metrics_findings(BUDGET, 0)[1]:
                caught.add("INV-REPORTED")
    assert caught, f"mutant {mutant.name!r} ({mutant.bug}) survived {BUDGET} examples"
    assert caught & mutant.expected, (
        f"mutant {mutant.name!r} was caught by {sorted(caught)}, expected one of "
        f"{sorted(mutant.expected)}")


# Each invariant, watched alone, kills a mutant that breaks it: no invariant rides on
# another's coattails.
ALONE = {
    "INV-ACTIVE-ONE": "lingering-activation",
    "INV-MAXTTL-NOSTART": "start-at-max-ttl",
    "INV-EXPIRE-FAILS-QUEUED": "expiry-leaves-queued",
    "INV-RUNNING-COMPLETES": "expiry-kills-running",
    "INV-CANCEL": "cancel-errors-queued",
    "INV-CLOSED-REJECTS": "submit-after-close",
    "INV-CLOSE-DRAINS": "close-cancels",
    "INV-FIRST-JOB-NORMAL": "first-job-priority",
    "INV-PRIORITY": "no-hold",
    "INV-ITTL": "ittl-from-start",
    "INV-CLOCK": "clock-at-creation",
    "INV-FINAL": "final-revived",
    "INV-CONSERVATION": "dispatch-while-running",
    "INV-WORK-CONSERVING": "no-dispatch-after-timers",
    "INV-FAIR-SHARE": "fair-share-ignores-allocation",
    "INV-MODEL-CONFORMS": "ittl-bypasses-model",
    "INV-PROGRESS": "cancel-loses-jobs",
    "INV-BATCH-NO-HOLD": "batch-holds",
    "INV-IDLE-CLOSE": "idle-close-ignored",
    "INV-USAGE": "usage-stops-at-end",
    "INV-DISPATCH-ORDER": "batches-latest-first",
    "INV-REPORTED": "active-timeout-from-creation",
    "INV-RUN-UNTIL-IDLE": "run-until-idle-to-max-ttl",
    "INV-WITH-CLOSES": "with-exception-keeps-open",
    "INV-PLAN": "open-plan-allows-session",
    "INV-WAIT": "wait-ignores-timeout",
    "INV-JOBS-QUERY": "jobs-pending-inverted",
    "INV-DURATION": "one-sub-job-per-job",
}


def test_every_invariant_is_paired_with_a_mutant() -> None:
    names = {m.name for m in MUTANTS}
    assert len(ALONE) == 28 and set(ALONE.values()) <= names


@pytest.mark.heavy  # a Hypothesis campaign per seeded bug
@pytest.mark.parametrize("invariant", sorted(ALONE))
def test_each_invariant_alone_kills_its_mutant(invariant: str) -> None:
    mutant = next(m for m in MUTANTS if m.name == ALONE[invariant])
    assert invariant in killers(mutant, only=invariant)
