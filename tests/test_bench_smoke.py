"""The benchmarks still run: each quick variant produces numbers; the table has a row each.

No timing assertions: the bench reports speed, the tests only keep it working.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def _bench(name: str) -> ModuleType:
    # ``bench`` is a top-level package of the repository, not of the installed distribution.
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def quick_results() -> list[Any]:
    """Every benchmark's quick run, in table order (about 10 s in all)."""
    main = _bench("bench.__main__")
    return list(main.run_all(list(main.MODULES), quick=True, echo=lambda _line: None))


def test_every_benchmark_module_imports() -> None:
    main = _bench("bench.__main__")
    bench = _bench("bench")
    assert list(main.MODULES) == list(bench.BENCHMARKS)
    for module in main.MODULES.values():
        assert callable(_bench(module).run)


def test_quick_runs_produce_numbers(quick_results: list[Any]) -> None:
    by_id = {r.id: r for r in quick_results}
    assert list(by_id) == list(_bench("bench").BENCHMARKS)
    for result in quick_results:
        assert result.verdict != "error", "\n".join(result.notes)
        assert result.verdict != "not run"
    for ident in ("B1", "B2", "B3", "B4", "B5", "B6", "B10", "B11", "B12"):
        result = by_id[ident]
        assert result.verdict in ("PASS", "MISS"), (ident, result.verdict, result.notes)
        assert any(ch.isdigit() for ch in result.subject), (ident, result.subject)
    assert by_id["B1"].raw["ratio"] > 0
    assert all(x > 0 for x in by_id["B2"].raw["qsession_jobs_per_s"])
    assert by_id["B3"].raw["peak_rss_gb"] > 0
    assert by_id["B6"].raw["qiskit_lazy"] is True
    assert by_id["B7"].verdict in ("report", "not measurable")
    assert by_id["B8"].verdict in ("PASS", "MISS") and by_id["B8"].raw["ratio"] > 0
    assert by_id["B9"].verdict == "report" and by_id["B9"].raw["modeled_s"] > 0
    assert by_id["B10"].raw["ratio"] > 0
    assert all(x["ok"] for reports in by_id["B10"].raw["reports"].values() for x in reports)
    assert by_id["B11"].raw["ratio"] > 0
    assert by_id["B12"].raw["ratio"] > 0
    assert by_id["B13"].verdict in ("PASS", "MISS")
    assert all(x > 0 for rates in by_id["B13"].raw["rates"].values() for x in rates)
    scale = by_id["B13"].raw["scale"].values()
    assert all(s["built"]["records"] > s["built"]["jobs"] for s in scale)
    assert by_id["B14"].verdict in ("PASS", "MISS") and by_id["B14"].raw["ratio"] > 0


def test_markdown_table_has_a_row_per_benchmark(quick_results: list[Any]) -> None:
    common = _bench("bench.common")
    text = common.markdown(quick_results, common.machine_info(), quick=True,
                           command="python -m bench --quick")
    rows = [line for line in text.splitlines() if line.startswith("| B")]
    assert [row.split("|")[1].strip() for row in rows] == list(_bench("bench").BENCHMARKS)
    assert "| id | figure | subject | baseline | ratio | target | PASS/MISS |" in text
    assert "CPU" in text and "Python" in text and "date" in text
    assert "load average" in text  # the figures mean little without the machine's load


def test_only_and_output_options(tmp_path: Path) -> None:
    main = _bench("bench.__main__")
    out = tmp_path / "performance.md"
    assert main.main(["--only", "b5", "--quick", "--output", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| B")]
    assert len(rows) == len(_bench("bench").BENCHMARKS)
    assert sum("not run" in row for row in rows) == len(rows) - 1
    # --keep: the rows not run now say what the file said, noted as kept.
    assert main.main(["--only", "b6", "--quick", "--keep", "--output", str(out)]) == 0
    text = out.read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()
            if line.startswith("| B")}
    assert "not run" not in rows["B5"] and "not run" not in rows["B6"]
    assert "not run" in rows["B1"]
    b5 = text.split("**B5**")[1].split("**B6**")[0]
    assert b5.count("kept from an earlier run") == 1
    # Kept again by a later run: still one note, naming the run that measured it.
    first_stamp = re.search(r"- kept from an earlier run \((.+)\)", b5)
    assert first_stamp is not None
    assert main.main(["--only", "b6", "--quick", "--keep", "--output", str(out)]) == 0
    b5 = out.read_text().split("**B5**")[1].split("**B6**")[0]
    assert b5.count("kept from an earlier run") == 1 and first_stamp.group(1) in b5
    with pytest.raises(SystemExit):
        main.parse_only("B99")
