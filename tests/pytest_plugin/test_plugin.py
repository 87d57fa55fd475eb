"""The plugin seen from a user's test suite, run in pytest's own ``pytester`` (in process).

Each test writes a user's test file, runs pytest on it with the plugin loaded from its
entry point (as an install loads it), and checks the outcome and what pytest printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qsession.runtime.trace import Trace


@pytest.fixture(scope="module", autouse=True)
def loaded_once(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Load what the users' suites load, before the first in-process run.

    pytester restores ``sys.modules`` after each in-process run, and numpy (under qiskit)
    cannot be imported twice in one process: so everything a user's suite imports must
    be loaded before. Running one job and drawing its timeline loads it all.
    """
    import hypothesis.strategies  # noqa: F401
    from qiskit import QuantumCircuit

    import qsession.properties.mutants
    import qsession.properties.strategies  # noqa: F401
    from qsession.insight.timeline import draw_timeline
    from qsession.properties.invariants import check
    from qsession.runtime import Batch, LocalService, SamplerV2
    from qsession.runtime.workload import Background, generate  # noqa: F401

    circuit = QuantumCircuit(2)
    circuit.h(0)  # not an ISA circuit: transpiling loads qiskit's stage plugins too
    circuit.cx(0, 1)
    circuit.measure_all()
    service = LocalService(seed=1)
    with Batch(backend=service.backend()) as batch:
        SamplerV2(mode=batch).run([circuit], shots=10).result()
    assert check(service.trace, settled=True).ok
    draw_timeline(service.trace, tmp_path_factory.mktemp("warm") / "t.png", None)

CIRCUIT = '''
from qiskit import QuantumCircuit


def bell():
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc
'''


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    """Write ``source`` as the user's test file (with the shared circuit) and run pytest."""
    pytester.makepyfile(circuits=CIRCUIT, test_user=source)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def qsession_section(result: pytest.RunResult) -> str:
    """The text of the ``qsession`` report section(s) pytest printed."""
    out = result.stdout.str()
    return "\n".join(re.findall(r"-+ qsession -+\n(.*?)(?=\n[-=_]{5,} |\Z)", out, re.S))


def written(section: str, kind: str) -> Path:
    """The path a report section names for ``kind`` (``trace`` or ``timeline``)."""
    match = re.search(rf"^{kind}:\s+(\S+)$", section, re.M)
    assert match, section
    return Path(match.group(1))


PASSING = '''
import pytest
from circuits import bell
from qsession.pytest_plugin import session_facts
from qsession.runtime import Session, SamplerV2


@pytest.mark.qsession(interactive_timeout=10, max_time=600)
def test_my_loop(qsession_service):
    backend = qsession_service.backend()
    with Session(backend=backend) as session:
        sampler = SamplerV2(mode=session)
        for _ in range(3):
            sampler.run([bell()], shots=100).result()
            qsession_service.advance(20)       # a slow classical step: the ITTL runs out
    details = session.details()
    assert (details["interactive_timeout"], details["max_time"]) == (10, 600)
    facts = session_facts(qsession_service, session)
    assert facts.deactivations == 3 and facts.activations == 3
    assert facts.done == facts.jobs and len(facts.jobs) == 3
    assert facts.reserved_idle == 30            # held idle 10 s after each job


def test_a_fresh_service_per_test(qsession_service):
    assert qsession_service.jobs() == []
    assert qsession_service.now().isoformat() == "2025-01-01T00:00:00+00:00"
'''


def test_a_passing_user_suite_passes_and_writes_nothing(pytester: pytest.Pytester) -> None:
    result = run(pytester, PASSING)
    result.assert_outcomes(passed=2)
    assert "qsession: clock virtual, seed base 0 (--qsession-seed)" in result.stdout.str()
    assert not (pytester.path / "basetemp" / "qsession").exists()


LEAVES_OPEN = '''
import pytest
from circuits import bell
from qsession.runtime import Batch, Session, SamplerV2


def test_forgets_to_close(qsession_service):
    session = Session(backend=qsession_service.backend())
    SamplerV2(mode=session).run([bell()], shots=100).result()


def test_forgets_a_batch(qsession_service):
    batch = Batch(backend=qsession_service.backend())
    SamplerV2(mode=batch).run([bell()], shots=100)


@pytest.mark.qsession(allow_open_sessions=True)
def test_allowed_to_leave_it_open(qsession_service):
    Session(backend=qsession_service.backend())


def test_closes(qsession_service):
    with Session(backend=qsession_service.backend()) as session:
        SamplerV2(mode=session).run([bell()], shots=100)
'''


def test_a_session_left_open_fails_the_test_not_its_teardown(pytester: pytest.Pytester) -> None:
    result = run(pytester, LEAVES_OPEN)
    result.assert_outcomes(passed=2, failed=2)  # failures of the call phase, no errors
    out = result.stdout.str()
    assert re.search(r"Session s1 on qsession_ideal was left open \(active, accepting jobs\)",
                     out)
    # the batch's job was still queued when the test returned: the plugin ran it, and the
    # batch, idle past its 1 s ITTL but never closed, is still open
    assert "Batch s1 on qsession_ideal was left open (active, accepting jobs)" in out
    assert "allow_open_sessions=True" in out
    result.stdout.fnmatch_lines(["FAILED test_user.py::test_forgets_to_close - Failed: *",
                                 "FAILED test_user.py::test_forgets_a_batch - Failed: *"])
    section = qsession_section(result)
    assert section.count("trace:") == 2
    trace = Trace.read(written(section, "trace"))
    assert [r.event for r in trace.of("session", "s1")][-1] == "job_ended"  # never closed
    assert written(section, "timeline").stat().st_size > 10_000


MUTANT = '''
import pytest
from circuits import bell
from qsession.properties.mutants import MUTANTS
from qsession.runtime import Session, SamplerV2

BUG = next(m for m in MUTANTS if m.name == "close-cancels")


@pytest.fixture(autouse=True)
def buggy_scheduler():
    with BUG.applied():        # close() now cancels the queued jobs instead of draining them
        yield


def test_submits_then_closes(qsession_service):
    with Session(backend=qsession_service.backend()) as session:
        sampler = SamplerV2(mode=session)
        jobs = [sampler.run([bell()], shots=100) for _ in range(3)]
    assert jobs[0].status() == "RUNNING"    # the user's own checks pass
'''


def test_a_seeded_scheduler_bug_fails_the_test_with_the_violating_records(
        pytester: pytest.Pytester) -> None:
    result = run(pytester, MUTANT)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "INV-CLOSE-DRAINS at 0.000000s" in out
    # the violating records follow the violation, as the trace file has them
    records = [json.loads(line) for line in re.findall(r"^\s+(\{.*\})$", out, re.M)]
    assert [(r["id"], r["event"], r["dest"]) for r in records] == [
        ("j3", "cancel", "CANCELLED"), ("j4", "cancel", "CANCELLED"), ("s1", "close", "active")]
    assert "qsession: 1 problem(s) in the session code's run" in out
    section = qsession_section(result)
    seed = int(re.search(r"service: seed (\d+), derived from --qsession-seed 0", section)[1])
    trace = Trace.read(written(section, "trace"))
    assert trace.meta["seed"] == seed
    cancelled = [r.id for r in trace if r.entity == "job" and r.event == "cancel"]
    assert cancelled == ["j3", "j4"]  # the two queued behind the running one


HYPOTHESIS = '''
from hypothesis import Phase, given, settings
from circuits import bell
from qsession.properties.strategies import conditions
from qsession.pytest_plugin import perturbed
from qsession.runtime import Session, SamplerV2


def optimise(backend, think, steps=5):
    """The user's loop: a job, then a classical step, five times, in one session."""
    with Session(backend=backend) as session:
        sampler = SamplerV2(mode=session)
        for _ in range(steps):
            sampler.run([bell()], shots=100).result()
            think()


# explain is left out: it re-runs the shrunk example ~200 times to say which parts matter
@settings(max_examples=100, derandomize=True, database=None, deadline=None,
          phases=[Phase.generate, Phase.shrink])
@given(condition=conditions(fault_rates=(0.0,)))
def test_optimise_survives(condition):
    with perturbed(condition) as service:
        optimise(service.backend(), lambda: service.advance(condition.think_time))
'''


def test_a_loop_that_fails_on_expiry_shrinks_to_the_mildest_condition(
        pytester: pytest.Pytester) -> None:
    result = run(pytester, HYPOTHESIS)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "The session is closed: session s1 is expired and does not accept jobs" in out
    example = re.search(r"Failing test case: test_optimise_survives\(\n.*condition=Condition\("
                        r"(.*?)\),?\n", out)
    assert example, out
    fields = dict(kv.split("=") for kv in example[1].split(", "))
    # Shrunk: no tenants, no faults, seed 0, the default ITTL, the longest max TTL that
    # still fails within the think times drawn (120 s at most), the shortest think time.
    assert {k: v for k, v in fields.items() if k != "think_time"} == {
        "seed": "0", "interactive_timeout": "60.0", "max_time": "60.0", "tenants": "0",
        "fault_rate": "0.0"}
    think = float(fields["think_time"])
    # The shrunk example is the one replayed last, so its trace is the one written.
    trace = Trace.read(written(qsession_section(result), "trace"))
    duration = next(r.data["duration_us"] for r in trace if r.event == "create"
                    and r.entity == "job") / 1e6
    # The fifth job is submitted after 4 (job + think); it fails from max_time on. The
    # shrunk think time is the smallest whole second that gets there.
    assert think == int(think)
    assert 4 * (duration + think) >= 60 > 4 * (duration + think - 1)
    expired = [r for r in trace if r.entity == "session" and r.event == "max_time_reached"]
    assert len(expired) == 1 and expired[0].t == 60_000_000
    assert len(trace.ids("job")) == 4  # the fifth submission was refused: no job
