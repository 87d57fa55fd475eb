"""Diagrams are drawn from the model, in four formats, byte-identical across runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from qsession.cli.main import main
from qsession.diagrams import DiagramError, _without_fontconfig_warnings, mermaid, render
from qsession.diagrams.markdown import lifecycle_markdown
from qsession.model import JOB_TABLE, SESSION_TABLE

ROOT = Path(__file__).resolve().parents[2]


def test_mermaid_lists_every_session_state_and_event() -> None:
    text = mermaid("session")
    assert text.splitlines()[3] == "stateDiagram-v2"
    for state in SESSION_TABLE.state_names:
        assert f'state "{state}" as {state}' in text
    for event in SESSION_TABLE.event_names:
        assert f" {event}" in text
    for final in SESSION_TABLE.final_states:
        assert f"Class {final} s_final" in text
    assert "[*] --> pending" in text


def test_every_edge_of_the_table_is_in_the_mermaid_and_dot() -> None:
    for table in (SESSION_TABLE, JOB_TABLE):
        text = mermaid(table.kind)
        dot = render(table.kind, "dot").decode()
        for source, row, target in table.edges():
            line = next(x for x in text.splitlines() if x.strip().startswith(
                f"{source} --> {target}:"))
            assert row.event in line
            assert f"{source} -> {target}" in dot


@pytest.mark.parametrize("fmt", ["mermaid", "dot", "svg", "png"])
@pytest.mark.parametrize("machine", ["session", "job"])
def test_output_is_deterministic(machine: str, fmt: str) -> None:
    first = render(machine, fmt)  # type: ignore[arg-type]
    assert first == render(machine, fmt)  # type: ignore[arg-type]
    if fmt == "png":
        assert first.startswith(b"\x89PNG\r\n")
    if fmt == "svg":
        assert b"<svg" in first
        table = SESSION_TABLE if machine == "session" else JOB_TABLE
        assert all(state.encode() in first for state in table.state_names)


def test_unknown_machine_and_format_are_clear_errors() -> None:
    with pytest.raises(DiagramError, match="unknown machine 'queue'; choose one of: session, job"):
        render("queue")
    with pytest.raises(DiagramError, match="unknown format 'gif'"):
        render("session", "gif")  # type: ignore[arg-type]


def test_cli_writes_all_four_formats(tmp_path: Path) -> None:
    runner = CliRunner()
    for fmt in ("mermaid", "dot", "svg", "png"):
        out = tmp_path / f"s.{fmt}"
        result = runner.invoke(main, ["diagram", "--format", fmt, "--output", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == render("session", fmt)  # type: ignore[arg-type]
    result = runner.invoke(main, ["diagram", "--machine", "job"])
    assert result.exit_code == 0 and "QUEUED --> RUNNING: start" in result.output
    result = runner.invoke(main, ["diagram", "--format", "png"])
    assert result.exit_code != 0 and "give --output" in result.output


def test_docs_lifecycle_md_is_in_sync_with_the_model() -> None:
    committed = (ROOT / "docs" / "lifecycle.md").read_text()
    assert committed == lifecycle_markdown(), "docs/lifecycle.md drifted: run `make docs`"


def test_graphviz_stderr_passes_on_all_but_fontconfig_warnings(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with _without_fontconfig_warnings(str(tmp_path / "stderr")):
        os.write(2, b'Fontconfig warning: "x.conf", line 6: unknown element "reset-dirs"\n')
        os.write(2, b"Warning: node s1, port p unrecognized\n")
    assert capfd.readouterr().err == "Warning: node s1, port p unrecognized\n"


def test_graphviz_stderr_is_passed_on_when_the_draw_fails(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="layout error"), \
            _without_fontconfig_warnings(str(tmp_path / "stderr")):
        os.write(2, b"Error: syntax error in line 1\n")
        raise ValueError("Graphviz raised a layout error.")
    assert capfd.readouterr().err == "Error: syntax error in line 1\n"
