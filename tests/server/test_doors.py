"""The two doors agree: random programs in process and over HTTP give the same trace and values.

Each program runs on a ``LocalService`` and through a real server on 127.0.0.1 with the real
``qiskit-ibm-runtime`` client (server/doors.py). Bounded here; ``qsession verify`` runs the
profile's budget as its ``doors`` part.
"""

from __future__ import annotations

import ast
from unittest import mock

from qsession.server import doors, wire
from qsession.server.doors import Cancel, CancelJob, Close, Open, Submit, Think, Wait


def test_a_program_with_every_step_gives_the_same_trace_and_values() -> None:
    program = [Open("dedicated", 0, None), Submit(0, 0, 100, 2), Submit(None, 1, 1_000, 1),
               Wait(1), Think(61.0), Submit(0, 0, 100, 1), Open("batch", 1, 30),
               Submit(1, 1, 100, 1), Submit(1, 1, 4_000, 1), Close(0), CancelJob(4),
               Cancel(1), Submit(1, 1, 100, 1)]
    assert doors.differences(program) == []


def test_a_session_past_its_max_time_reports_no_active_timeout_through_both_doors() -> None:
    # Found by the doors part: a session whose max time ran out said active_timeout 0 in
    # process, None over HTTP (IBM's answer has no active_ttl under 1 s).
    program = [Open(mode="dedicated", tenant=0, max_time=None),
               Open(mode="dedicated", tenant=0, max_time=30),
               Submit(target=1, tenant=0, shots=100, pubs=1),
               Submit(target=0, tenant=0, shots=100, pubs=1)]
    assert doors.differences(program) == []


def test_random_programs_agree() -> None:
    verdict = doors.campaign(3, seed=20261207, max_steps=6)
    assert verdict.ok, "\n".join(verdict.differences or [])
    assert verdict.examples == 3


def test_a_wire_bug_is_caught_with_a_shrunk_program_printed_as_a_script() -> None:
    # One mapping wrong: a session that is open (no job ran yet) goes over the wire as
    # active. The doors part finds a program that shows it and shrinks it to one step.
    with mock.patch.dict(wire.SESSION_STATE, {"open": "active", "pending": "active"}):
        verdict = doors.campaign(10, seed=7, max_steps=6)
    assert not verdict.ok and verdict.program is not None
    assert len(verdict.program) == 1 and isinstance(verdict.program[0], Open)
    assert verdict.differences is not None
    assert any("details()['state']: in process 'open', over HTTP 'active'" in line
               for line in verdict.differences), verdict.differences
    script = doors.counterexample_script(verdict.program)
    ast.parse(script)  # a runnable script: it parses, and it runs (below)
    namespace: dict[str, object] = {"print": lambda *_: None}
    with mock.patch.dict(wire.SESSION_STATE, {"open": "active", "pending": "active"}):
        exec(compile(script, "counterexample.py", "exec"), namespace)
    assert namespace["PROGRAM"] == verdict.program


def test_the_http_state_machine_checks_every_invariant_on_the_server_trace() -> None:
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    from qsession.server.http_machine import HTTPMachine

    checked: list[int] = []

    class Counted(HTTPMachine):
        def teardown(self) -> None:
            checked.append(self.steps)
            super().teardown()

    run_state_machine_as_test(Counted, settings=settings(
        max_examples=2, stateful_step_count=6, deadline=None, database=None,
        derandomize=True, suppress_health_check=list(HealthCheck)))
    assert len(checked) >= 2 and all(n >= 1 for n in checked)
