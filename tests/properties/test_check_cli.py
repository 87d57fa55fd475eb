"""``qsession check``: hand-written traces, a good one and one that breaks expiry."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qsession.cli.main import main
from qsession.properties.invariants import check
from qsession.runtime import Trace

DATA = Path(__file__).resolve().parents[1] / "data"


def test_the_good_hand_written_trace_passes() -> None:
    result = CliRunner().invoke(main, ["check", str(DATA / "good_expiry.jsonl"), "--settled"])
    assert result.exit_code == 0, result.output
    assert "all invariants hold" in result.output


def test_the_broken_hand_written_trace_is_flagged() -> None:
    result = CliRunner().invoke(main, ["check", str(DATA / "bad_expiry.jsonl"), "--settled"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())  # rich wraps long lines
    assert "INV-EXPIRE-FAILS-QUEUED" in text
    assert "job j2 was queued when session s1 got max_time_reached" in text
    report = check(Trace.read(DATA / "bad_expiry.jsonl"), settled=True)
    assert {v.invariant for v in report.violations} == {"INV-EXPIRE-FAILS-QUEUED",
                                                        "INV-MAXTTL-NOSTART"}


def test_a_file_that_is_not_a_trace_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.jsonl"
    bogus.write_text('{"hello": "world"}\n')
    result = CliRunner().invoke(main, ["check", str(bogus)])
    assert result.exit_code == 1
    assert "is not a qsession trace header" in " ".join(result.output.split())


def test_registry_has_exactly_the_spec_ids_in_order() -> None:
    from qsession.properties.invariants import INVARIANTS

    assert list(INVARIANTS) == [
        "INV-ACTIVE-ONE", "INV-MAXTTL-NOSTART", "INV-EXPIRE-FAILS-QUEUED",
        "INV-RUNNING-COMPLETES", "INV-CANCEL", "INV-CLOSED-REJECTS", "INV-CLOSE-DRAINS",
        "INV-FIRST-JOB-NORMAL", "INV-PRIORITY", "INV-ITTL", "INV-CLOCK", "INV-FINAL",
        "INV-CONSERVATION", "INV-WORK-CONSERVING", "INV-FAIR-SHARE", "INV-MODEL-CONFORMS",
        "INV-PROGRESS", "INV-BATCH-NO-HOLD", "INV-IDLE-CLOSE", "INV-USAGE", "INV-TIME",
        "INV-DISPATCH-ORDER", "INV-IDS-UNIQUE", "INV-DURABLE",
    ]
    assert all(inv.statement for inv in INVARIANTS.values())
