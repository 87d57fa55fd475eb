"""Server traces under the invariants across real crashes: the HTTP state machine with SIGKILL.

``qsession serve --state DIR`` runs in a process of its own; the machine's crash rule sends
it SIGKILL and starts it again on the same folder and port, and after every step every
invariant (INV-DURABLE among them) holds on the whole trace, restarts included, every
record served before a crash is still there after it, and every job id the client received
is in the trace; at the end each of those jobs ended exactly once. ``qsession verify``
runs the same machine with the server in its own process (a crash there resumes a copy of
what a SIGKILL leaves on disk), and ``verify --mutants`` runs the durability bugs through it.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import pytest
from helpers.faults import assert_no_server_faults

from qsession.cli import verify
from qsession.properties.mutants import Mutant
from qsession.server.http_machine import HTTPMachine, Killed, ServerViolated
from qsession.server.mutants import DURABLE_MUTANTS

WRAPPER = str(Path(__file__).resolve().parents[1] / "helpers" / "serve_with_mutant.py")


class KilledMachine(HTTPMachine):
    """The HTTP state machine on ``qsession serve`` in its own process: crashes are SIGKILLs."""

    platform = Killed

    def faults_checked(self) -> None:
        """No server process answered a 500 (the last one stopped cleanly: its summary)."""
        assert isinstance(self.server, Killed)
        *killed, last = self.server.stderr
        for text in killed:
            assert_no_server_faults(text, summary=False)
        assert_no_server_faults(last, summary=True)


def test_random_runs_with_sigkills_keep_every_invariant_and_every_job() -> None:
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    runs: list[tuple[int, int]] = []

    class KilledRuns(KilledMachine):
        def teardown(self) -> None:
            runs.append((self.steps, self.crashes))
            super().teardown()
            self.faults_checked()

    run_state_machine_as_test(KilledRuns, settings=settings(
        max_examples=2, stateful_step_count=8, deadline=None, database=None,
        derandomize=True, suppress_health_check=list(HealthCheck)))
    assert len(runs) >= 2 and all(steps >= 1 for steps, _ in runs)
    assert sum(crashes for _, crashes in runs) >= 1, runs  # a real SIGKILL happened


def _crash_while_a_job_runs(machine: HTTPMachine) -> None:
    """A session, a job that starts at once, a SIGKILL mid-job, time, a second crash."""
    machine.open_session(mode="dedicated", tenant=0, max_time=None)
    machine.invariants_hold()
    machine.submit(index=0, tenant=0, shots=4_000, pubs=2)
    machine.submit(index=None, tenant=1, shots=100, pubs=1)
    machine.invariants_hold()
    machine.crash()
    machine.invariants_hold()
    machine.think(seconds=5.0)
    machine.invariants_hold()
    machine.crash()
    machine.invariants_hold()


def test_a_job_running_at_a_sigkill_fails_at_the_restart_and_queued_ones_go_on() -> None:
    machine = KilledMachine()
    _crash_while_a_job_runs(machine)
    machine.teardown()  # settles: every job the client received ended exactly once
    machine.faults_checked()
    assert machine.crashes == 2 and len(machine.received) == 2
    rows = machine.served
    restarts = [r for r in rows if r["event"] == "restart"]
    assert [r["data"]["restarts"] for r in restarts] == [1, 2]
    first = machine.received[0]
    ends = [r for r in rows if r["id"] == first and r["event"] in ("finish", "fail")]
    # The job was running when the first SIGKILL came: it failed at that restart, code 5203.
    assert len(ends) == 1 and ends[0]["event"] == "fail" and ends[0]["t"] == restarts[0]["t"]
    assert "5203" in ends[0]["data"]["reason"]


@pytest.mark.parametrize("mutant", DURABLE_MUTANTS, ids=lambda m: m.name)
def test_each_durability_bug_is_caught_through_a_real_sigkill(mutant: Mutant) -> None:
    class Planted(KilledMachine):
        platform = partial(Killed, command=[sys.executable, WRAPPER, mutant.name])

    machine = Planted()
    try:
        with pytest.raises(ServerViolated) as caught:
            _crash_while_a_job_runs(machine)
        assert caught.value.ids == ["INV-DURABLE"], str(caught.value)
    finally:
        machine.broken = True  # leave the planted server unsettled: stop it
        machine.teardown()


@pytest.mark.parametrize("mutant", DURABLE_MUTANTS, ids=lambda m: m.name)
def test_each_durability_bug_is_killed_by_the_http_part(mutant: Mutant) -> None:
    with mutant.applied():
        assert verify._mutant_http(verify.MUTANT_HTTP) == {"INV-DURABLE"}
