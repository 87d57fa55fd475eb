"""``qsession verify``: a small campaign runs every part and reports per invariant."""

from __future__ import annotations

from click.testing import CliRunner

from qsession.cli.main import main
from qsession.properties.invariants import INVARIANTS


def test_verify_runs_a_small_campaign_and_reports_every_invariant() -> None:
    args = ["verify", "--profile", "dev", "--seed", "5", "--runs", "200", "--processes", "1"]
    result = CliRunner(env={"COLUMNS": "220"}).invoke(main, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output[-3000:]
    assert "--seed 5" in text
    for inv in INVARIANTS:
        assert inv in text
    assert "lost 0, duplicated 0" in text
    assert "states" in text and "rare paths reached" in text
