"""The timeline picture and the Perfetto export agree with the trace they are drawn from."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers.rig import Rig

from qsession.cli.main import main
from qsession.insight.metrics import compute
from qsession.insight.perfetto import queue_length, to_perfetto, write_perfetto
from qsession.insight.spans import Lane, TimelineSpans, timeline_spans
from qsession.insight.timeline import draw_timeline, time_unit
from qsession.model import FINAL_STATUSES
from qsession.runtime import Record, Trace
from qsession.runtime.engine.clock import US_PER_S, to_seconds, to_us
from qsession.runtime.engine.scheduler import Scheduler

VALID_PH = {"X", "i", "M", "C"}


def busy_rig() -> Rig:
    """One QPU, two instances: every kind of lane, span and mark the picture draws."""
    rig = Rig(interactive_timeout=10, instances={"a": 1.0, "b": 1.0})
    s = rig.session(instance="a", max_time=120)  # deactivates, reactivates, expires
    b = rig.session("batch", instance="b")  # closed with a job queued: drains
    c = rig.session(instance="b", ittl=5)  # canceled with jobs queued
    rig.job(s, seconds=7)
    rig.job(s, seconds=7)
    rig.job(b, seconds=3)
    rig.job(b, seconds=3)
    rig.job(seconds=5, instance="a")
    rig.job(seconds=5, instance="b")
    rig.job(c, seconds=4)
    rig.at(16)  # inside s's ITTL window: the QPU was held idle 14 -> 16
    rig.job(s, seconds=1)
    rig.at(60)  # s is inactive since 27: this job reactivates it
    rig.job(s, seconds=4)
    rig.job(c, seconds=6)
    rig.job(c, seconds=6)
    rig.job(b, seconds=2)
    rig.sched.cancel_job(rig.job(seconds=4, instance="a"))
    rig.at(66)
    rig.sched.cancel(c)
    rig.sched.close(b)
    rig.at(90)
    with rig.clock.lock:  # modeled at 5 s, stopped at its 2 s limit: ERROR after running
        rig.sched.submit(None, instance="b", kind="null", payload=None, duration_us=to_us(5),
                         time_limit_us=to_us(2))
    rig.at(95)
    stopped = rig.job(seconds=10, instance="a")
    rig.at(97)
    rig.sched.cancel_job(stopped)  # cancelled while running
    rig.at(115)
    for _ in range(3):
        rig.job(s, seconds=3)
    rig.run()
    rig.at(150)
    return rig


@pytest.fixture(scope="module")
def trace() -> Trace:
    return busy_rig().trace


@pytest.fixture(scope="module")
def spans(trace: Trace) -> TimelineSpans:
    return timeline_spans(trace)


@pytest.fixture(scope="module")
def drawn(trace: Trace, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("timeline")
    png, svg = out / "t.png", out / "t.svg"
    draw_timeline(trace, png, svg)
    return png, svg


def job_runs(records: list[Record]) -> dict[str, tuple[int | None, int, str]]:
    """Each job's (start, final instant, final state), read straight from the job records."""
    started: dict[str, int] = {}
    out: dict[str, tuple[int | None, int, str]] = {}
    for r in records:
        if r.entity != "job":
            continue
        if r.event == "start":
            started[r.id] = r.t
        if r.dest in FINAL_STATUSES:
            out[r.id] = (started.get(r.id), r.t, r.dest)
    return out


def sessions(spans: TimelineSpans) -> list[Lane]:
    return [lane for lane in spans.lanes if lane.kind in ("session", "batch")]


# -- the spans agree with the trace and the metrics ------------------------------------


def test_the_scenario_covers_every_thing_the_picture_draws(spans: TimelineSpans) -> None:
    assert [lane.key for lane in spans.lanes] == [
        "qpu:qpu", "session:s1", "session:s2", "session:s3", "jobs:qpu:a", "jobs:qpu:b"]
    assert [lane.kind for lane in spans.lanes] == ["qpu", "session", "batch", "session",
                                                    "jobs", "jobs"]
    assert [lane.final_state for lane in sessions(spans)] == ["expired", "closed", "canceled"]
    marks = {(lane.key, m.kind) for lane in spans.lanes for m in lane.marks}
    assert {("session:s1", "expired"), ("session:s1", "ittl"), ("session:s2", "close"),
            ("session:s2", "closed"), ("session:s3", "canceled")} <= marks
    states = {j.state for lane in spans.lanes for j in lane.jobs}
    assert states == {"DONE", "ERROR", "CANCELLED"}
    assert spans.lane("qpu:qpu").holds and spans.lane("session:s1").inactive


def test_qpu_bars_are_the_job_run_intervals(trace: Trace, spans: TimelineSpans) -> None:
    runs = job_runs(trace.records)
    qpu = spans.lane("qpu:qpu")
    drawn = {j.job: (j.started, j.end, j.state) for j in qpu.runs}
    assert drawn == {jid: run for jid, run in runs.items() if run[0] is not None}
    intervals = [(j.run.start, j.run.end) for j in qpu.runs if j.run is not None]
    assert len(intervals) == len(qpu.runs) and intervals == sorted(intervals)
    for (_, end), (start, _) in itertools.pairwise(intervals):  # one job at a time on a QPU
        assert end <= start


def test_every_job_is_on_its_owner_lane_once(trace: Trace, spans: TimelineSpans) -> None:
    owners: dict[str, list[str]] = defaultdict(list)
    for lane in spans.lanes:
        if lane.kind != "qpu":
            for j in lane.jobs:
                owners[j.job].append(lane.key)
    expected = {r.id: f"session:{r.session}" if r.session else f"jobs:{r.qpu}:{r.instance}"
                for r in trace.of("job") if r.event == "create"}
    assert {jid: keys for jid, keys in owners.items()} == {j: [k] for j, k in expected.items()}
    runs = job_runs(trace.records)
    for lane in spans.lanes:
        for j in lane.jobs:
            assert (j.started, j.end, j.state) == runs[j.job]
            created = next(r.t for r in trace.of("job", j.job) if r.event == "create")
            assert j.wait.start == created
            assert j.wait.end == (j.end if j.started is None else j.started)


def test_spans_agree_with_the_metrics(trace: Trace, spans: TimelineSpans) -> None:
    metrics = compute(trace)
    qpu_lane = spans.lane("qpu:qpu")
    qpu = metrics.qpus["qpu"]
    assert to_seconds(sum(h.duration for h in qpu_lane.holds)) == pytest.approx(qpu.reserved_idle)
    assert to_seconds(sum(j.run.duration for j in qpu_lane.runs if j.run)) == pytest.approx(
        qpu.busy)
    for lane in sessions(spans):
        m = metrics.sessions[lane.key.removeprefix("session:")]
        held = sum(h.duration for h in qpu_lane.holds if h.label == m.id)
        assert to_seconds(held) == pytest.approx(m.reserved_idle)
        assert len(lane.inactive) == m.deactivations
        assert sum(1 for s in lane.active) == m.activations
        if m.mode == "dedicated":
            # Billed: the active spans, the last one until the job running at its end ends.
            bills = [r for r in trace if r.event == "bill" and r.session == m.id]
            billed = to_seconds(sum(int(r.data["span_us"]) for r in bills))  # type: ignore[call-overload]
            assert billed == pytest.approx(m.usage_time)
            active = to_seconds(sum(s.duration for s in lane.active))
            assert active <= m.usage_time + 1e-9
        assert sorted(j.job for j in lane.jobs) == sorted(m.jobs)
    for lane in spans.lanes:
        for j in lane.jobs:
            jm = metrics.jobs[j.job]
            assert (to_seconds(j.created), jm.status) == (jm.created, j.state)
            assert jm.started == (None if j.started is None else to_seconds(j.started))
            assert jm.finished == to_seconds(j.end)


def test_inactive_spans_run_from_ittl_elapsed_to_the_next_job_start_or_end(
        trace: Trace, spans: TimelineSpans) -> None:
    for lane in sessions(spans):
        expected = []
        since = None
        for r in trace.of("session", lane.key.removeprefix("session:")):
            if r.event == "ittl_elapsed":
                since = r.t
            elif since is not None and r.source == "inactive" and r.dest != "inactive":
                expected.append((since, r.t))
                since = None
        assert [(s.start, s.end) for s in lane.inactive] == expected
    s1 = spans.lane("session:s1")
    assert [(to_seconds(s.start), to_seconds(s.end)) for s in s1.inactive] == [
        (27.0, 60.0), (74.0, 115.0)]


def test_ittl_windows_are_the_schedulers_ittl_timers(trace: Trace, spans: TimelineSpans) -> None:
    timers: dict[str, list[tuple[int, int]]] = defaultdict(list)
    armed: dict[str, int] = {}
    for r in trace.of("qpu"):
        if r.data.get("timer") != "ittl":
            continue
        sid = str(r.session)
        if r.event == "timer_set":
            armed[sid] = r.t
        else:  # timer_fire (deactivation) or timer_cancel (a submission, close, end)
            since = armed.pop(sid)
            if r.t > since:
                timers[sid].append((since, r.t))
    assert not armed
    for lane in sessions(spans):
        sid = lane.key.removeprefix("session:")
        assert [(w.start, w.end) for w in lane.ittl] == timers[sid]
        for w in lane.ittl:  # every window lies inside an active span
            assert any(a.start <= w.start and w.end <= a.end for a in lane.active)
    assert [(to_seconds(w.start), to_seconds(w.end)) for w in spans.lane("session:s1").ittl] == [
        (14.0, 16.0), (17.0, 27.0), (64.0, 74.0)]


def test_expiry_mark_and_the_queued_jobs_it_failed(trace: Trace, spans: TimelineSpans) -> None:
    s1 = spans.lane("session:s1")
    expiry = [r.t for r in trace.of("session", "s1") if r.event == "max_time_reached"]
    assert s1.expiries == expiry == [to_us(120)]
    failed = [j for j in s1.jobs if j.started is None]
    assert failed and all(j.state == "ERROR" and j.end == expiry[0] for j in failed)
    ran_on = [j for j in s1.runs if j.end > expiry[0]]  # a running job completes
    assert [(j.state, to_seconds(j.end)) for j in ran_on] == [("DONE", 121.0)]


def test_cancel_and_close_marks(trace: Trace, spans: TimelineSpans) -> None:
    s3 = spans.lane("session:s3")
    cancel_t = next(r.t for r in trace.of("session", "s3") if r.event == "cancel")
    assert [(m.t, m.kind) for m in s3.marks if m.kind == "canceled"] == [(cancel_t, "canceled")]
    assert {(j.state, j.end) for j in s3.jobs if j.started is None} == {("CANCELLED", cancel_t)}
    s2 = spans.lane("session:s2")
    kinds = [(to_seconds(m.t), m.kind) for m in s2.marks if m.kind != "ittl"]
    assert kinds == [(66.0, "close"), (76.0, "closed")]  # close() while a job queued: drains
    cancelled_running = [j for j in spans.lane("jobs:qpu:a").runs if j.state == "CANCELLED"]
    assert [(to_seconds(j.started or 0), to_seconds(j.end)) for j in cancelled_running] == [
        (95.0, 97.0)]


def test_a_job_running_when_the_trace_ends_is_drawn_to_the_end() -> None:
    rig = Rig()
    s = rig.session()
    rig.job(s, seconds=100)
    rig.job(s, seconds=1)
    rig.at(5)
    spans = timeline_spans(rig.trace)
    assert [(j.state, j.end) for j in spans.lane("session:s1").jobs] == [
        ("RUNNING", 0), ("QUEUED", 0)]
    assert spans.lane("session:s1").states == []  # pending -> active at 0, trace ends at 0


def test_two_qpus_get_their_own_lanes() -> None:
    rig = Rig()
    other = Scheduler("qpu2", rig.clock, rig.trace, rig.settings, ids=itertools.count(100))
    rig.job(seconds=3)
    with rig.clock.lock:
        other.submit(None, instance="default", kind="null", payload=None, duration_us=to_us(4))
    rig.run()
    spans = timeline_spans(rig.trace)
    assert spans.qpus() == ["qpu", "qpu2"]
    assert [lane.key for lane in spans.lanes] == ["qpu:qpu", "jobs:qpu:default", "qpu:qpu2",
                                                  "jobs:qpu2:default"]
    doc = to_perfetto(rig.trace)
    assert {e["pid"] for e in doc["traceEvents"] if e["ph"] == "X"} == {1, 2}


# -- the picture ------------------------------------------------------------------------


def test_png_and_svg_are_written(drawn: tuple[Path, Path]) -> None:
    png, svg = drawn
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and len(text) > 20_000
    for label in ("QPU qpu", "s1 · session · a", "s2 · batch · b", "job mode · b", "max TTL",
                  "canceled", "time since 2025-01-01 00:00:00 UTC (s)"):
        assert label in text
    assert "<dc:date>" not in text


def test_the_svg_is_byte_identical_for_the_same_trace(trace: Trace, drawn: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    again = trace.write(tmp_path / "trace.jsonl")
    svg = tmp_path / "again.svg"
    draw_timeline(Trace.read(again), None, svg)  # drawn anew from the file on disk
    assert svg.read_bytes() == drawn[1].read_bytes()


def test_the_figure_is_returned_with_labelled_lanes(trace: Trace) -> None:
    fig = draw_timeline(trace, None, None, title="busy")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "QPU qpu" and labels[1] == "s1 · session · a\n[expired]"
    assert ax.get_title(loc="left") == "busy"
    assert len(fig.legends) == 1


@pytest.mark.parametrize(("seconds", "unit"), [(30, "s"), (1200, "s"), (3600, "min"),
                                              (8 * 3600, "min"), (11 * 3600, "h")])
def test_long_traces_switch_the_axis_unit(seconds: int, unit: str) -> None:
    assert time_unit(seconds * US_PER_S)[0] == unit


def test_a_long_session_is_drawn_in_hours() -> None:
    rig = Rig()
    s = rig.session(max_time=12 * 3600)
    rig.job(s, seconds=600)
    rig.run()
    rig.at(11 * 3600)
    rig.job(s, seconds=600)
    rig.run()
    fig = draw_timeline(rig.trace, None, None)
    assert fig.axes[0].get_xlabel().endswith("(h)")


def test_an_empty_trace_still_draws(tmp_path: Path) -> None:
    draw_timeline(Trace(), tmp_path / "e.png", None)
    assert (tmp_path / "e.png").stat().st_size > 0
    assert to_perfetto(Trace())["traceEvents"] == []


def test_importing_the_runtime_does_not_import_matplotlib() -> None:
    code = ("import sys, qsession.runtime, qsession.insight.timeline, qsession.insight.perfetto,"
            " qsession.cli.main; print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# -- Perfetto ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def perfetto(trace: Trace) -> dict[str, Any]:
    return to_perfetto(trace)


def test_perfetto_has_one_complete_event_per_job_that_ran(trace: Trace,
                                                          perfetto: dict[str, Any]) -> None:
    runs = {e["args"]["job"]: e for e in perfetto["traceEvents"]
            if e["ph"] == "X" and e["cat"] == "job"}
    expected = {jid: run for jid, run in job_runs(trace.records).items() if run[0] is not None}
    assert len(runs) == len([e for e in perfetto["traceEvents"]
                             if e["ph"] == "X" and e["cat"] == "job"])
    assert runs.keys() == expected.keys()
    for jid, (start, end, state) in expected.items():
        assert start is not None
        e = runs[jid]
        assert (e["ts"], e["dur"], e["args"]["state"]) == (start, (end - start), state)
        assert e["name"] == f"{jid} {state}"
        created = next(r.t for r in trace.of("job", jid) if r.event == "create")
        assert e["args"]["wait_us"] == start - created
        assert {"session", "instance"} <= e["args"].keys()


def test_perfetto_instants_mark_expiry_cancel_close_and_deactivation(
        trace: Trace, perfetto: dict[str, Any]) -> None:
    instants = {(e["args"].get("kind"), e["ts"]) for e in perfetto["traceEvents"]
                if e["ph"] == "i"}
    session_events = {"max_time_reached": "expired", "ittl_elapsed": "ittl", "cancel": "canceled"}
    for r in trace.of("session"):
        if r.event in session_events:
            assert (session_events[r.event], r.t) in instants
    assert ("close", to_us(66)) in instants and ("closed", to_us(76)) in instants
    ended_queued = {e["args"]["job"] for e in perfetto["traceEvents"]
                    if e["ph"] == "i" and e["cat"] == "job" and "state" in e["args"]}
    assert ended_queued == {jid for jid, run in job_runs(trace.records).items() if run[0] is None}


def test_perfetto_events_are_well_formed(perfetto: dict[str, Any]) -> None:
    assert perfetto["displayTimeUnit"] == "ms"
    events = perfetto["traceEvents"]
    assert {e["ph"] for e in events} == VALID_PH
    named = {(e["pid"], e["tid"]) for e in events if e["name"] == "thread_name"}
    processes = {e["pid"] for e in events if e["name"] == "process_name"}
    for e in events:
        assert isinstance(e["ts"], int) and e["ts"] >= 0 and isinstance(e["pid"], int)
        if e["ph"] == "X":
            assert isinstance(e["dur"], int) and e["dur"] >= 0
        if e["ph"] in ("X", "i"):
            assert (e["pid"], e["tid"]) in named
        if e["ph"] == "i":
            assert e["s"] == "t"
        assert e["pid"] in processes
    assert json.loads(json.dumps(perfetto)) == perfetto


def test_perfetto_complete_events_nest_on_each_thread(perfetto: dict[str, Any]) -> None:
    """Slices on one thread must not overlap partly (trace viewers drop such slices)."""
    by_thread: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for e in perfetto["traceEvents"]:
        if e["ph"] == "X":
            by_thread[e["pid"], e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
    for slices in by_thread.values():
        for (a0, a1), (b0, b1) in itertools.combinations(slices, 2):
            disjoint = a1 <= b0 or b1 <= a0
            nested = (a0 <= b0 and b1 <= a1) or (b0 <= a0 and a1 <= b1)
            assert disjoint or nested, ((a0, a1), (b0, b1))


def test_perfetto_queue_counter_follows_the_queue(spans: TimelineSpans,
                                                  perfetto: dict[str, Any]) -> None:
    counter = [(e["ts"], e["args"]["queued"]) for e in perfetto["traceEvents"] if e["ph"] == "C"]
    assert counter == queue_length(spans, "qpu")
    assert counter[0] == (0, 6) and counter[-1][1] == 0 and min(n for _, n in counter) >= 0


def test_perfetto_file_is_deterministic(trace: Trace, tmp_path: Path) -> None:
    a = write_perfetto(trace, tmp_path / "a.json")
    b = write_perfetto(Trace.loads(trace.dumps()), tmp_path / "b.json")
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(a.read_text()) == to_perfetto(trace)


# -- the command ------------------------------------------------------------------------


def test_timeline_command_writes_the_three_files(trace: Trace, tmp_path: Path) -> None:
    path = trace.write(tmp_path / "run" / "trace.jsonl")
    result = CliRunner().invoke(main, ["timeline", str(path)])
    assert result.exit_code == 0, result.output
    names = ("timeline.png", "timeline.svg", "trace.perfetto.json")
    assert result.output.split() == [str(path.parent / n) for n in names]
    assert all((path.parent / n).stat().st_size > 0 for n in names)
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(main, ["timeline", str(path), "--output-dir", str(out),
                                       "--no-perfetto"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["timeline.png", "timeline.svg"]


def test_timeline_command_rejects_a_file_that_is_not_a_trace(tmp_path: Path) -> None:
    bad = tmp_path / "notes.jsonl"
    bad.write_text('{"format": "csv"}\n')
    result = CliRunner().invoke(main, ["timeline", str(bad)])
    assert result.exit_code != 0
    assert "is not a qsession trace header" in result.output
    assert not (tmp_path / "timeline.png").exists()
