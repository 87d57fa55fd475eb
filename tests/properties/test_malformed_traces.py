"""``qsession check``/``replay``/``timeline`` on malformed traces, and the CLI's usage errors:
``file:line: what is wrong`` and exit 1 or 2, never a traceback."""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qsession.cli.main import main
from qsession.properties.programs import run_null

_TRACE = run_null(3).dumps().splitlines()
HEADER, RECORDS = _TRACE[0], [json.loads(line) for line in _TRACE[1:]]
ODD_VALUES: tuple[Any, ...] = (float("nan"), float("inf"), "12", None, {"a": 1}, [1], -1,
                               True, "")


def variants() -> Iterator[tuple[str, list[dict[str, Any]] | str]]:
    """Malformed versions of a real trace: (name, records or raw text)."""
    rng = random.Random(15)
    yield "reversed", list(reversed(RECORDS))
    shuffled = RECORDS[:]
    rng.shuffle(shuffled)
    yield "shuffled", shuffled
    yield "duplicated", [*RECORDS[:4], RECORDS[3], *RECORDS[4:]]
    for key in ("seq", "t", "qpu", "entity", "id", "event"):
        for value in ODD_VALUES:
            records = copy.deepcopy(RECORDS)
            records[len(records) // 2][key] = value
            yield f"{key}={value!r}", records
        records = copy.deepcopy(RECORDS)
        del records[5][key]
        yield f"no {key}", records
    for key in ("session", "source", "dest", "instance"):
        for value in (5, {"x": 1}, [], "", "s999"):
            records = copy.deepcopy(RECORDS)
            records[rng.randrange(len(records))][key] = value
            yield f"{key}={value!r}", records
    for key in ("duration_us", "max_time_us", "interactive_timeout_us", "allocation",
                "at_us", "mode", "reason", "by", "accepting_jobs", "in_flight"):
        for value in (0, -5, "x", 1.5, float("nan"), {"d": 1}, [2]):
            records = copy.deepcopy(RECORDS)
            holders = [r for r in records if key in r.get("data", {})] or [records[4]]
            rng.choice(holders).setdefault("data", {})[key] = value
            yield f"data.{key}={value!r}", records
    yield "deeply nested", "[" * 100_000 + "]" * 100_000
    yield "epoch not a time", '{"format":"qsession-trace","version":1,"epoch":"yesterday"}'


CASES = list(variants())


def _write(tmp_path: Path, content: list[dict[str, Any]] | str) -> Path:
    path = tmp_path / "t.jsonl"
    if isinstance(content, str):
        text = content + "\n" if content.startswith("{") else HEADER + "\n" + content + "\n"
    else:
        text = HEADER + "\n" + "\n".join(json.dumps(r) for r in content) + "\n"
    path.write_text(text)
    return path


def test_there_are_many_malformed_cases() -> None:
    assert len(CASES) > 150


@pytest.mark.parametrize("command", ["check", "replay"])
def test_malformed_traces_get_a_line_and_a_reason_never_a_traceback(
        command: str, tmp_path: Path) -> None:
    runner = CliRunner()
    located = 0
    for name, content in CASES:
        path = _write(tmp_path, content)
        result = runner.invoke(main, [command, str(path)])
        assert result.exit_code in (0, 1, 2), (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            name, repr(result.exception))
        assert "Traceback" not in result.output, name
        if result.output.startswith("Error: "):
            assert re.match(rf"Error: {re.escape(str(path))}:\d+: \S", result.output), (
                name, result.output)
            located += 1
    # Most cases are format errors located to their line; the rest are violations
    # (check), differences (replay), or harmless (an odd value of a free data key).
    assert located > len(CASES) // 2


def test_an_impossible_but_well_formed_trace_is_not_replayed_as_if_it_happened(
        tmp_path: Path) -> None:
    records = copy.deepcopy(RECORDS)
    job = next(r for r in records if r["entity"] == "job" and r["event"] == "create"
               and r.get("session"))
    job["session"] = "s999"
    result = CliRunner().invoke(main, ["replay", str(_write(tmp_path, records))])
    assert result.exit_code == 1
    assert "names session 's999', which the trace never created" in result.output


@pytest.mark.parametrize(("args", "words"), [
    (["whatif", "--horizon", "inf"], "'inf' must be a finite number of seconds > 0"),
    (["whatif", "--ittl", "nan"], "'nan' must be a finite number of seconds > 0"),
    (["whatif", "--ittl", "0"], "must be a finite number of seconds > 0"),
    (["demo", "--seed", "-1"], "-1 is not in the range"),
    (["whatif", "--seed", "-1"], "-1 is not in the range"),
])
def test_out_of_range_options_are_usage_errors(args: list[str], words: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert words in result.output


@pytest.mark.parametrize("command", [["demo"], ["whatif"], ["timeline", "TRACE"],
                                     ["diagram", "--format", "dot"]])
def test_an_output_path_that_cannot_be_written_is_a_usage_error(
        command: list[str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(_TRACE) + "\n")
    args = [str(trace) if a == "TRACE" else a for a in command]
    target = blocker / ("out.dot" if command[0] == "diagram" else "out")
    result = CliRunner().invoke(main, [*args, "-o", str(target)])
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output and "a-file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
