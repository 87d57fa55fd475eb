"""The demo and the ITTL study: outputs exist, agree with the trace and replay from the seed."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from qsession.cli.main import main
from qsession.insight.demo import OUTPUT_FILES, DemoConfig, DemoResult, run_demo, simulate
from qsession.insight.metrics import compute
from qsession.insight.spans import timeline_spans
from qsession.insight.story import figures, read_story
from qsession.insight.whatif import WhatIfConfig, run_whatif, sweep
from qsession.runtime import Record, Trace
from qsession.runtime.engine.clock import to_seconds, to_us
from qsession.runtime.ibm.workload import WorkloadSpec, generate

TINY_WHATIF = WhatIfConfig(ittls=(1.0, 60.0), reps=1, iterations=4, horizon=150.0,
                           rate=1 / 20, tenant_sessions=(30.0,))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str, Path]:
    """One full demo run with its printed output captured."""
    out = tmp_path_factory.mktemp("demo")
    console = Console(file=io.StringIO(), width=120)
    result = run_demo(out, DemoConfig(), console=console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return result, text, out


@pytest.fixture(scope="module")
def trace(demo: tuple[DemoResult, str, Path]) -> Trace:
    """The demo's trace as written to disk and read back."""
    return Trace.read(demo[2] / "trace.jsonl")


@pytest.fixture(scope="module")
def session_id(demo: tuple[DemoResult, str, Path]) -> str:
    return demo[0].run.session_id


def jobs_of(trace: Trace) -> dict[str, dict[str, Record]]:
    """Each job's records by event (create, start, finish, fail, expire, cancel)."""
    out: dict[str, dict[str, Record]] = {}
    for r in trace.of("job"):
        out.setdefault(r.id, {})[r.event] = r
    return out


def session_jobs(trace: Trace, sid: str) -> list[str]:
    return [r.id for r in trace.of("job") if r.event == "create" and r.session == sid]


# -- outputs ---------------------------------------------------------------------------------


def test_every_output_file_is_written(demo: tuple[DemoResult, str, Path]) -> None:
    _, _, out = demo
    for name in OUTPUT_FILES:
        assert (out / name).stat().st_size > 0, name
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "timeline.svg").read_bytes()[:2000]
    assert b"<svg" in (out / "session-lifecycle.svg").read_bytes()[:2000]
    assert json.loads((out / "trace.perfetto.json").read_text())["traceEvents"]


# -- the behaviours, read from the trace by the test itself ------------------------------------


def test_first_session_job_queues_behind_earlier_tenant_jobs(trace: Trace,
                                                             session_id: str) -> None:
    jobs = jobs_of(trace)
    first = session_jobs(trace, session_id)[0]
    created, started = jobs[first]["create"].t, jobs[first]["start"].t
    earlier_tenants = [j for j, ev in jobs.items() if ev["create"].session != session_id
                       and ev["create"].t <= created and "start" in ev]
    assert earlier_tenants
    assert all(jobs[j]["start"].t < started for j in earlier_tenants)
    dispatch = next(r for r in trace.of("qpu") if r.event == "dispatch"
                    and r.data.get("job") == first)
    assert dispatch.data["via"] == "normal"


def test_later_session_jobs_jump_ahead_of_queued_tenant_jobs(trace: Trace,
                                                             session_id: str) -> None:
    queued: set[str] = set()
    jumps = 0
    for r in trace:
        if r.entity == "job" and r.session != session_id:
            if r.event == "create":
                queued.add(r.id)
            elif r.source == "QUEUED":
                queued.discard(r.id)
        if (r.event == "dispatch" and r.session == session_id
                and r.data.get("via") == "session" and queued):
            jumps += 1
    assert jumps >= 5


def test_ittl_expiry_then_reactivation_through_the_normal_queue(trace: Trace,
                                                                session_id: str) -> None:
    records = trace.of("session", session_id)
    elapsed = [r for r in records if r.event == "ittl_elapsed"]
    assert elapsed and elapsed[0].dest == "inactive"
    reactivated = [r for r in records if r.event == "job_started" and r.source == "inactive"
                   and r.dest == "active" and r.seq > elapsed[0].seq]
    assert reactivated
    dispatch = [r for r in trace.of("qpu") if r.event == "dispatch" and r.session == session_id
                and r.t == reactivated[0].t]
    assert [r.data["via"] for r in dispatch] == ["normal"]
    # The reactivating job waited while tenant jobs ran ahead of it.
    job = jobs_of(trace)[str(dispatch[0].data["job"])]
    assert job["start"].t - job["create"].t > 0


def test_max_ttl_fails_the_queued_jobs_and_the_running_one_completes(trace: Trace,
                                                                    session_id: str) -> None:
    expiry = next(r for r in trace.of("session", session_id) if r.event == "max_time_reached")
    assert expiry.dest == "expired"
    jobs = jobs_of(trace)
    expired = [j for j, ev in jobs.items() if "expire" in ev and ev["create"].session ==
               session_id]
    assert expired
    assert all(jobs[j]["expire"].t == expiry.t and jobs[j]["expire"].dest == "ERROR"
               for j in expired)
    running = [j for j, ev in jobs.items() if ev["create"].session == session_id
               and "start" in ev and ev["start"].seq < expiry.seq
               and ev.get("finish", ev.get("fail", expiry)).seq > expiry.seq]
    assert len(running) == 1 and "finish" in jobs[running[0]]
    created = next(r for r in trace.of("session", session_id) if r.event == "create")
    started = next(r for r in trace.of("session", session_id) if r.dest == "active")
    assert expiry.t == started.t + int(created.data["max_time_us"])  # type: ignore[arg-type]


def test_the_demo_trace_satisfies_every_invariant(trace: Trace) -> None:
    invariants = pytest.importorskip("qsession.properties.invariants")
    report = invariants.check(trace, settled=True)
    assert report.ok, report.violations[:3]


def test_the_story_matches_the_trace(demo: tuple[DemoResult, str, Path], trace: Trace,
                                     session_id: str) -> None:
    story = read_story(trace, session_id)
    assert story.first_job == session_jobs(trace, session_id)[0]
    assert story.ahead_of_first and story.jumps and story.deactivations
    assert story.reactivations and story.expiry is not None and story.expired
    assert story.running_at_expiry is not None
    _, text, _ = demo
    flat = " ".join(text.split())
    first = story.jobs[story.first_job]
    assert f"queued {first.wait:.1f} s behind {len(story.ahead_of_first)} tenant job" in flat
    assert f"ITTL expired at {story.deactivations[0][1]:.1f} s" in flat
    job, _ = story.reactivations[0]
    assert f"Reactivated at {story.jobs[job].started:.1f} s by job {job}" in flat
    assert f"Max TTL at {story.expiry:.1f} s: {len(story.expired)} queued job" in flat


# -- printed metrics, timeline and Perfetto agree with the trace ------------------------------


def test_printed_metrics_equal_metrics_of_the_trace(demo: tuple[DemoResult, str, Path],
                                                    trace: Trace, session_id: str) -> None:
    result, text, _ = demo
    numbers = figures(compute(trace), session_id)
    assert numbers == result.figures
    flat = " ".join(text.split())
    for shown in (f"{numbers['qpu_utilisation']:.1%}",
                  f"{numbers['qpu_reserved_idle_fraction']:.1%}",
                  f"{numbers['session_usage_s']:.1f} s",
                  f"{numbers['tenant_mean_wait_s']:.1f} s",
                  f"{numbers['session_mean_wait_s']:.1f} s"):
        assert shown in flat
    metrics = compute(trace)
    session = metrics.sessions[session_id]
    row = next(line for line in text.splitlines() if line.startswith(f"{session.id} "))
    assert f"{session.usage_time:.1f}" in row.split(), row


def test_timeline_spans_agree_with_the_trace(trace: Trace, session_id: str) -> None:
    spans = timeline_spans(trace)
    qpu = spans.lanes[0]
    jobs = jobs_of(trace)
    ran = {j: (ev["start"].t, next(ev[k].t for k in ("finish", "fail", "cancel") if k in ev))
           for j, ev in jobs.items() if "start" in ev}
    assert {j.job: (j.started, j.end) for j in qpu.runs} == ran
    metrics = compute(trace)
    assert to_seconds(sum(h.duration for h in qpu.holds)) == pytest.approx(
        metrics.qpus[qpu.qpu].reserved_idle, abs=1e-6)
    lane = spans.lane(f"session:{session_id}")
    records = trace.of("session", session_id)
    assert lane.expiries == [r.t for r in records if r.event == "max_time_reached"]
    assert [s.start for s in lane.inactive] == [r.t for r in records
                                                if r.event == "ittl_elapsed"]
    assert lane.final_state == "expired"


def test_perfetto_export_agrees_with_the_trace(demo: tuple[DemoResult, str, Path],
                                               trace: Trace) -> None:
    events = json.loads((demo[2] / "trace.perfetto.json").read_text())["traceEvents"]
    runs = {e["args"]["job"]: (e["ts"], e["ts"] + e["dur"]) for e in events
            if e["ph"] == "X" and e["cat"] == "job"}
    jobs = jobs_of(trace)
    assert runs == {j: (ev["start"].t, next(ev[k].t for k in ("finish", "fail", "cancel")
                                             if k in ev))
                    for j, ev in jobs.items() if "start" in ev}
    expiries = [e["ts"] for e in events if e["ph"] == "i" and e["args"].get("kind") == "expired"]
    assert expiries == [r.t for r in trace.of("session") if r.event == "max_time_reached"]
    holds = sum(e["dur"] for e in events if e["ph"] == "X" and e["cat"] == "hold")
    assert to_seconds(holds) == pytest.approx(compute(trace).qpus["qsession_ideal"]
                                              .reserved_idle, abs=1e-6)


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_a_byte_identical_trace(demo: tuple[DemoResult, str, Path]) -> None:
    again = simulate(DemoConfig())
    assert again.trace.dumps() == (demo[2] / "trace.jsonl").read_text()


def test_another_seed_gives_another_workload() -> None:
    spec = WorkloadSpec()
    assert generate(7, spec) == generate(7, spec)
    assert generate(7, spec) != generate(8, spec)


def test_tenant_jobs_arrive_at_their_drawn_instants(demo: tuple[DemoResult, str, Path],
                                                    trace: Trace) -> None:
    workload = generate(demo[0].run.config.seed, demo[0].run.config.workload)
    created = sorted(r.t for r in trace.of("job") if r.event == "create" and r.session is None)
    assert created == sorted(to_us(j.at) for j in workload.jobs)
    assert all(j.at < workload.spec.horizon for j in workload.jobs)
    assert sum(j.at < 1.0 for j in workload.jobs) >= workload.spec.backlog


# -- the ITTL study ----------------------------------------------------------------------------


@pytest.mark.heavy  # side processes
def test_whatif_is_reproducible_and_parallel_equals_serial(tmp_path: Path) -> None:
    serial = sweep(TINY_WHATIF, jobs=1)
    assert sweep(TINY_WHATIF, jobs=1).to_json() == serial.to_json()
    assert sweep(TINY_WHATIF, jobs=2).to_json() == serial.to_json()
    assert [r.ittl for r in serial.runs] == [1.0, 60.0]
    assert all(r.session_jobs == TINY_WHATIF.iterations for r in serial.runs)
    other = sweep(replace(TINY_WHATIF, seed=8), jobs=1)
    assert other.to_json() != serial.to_json()


def test_whatif_writes_its_table_json_and_plot(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=140)
    result = run_whatif(tmp_path, TINY_WHATIF, jobs=1, console=console)
    saved = json.loads((tmp_path / "whatif.json").read_text())
    assert saved == json.loads(json.dumps(result.to_json()))
    assert (tmp_path / "whatif.png").read_bytes()[:4] == b"\x89PNG"
    text = console.file.getvalue()  # type: ignore[attr-defined]
    for point in result.summary:
        assert f"{point.ittl:g} s" in text
        assert f"{point.mean['session_turnaround']:.1f} s" in text
    # A short ITTL deactivates the session at least as often as a long one.
    short, long = result.summary
    assert short.mean["deactivations"] >= long.mean["deactivations"]
    assert short.mean["reserved_idle_fraction"] <= long.mean["reserved_idle_fraction"]


# -- the commands ------------------------------------------------------------------------------


def test_cli_demo_writes_the_same_trace(demo: tuple[DemoResult, str, Path],
                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["demo", "--output-dir", str(out), "--seed", "7",
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    for name in OUTPUT_FILES:
        assert (out / name).exists()
    assert (out / "trace.jsonl").read_text() == (demo[2] / "trace.jsonl").read_text()


def test_cli_whatif_prints_its_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["whatif", "-o", str(tmp_path), "--ittl", "60",
                                       "--ittl", "1", "--reps", "1", "--iterations", "3",
                                       "--horizon", "120", "--jobs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "ITTL sweep" in result.output and "60 s" in result.output
    saved = json.loads((tmp_path / "whatif.json").read_text())
    assert [p["ittl"] for p in saved["summary"]] == [1.0, 60.0]


def test_without_the_plot_and_diagrams_extras_it_writes_what_it_can_and_says_so(
        demo: tuple[DemoResult, str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules is how Python marks a module as not importable: both
    # `import matplotlib` and find_spec("matplotlib") then fail as if it were not installed.
    from qsession.insight.demo import Skipped, write_outputs
    from qsession.insight.report import print_report

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "pygraphviz", None)
    skipped: dict[str, Skipped] = {}
    files = write_outputs(demo[0].run, tmp_path, skipped)
    assert sorted(files) == ["session-lifecycle.mmd", "trace.jsonl", "trace.perfetto.json"]
    assert not (tmp_path / "timeline.png").exists()
    assert skipped["timeline.png"] == skipped["timeline.svg"] == (
        Skipped("matplotlib is not installed", "plot"))
    assert skipped["session-lifecycle.svg"] == Skipped(
        "SVG needs pygraphviz; its Mermaid source is in session-lifecycle.mmd", "diagrams")
    assert "stateDiagram" in (tmp_path / "session-lifecycle.mmd").read_text()

    # Piped output is 80 columns wide: the reasons may wrap, the command may not.
    console = Console(file=io.StringIO(), width=80)
    print_report(replace(demo[0], files=files, skipped=skipped), console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    lines = [line.rstrip() for line in text.splitlines()]
    assert "  timeline.png           not written: matplotlib is not installed" in lines
    assert "  session-lifecycle.svg  not written: SVG needs pygraphviz; its Mermaid source" in (
        lines)
    assert "    pip install 'qsession[plot,diagrams]'" in lines
    assert [line for line in lines if "pip" in line or "extras" in line] == [
        "  To write them, install the missing extras, then run again:",
        "    pip install 'qsession[plot,diagrams]'"]
    assert max(len(line) for line in text.splitlines()) <= 80


def test_the_quiet_demo_keeps_each_install_command_whole_at_80_columns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As a user pipes it (rich then writes 80 columns), with neither extra installed: the
    # command was cut inside before ("pip install \n'qsession[plot]'").
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "pygraphviz", None)
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(main, ["demo", "-q", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert lines[-1] == "    pip install 'qsession[plot,diagrams]'", lines
    assert lines[-2] == "  To write them, install the missing extras, then run again:"
    assert sum("pip install" in line for line in lines) == 1
    assert sum("not written:" in line for line in lines) == 3
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_the_report_reads_at_80_columns(demo: tuple[DemoResult, str, Path]) -> None:
    # Piped output gets rich's default of 80 columns: nothing may be cut or run over.
    from qsession.insight.report import print_report

    console = Console(file=io.StringIO(), width=80)
    print_report(demo[0], console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    result = demo[0]
    for s in result.metrics.sessions.values():
        row = next(line for line in text.splitlines() if line.startswith(f"{s.id} "))
        assert s.state in row.split(), row
    assert "job mode · 4 tenants" in text
