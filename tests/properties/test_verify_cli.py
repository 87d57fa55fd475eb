"""``qsession verify``: a small campaign runs every part and reports per invariant."""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
from collections.abc import Callable
from typing import ClassVar

import pytest
from click.testing import CliRunner
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from rich.console import Console

from qsession.cli import verify
from qsession.cli.main import main
from qsession.properties.invariants import INVARIANTS
from qsession.properties.machines import InvariantViolated
from qsession.runtime.engine.clock import ClockError


@pytest.mark.heavy  # a campaign with HTTP servers
def test_verify_runs_a_small_campaign_and_reports_every_invariant() -> None:
    args = ["verify", "--profile", "dev", "--seed", "5", "--runs", "200", "--processes", "1"]
    result = CliRunner(env={"COLUMNS": "220"}).invoke(main, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output[-3000:]
    assert "--seed 5" in text
    for inv in INVARIANTS:
        assert inv in text
    assert "lost 0, duplicated 0" in text
    assert "states" in text and "Reach of the stateful runs" in text and "floor" in text
    # the doors part: programs in process and over HTTP, compared
    assert "doors" in text and "same trace up to ids" in text
    for situation in ("Open Plan session refused", "multi-pub job", "timed wait timed out",
                      "jobs() query matched some", "second QPU"):
        assert situation in text


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


class _Crashes(RuleBasedStateMachine):
    """A run whose step raises ClockError (as a virtual clock with no timer left does)."""

    @rule(n=st.integers(0, 3))
    def step(self, n: int) -> None:
        if n == 3:
            raise ClockError(f"no timer left (drew {n})")


def test_a_crashing_part_is_a_violation_with_its_shrunk_example() -> None:
    outcome = verify.Outcome("stateful runtime machine")
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            run_state_machine_as_test(_Crashes, settings=settings(
                max_examples=50, database=None, deadline=None, derandomize=True))
    except Exception as err:  # what verify's parts catch
        verify._record_failure(outcome, err, output)
    assert outcome.failed and outcome.violated == {"crash: ClockError"}
    assert "ClockError: no timer left (drew 3)" in outcome.detail
    assert "state.step(n=3)" in outcome.detail  # Hypothesis' shrunk steps


def test_an_exception_group_lists_every_failure_and_its_ids() -> None:
    group = ExceptionGroup("two distinct failures", [
        InvariantViolated.single("INV-ITTL", 0, "stayed active"),
        ClockError("no timer left")])
    assert verify.violated_ids(group) == {"INV-ITTL", "crash: ClockError"}
    text = verify._failure(group, io.StringIO())
    assert "INV-ITTL" in text and "ClockError: no timer left" in text


def test_the_summary_says_violated_when_any_part_found_one() -> None:
    programs = verify.Outcome("random programs (10 runs)", failed=True,
                              per_invariant={"INV-FAIR-SHARE": 143})
    stateful = verify.Outcome("stateful runtime machine", per_invariant={})
    console = Console(width=200, record=True)
    console.print(verify.summary([stateful, programs]))
    lines = console.export_text().splitlines()
    row = next(line for line in lines if "INV-FAIR-SHARE" in line)
    assert "143" in row and "violated" in row
    ok_row = next(line for line in lines if "INV-ITTL" in line)
    assert "ok" in ok_row and "violated" not in ok_row


def test_a_crashing_program_is_counted_with_its_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    from qsession.properties import programs

    real = programs.run_null

    def crash_on_3(seed: int, steps: int = 30) -> object:
        if seed == 3:
            raise ClockError("no timer left")
        return real(seed, steps)

    monkeypatch.setattr(programs, "run_null", crash_on_3)
    result = programs._chunk(range(0, 5))
    assert result.violations["program raised"] == 1 and result.failing_seeds == [3]
    assert result.examples == ["seed 3: ClockError: no timer left"]


def test_the_mutant_table_names_the_killing_part_of_each_family_within_80_columns() -> None:
    # Each family runs only the parts that can see it; the parts' answers are stubbed here
    # (tests/properties/test_mutants.py and the server tests run them for real), so the
    # table's layout and attribution are what this checks.
    from unittest import mock

    answers = {"_mutant_stateful": set(), "_mutant_programs": set(),
               "_mutant_durations": {"INV-DURATION"}, "_mutant_doors": {"INV-DOORS"},
               "_mutant_rest": {"INV-REST"}, "_mutant_http": {"INV-DURABLE"}}
    with contextlib.ExitStack() as stack:
        for name, found in answers.items():
            stack.enter_context(mock.patch.object(verify, name, lambda _n, f=found: f))
        stack.enter_context(mock.patch.object(verify, "_metrics_findings",
                                              lambda _n, _s: (0, [])))
        outcome, table = verify.mutants(Console(width=80, file=io.StringIO()), budget=1)
    out = io.StringIO()
    Console(width=80, file=out).print(table)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    rows = {line.split("│")[1].strip(): line for line in lines if line.startswith("│")}
    assert "http" in rows["durable-running-resumed"] and "killed" in rows["durable-running-resumed"]
    assert "rest" in rows["tokens-unsigned"] and "doors" in rows["wire-elapsed-in-ms"]
    assert "durations" in rows["branches-summed"]
    assert "SURVIVED" in rows["clock-at-creation"]  # no part saw it: it survived, and says so
    assert outcome.failed and outcome.per_invariant["durable-ack-before-write"] == ["http"]
    # Every row of the box is whole: its right border was not cropped.
    assert all(line.endswith(("│", "┃", "┓", "┩", "┘"))
               for line in lines if line.startswith(("│", "┃", "┏", "┡", "└")))


@pytest.mark.parametrize(("part", "module", "name"), [
    (verify.doors, "qsession.server.doors", "doors"),
    (verify.http, "qsession.server.http_machine", "HTTP"),
    (verify.rest, "qsession.server.rest_properties", "REST"),
])
def test_a_part_without_the_server_extra_fails_saying_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch, part: Callable[..., verify.Outcome], module: str,
        name: str) -> None:
    # None in sys.modules makes its import fail; the package must not hold it already.
    package, _, name_in_package = module.rpartition(".")
    monkeypatch.delattr(importlib.import_module(package), name_in_package, raising=False)
    monkeypatch.setitem(sys.modules, module, None)
    outcome = part("dev", 0, Console(file=io.StringIO()))
    assert outcome.failed
    assert outcome.detail.startswith(f"the {name} part needs the server extra (")
    assert outcome.detail.endswith("pip install 'qsession[server]'")
