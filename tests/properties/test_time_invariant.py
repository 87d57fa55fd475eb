"""INV-TIME: a trace whose time goes back, or whose records name objects
no record created, is a violation of its own, and no other checker trips over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qsession.cli.main import main
from qsession.properties.invariants import check
from qsession.properties.programs import run_null
from qsession.runtime import Trace

DATA = Path(__file__).parent.parent / "data"


@pytest.mark.parametrize(("name", "needles"), [
    ("bad_time_backwards", ["q's time went back from 5s to 3s",
                            "q's time went back from 5s to 4s"]),
    ("bad_unknown_session", ["session s9 close names session s9, which no earlier record "
                             "created"]),
])
def test_an_impossible_trace_breaks_inv_time_alone(name: str, needles: list[str]) -> None:
    report = check(Trace.read(DATA / f"{name}.jsonl"), settled=True)
    assert [v.invariant for v in report.violations] == ["INV-TIME"] * len(needles)
    assert [needle in str(v) for v, needle in zip(report.violations, needles,
                                                  strict=True)] == [True] * len(needles)


def test_qsession_check_reports_it_with_exit_1() -> None:
    result = CliRunner().invoke(main, ["check", str(DATA / "bad_unknown_session.jsonl")])
    assert result.exit_code == 1, result.output
    assert "INV-TIME" in result.output and "Traceback" not in result.output


def test_a_job_of_a_session_never_created_is_reported_not_crashed_on() -> None:
    trace = run_null(3)
    records = list(trace)
    job = next(r for r in records if r.entity == "job" and r.event == "create" and r.session)
    gone = job.session
    # Drop the session's creation: every later record that names it now dangles.
    kept = [r for r in records if not (r.entity == "session" and r.id == gone
                                       and r.event == "create")]
    report = check(kept, settled=True)
    assert {v.invariant for v in report.violations} == {"INV-TIME"}
    assert any(f"names session {gone}" in str(v) for v in report.violations)
    assert check(trace, settled=True).ok  # the trace it came from holds
