"""The plugin seen from a user's test suite, run in pytest's own ``pytester`` (in process).

Each test writes a user's test file, runs pytest on it with the plugin loaded from its
entry point (as an install loads it), and checks the outcome and what pytest printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qsession.runtime import Trace

CIRCUIT = '''
from qsession.properties.strategies import CIRCUITS


def bell():
    """A Bell circuit in the ideal QPU's instruction set (an ISA circuit: no transpiling)."""
    return CIRCUITS["bell"]
'''


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    """Write ``source`` as the user's test file (with the shared circuit) and run pytest."""
    pytester.makepyfile(circuits=CIRCUIT, test_user=source)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:schemathesis",
                                        "-p", "no:randomly", *args)


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
    # the batch's job was still queued when the test returned: the plugin ran it to its
    # end (and no further: the batch's 1 s ITTL has not run out), and the batch is open
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
    # the violating records follow the violation, as the trace file has them (read from
    # the failure report only: under CI pytest repeats the whole message in its summary)
    report = out.split("short test summary info")[0]
    records = [json.loads(line) for line in re.findall(r"^\s+(\{.*\})$", report, re.M)]
    # (the bug is the model's coupling rule for close: each queued job is cancelled right
    # after the session's close record, so each cancel is the record that breaks it)
    assert [(r["id"], r["event"], r["dest"]) for r in records] == [
        ("j3", "cancel", "CANCELLED"), ("j4", "cancel", "CANCELLED")]
    assert "qsession: 2 problem(s) in the session code's run" in out
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
        "fault_rate": "0.0", "plan": "'premium'"}
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


REPLAY = '''
import pytest
from circuits import bell
from qsession.runtime import Session, SamplerV2


def loop(service):
    with Session(backend=service.backend()) as session:
        sampler = SamplerV2(mode=session)
        for _ in range(2):
            sampler.run([bell()], shots=100).result()
            service.advance(5)


@pytest.mark.qsession(tenants=2)
def test_one(qsession_service):
    loop(qsession_service)
    assert any(job.tags for job in qsession_service.jobs())  # the tenants' jobs


@pytest.mark.qsession(tenants=2)
def test_two(qsession_service):
    loop(qsession_service)


@pytest.mark.qsession(seed=7)
def test_pinned(qsession_service):
    assert qsession_service.seed == 7
'''


def traces_written(result: pytest.RunResult) -> dict[str, Trace]:
    """The traces a ``--qsession-keep-traces`` run wrote, by test name."""
    paths = re.findall(r"^trace:\s+(\S+)$", qsession_section(result), re.M)
    return {Path(p).parent.name.split("__")[-1]: Trace.read(p) for p in paths}


def test_seeds_come_from_the_base_and_the_node_id_and_a_run_replays(
        pytester: pytest.Pytester) -> None:
    from qsession.pytest_plugin.settings import derive_seed

    first = run(pytester, REPLAY, "--qsession-keep-traces", "-rP")
    first.assert_outcomes(passed=3)
    traces = traces_written(first)
    assert set(traces) == {"test_one", "test_two", "test_pinned"}
    for name in ("test_one", "test_two"):
        assert traces[name].meta["seed"] == derive_seed(0, f"test_user.py::{name}")
    assert traces["test_pinned"].meta["seed"] == 7
    # the tenants (their arrivals drawn from the seed) differ between the two tests
    assert traces["test_one"].dumps() != traces["test_two"].dumps()
    assert "traces and timelines of 3 test(s) under" in first.stdout.str()

    again = traces_written(run(pytester, REPLAY, "--qsession-keep-traces", "-rP"))
    assert {k: t.dumps() for k, t in again.items()} == {k: t.dumps() for k, t in traces.items()}

    other = traces_written(run(pytester, REPLAY, "--qsession-keep-traces", "-rP",
                               "--qsession-seed", "5"))
    assert other["test_one"].meta["seed"] == derive_seed(5, "test_user.py::test_one")
    assert other["test_one"].dumps() != traces["test_one"].dumps()
    assert other["test_pinned"].meta["seed"] == 7


CLOCKS = '''
import pytest
from qsession.runtime import Session

pytestmark = pytest.mark.qsession(interactive_timeout=7, max_time=100)


def test_default(qsession_service):
    assert qsession_service.clock.kind == "measured"
    with Session(backend=qsession_service.backend()) as session:
        assert (session.details()["interactive_timeout"], session.details()["max_time"]) \\
            == (7, 100)


class TestMarked:
    pytestmark = pytest.mark.qsession(max_time=50)

    @pytest.mark.qsession(clock="virtual")
    def test_marked(self, qsession_service):
        assert qsession_service.clock.kind == "virtual"
        with Session(backend=qsession_service.backend()) as session:
            assert (session.details()["interactive_timeout"],
                    session.details()["max_time"]) == (7, 50)
'''


def test_the_clock_comes_from_the_option_and_the_closest_marker_wins(
        pytester: pytest.Pytester) -> None:
    result = run(pytester, CLOCKS, "--qsession-clock", "measured")
    result.assert_outcomes(passed=2)
    assert "qsession: clock measured, seed base 0" in result.stdout.str()


WALL = '''
import pytest
from circuits import bell
from qsession.runtime import Session, SamplerV2

pytestmark = pytest.mark.qsession(clock="wall", speed=200)


def test_closes(qsession_service):
    with Session(backend=qsession_service.backend()) as session:
        assert SamplerV2(mode=session).run([bell()], shots=100).result(timeout=60)


def test_leaves_it_open(qsession_service):
    session = Session(backend=qsession_service.backend())
    SamplerV2(mode=session).run([bell()], shots=100).result(timeout=60)
'''


@pytest.mark.wall
def test_on_the_wall_clock_the_trace_is_checked_as_it_stands(
        pytester: pytest.Pytester) -> None:
    result = run(pytester, WALL)
    result.assert_outcomes(passed=1, failed=1)
    assert "Session s1 on qsession_ideal was left open" in result.stdout.str()
    assert "clock wall" in qsession_section(result)


BAD_MARKERS = '''
import pytest
from qsession.runtime import Batch, IBMRuntimeError, Session
from qsession.runtime.ibm.workload import WorkloadSpec


@pytest.mark.qsession(max_tme=60)
def test_typo(qsession_service):
    pass


@pytest.mark.qsession(60)
def test_positional(qsession_service):
    pass


@pytest.mark.qsession(plan="open", instances={"a": 1.0})
def test_plan(qsession_service):
    pass


@pytest.mark.qsession(plan="gold")
def test_bad_plan(qsession_service):
    pass


@pytest.mark.qsession(seed=-1)
def test_seed(qsession_service):
    pass


@pytest.mark.qsession(clock="sundial")
def test_clock(qsession_service):
    pass


@pytest.mark.qsession(tenants="many")
def test_tenants(qsession_service):
    pass


@pytest.mark.qsession(allow_open_sessions="yes")
def test_allow(qsession_service):
    pass


@pytest.mark.qsession(interactive_timeout=-5)
def test_service_setting(qsession_service):
    pass


@pytest.mark.qsession(plan="open")
def test_the_open_plan(qsession_service):
    # IBM: "Open Plan users cannot submit session jobs"; a batch's max_time is 600 s at most
    with pytest.raises(IBMRuntimeError, match="Open Plan users cannot submit session jobs"):
        Session(backend=qsession_service.backend())
    with Batch(backend=qsession_service.backend()) as batch:
        assert batch.details()["max_time"] == 600


@pytest.mark.qsession(tenants=WorkloadSpec(tenants=1, horizon=10, session_starts=()))
def test_a_spec_is_fine(qsession_service):
    qsession_service.advance(10)
    assert {tuple(job.tags) for job in qsession_service.jobs()} == {("tenant-a",)}
'''

# docs/errors.md, "The pytest plugin": each marker mistake is an error in the test's setup
# whose message names the keyword and the fix.
MARKER_MESSAGES = {
    "test_typo": "MarkerError: @pytest.mark.qsession got unknown keyword(s) ['max_tme']",
    "test_positional": "MarkerError: @pytest.mark.qsession takes keywords only, not (60,)",
    "test_plan": "MarkerError: @pytest.mark.qsession(plan=..., instances=...): plans belong "
                 "to instances; give each its plan in instances=",
    "test_bad_plan": "IBMInputValueError: instance 'default' has plan='gold': plans are "
                     "'premium' and 'open'",
    "test_seed": "MarkerError: @pytest.mark.qsession(seed=...) must be an int >= 0, not -1",
    "test_clock": "MarkerError: @pytest.mark.qsession(clock=...) must be one of",
    "test_tenants": "MarkerError: @pytest.mark.qsession(tenants=...) takes a number of "
                    "background tenants",
    "test_allow": "MarkerError: @pytest.mark.qsession(allow_open_sessions=...) must be True "
                  "or False, not 'yes'",
    "test_service_setting": "IBMInputValueError: interactive_timeout",
}


def test_a_marker_mistake_is_a_setup_error_that_says_what_to_change(
        pytester: pytest.Pytester) -> None:
    result = run(pytester, BAD_MARKERS)
    result.assert_outcomes(passed=2, errors=len(MARKER_MESSAGES))
    out = result.stdout.str()
    for test, message in MARKER_MESSAGES.items():
        block = out.split(f"ERROR at setup of {test} ")[1].split("ERROR at setup of")[0]
        assert message in block, (test, block)
    assert "unknown keyword(s) ['max_tme']; it takes seed, clock, tenants, " \
           "allow_open_sessions, plan and LocalService's" in out
    assert "; did you mean max_time (not max_tme)?" in out


def test_a_typo_hint_names_the_nearest_keyword_only_when_one_is_near() -> None:
    from qsession.pytest_plugin.settings import did_you_mean

    known = {"max_time", "interactive_timeout", "tenants", "seed"}
    assert did_you_mean(["max_tme"], known) == "; did you mean max_time (not max_tme)?"
    assert did_you_mean(["tenant", "interactive_timout"], known) == (
        "; did you mean tenants (not tenant), interactive_timeout (not interactive_timout)?")
    assert did_you_mean(["colour"], known) == ""


UNUSED = '''
def test_plain_failure():
    assert 1 == 2


def test_plain_pass():
    pass
'''


def test_tests_that_do_not_use_it_are_left_alone(pytester: pytest.Pytester) -> None:
    result = run(pytester, UNUSED, "--qsession-keep-traces", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    assert "--- qsession ---" not in result.stdout.str()
    assert "traces and timelines" not in result.stdout.str()
    off = run(pytester, UNUSED, "-p", "no:qsession")
    off.assert_outcomes(passed=1, failed=1)
    assert "qsession: clock" not in off.stdout.str()


OPEN_IN_EXAMPLE = '''
from hypothesis import Phase, given, settings, strategies as st
from circuits import bell
from qsession.properties.conditions import Condition
from qsession.pytest_plugin import perturbed
from qsession.runtime import Session, SamplerV2


@settings(max_examples=20, derandomize=True, database=None, deadline=None,
          phases=[Phase.generate, Phase.shrink])
@given(jobs=st.integers(0, 3))
def test_leaves_it_open_when_it_has_no_job(jobs):
    with perturbed(Condition()) as service:
        session = Session(backend=service.backend())
        for _ in range(jobs):
            SamplerV2(mode=session).run([bell()], shots=100).result()
        if jobs:
            session.close()
'''


def test_perturbed_judges_each_example_and_hypothesis_shrinks_the_failure(
        pytester: pytest.Pytester) -> None:
    result = run(pytester, OPEN_IN_EXAMPLE)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "SessionCheckFailed: qsession: 1 problem(s) in the session code's run (Condition(" \
           in out
    assert "Session s1 on qsession_ideal was left open (pending, accepting jobs)" in out
    assert re.search(r"Failing test case: test_leaves_it_open_when_it_has_no_job\(\n.*jobs=0,",
                     out)


def test_the_report_of_an_example_names_the_condition_to_replay(
        pytester: pytest.Pytester) -> None:
    result = run(pytester, OPEN_IN_EXAMPLE)
    section = qsession_section(result)
    assert re.search(r"^last example: Condition\(seed=0, interactive_timeout=60\.0, .*\)$",
                     section, re.M)
    assert "replay:   with perturbed(<the example above>) as service: ..." in section
    assert "--qsession-seed" not in section


INI_CLOCK = '''
def test_clock(qsession_service):
    assert qsession_service.clock.kind == "measured"
'''


def test_the_ini_file_sets_the_defaults_and_the_options_win(pytester: pytest.Pytester) -> None:
    from qsession.pytest_plugin.settings import derive_seed

    pytester.makeini("[pytest]\nqsession_clock = measured\nqsession_seed = 42\n")
    seed = derive_seed(42, "test_user.py::test_seed")
    result = run(pytester, INI_CLOCK + "\n\ndef test_seed(qsession_service):\n"
                 f"    assert qsession_service.seed == {seed}\n")
    result.assert_outcomes(passed=2)
    assert "qsession: clock measured, seed base 42" in result.stdout.str()
    again = run(pytester, INI_CLOCK, "--qsession-clock", "virtual")
    again.assert_outcomes(failed=1)
    pytester.makeini("[pytest]\nqsession_clock = sundial\n")
    bad = run(pytester, INI_CLOCK)
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "qsession_clock = 'sundial' in the ini file: choose one of virtual, measured, wall" \
        in bad.stderr.str()
