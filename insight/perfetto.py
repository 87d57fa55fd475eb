"""A trace as Chrome trace-event JSON, to explore in ui.perfetto.dev or chrome://tracing.

One process per QPU; in it one thread per lane of the timeline (the QPU, each session or
batch, job-mode jobs per instance). The QPU thread holds one complete event per job run and
one per reserved-idle hold; a session thread holds its pending/active/inactive spans with
its ITTL windows nested inside the active ones, and instants for submissions, deactivation,
max-TTL expiry, close and cancel; a counter per QPU follows its queue length. Times are
the trace's integer microseconds, which is the unit the format expects.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from qsession.model import FINAL_STATUSES
from qsession.runtime import Trace

from .spans import JobSpan, Lane, Mark, TimelineSpans, timeline_spans

Event = dict[str, Any]

MARK_NAMES = {"ittl": "ITTL elapsed: deactivated", "expired": "max TTL reached: expired",
              "closed": "closed", "canceled": "canceled", "close": "close() called: draining"}


def to_perfetto(trace: Trace) -> dict[str, Any]:
    """The trace as a Chrome trace-event object (``traceEvents``, ``displayTimeUnit`` "ms")."""
    spans = timeline_spans(trace)
    metadata: list[Event] = []
    events: list[Event] = []
    for pid, qpu in enumerate(spans.qpus(), 1):
        lanes = [lane for lane in spans.lanes if lane.qpu == qpu]
        metadata += _process_metadata(pid, qpu, lanes)
        for tid, lane in enumerate(lanes, 1):
            events += _lane_events(pid, tid, lane)
        events += _queue_counter(pid, queue_length(spans, qpu))
    # Stable order: by time, and a containing span before the spans it contains.
    events.sort(key=lambda e: (e["ts"], e["pid"], e["tid"], -e.get("dur", 0)))
    return {
        "traceEvents": metadata + events,
        "displayTimeUnit": "ms",
        "otherData": {"generator": "qsession", "epoch": spans.epoch.isoformat(),
                      "time_origin": "ts is microseconds since epoch",
                      **{f"trace.{k}": v for k, v in sorted(trace.meta.items())}},
    }


def write_perfetto(trace: Trace, path: str | Path) -> Path:
    """Write ``to_perfetto(trace)`` as JSON (sorted keys, byte-stable) to ``path``; return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_perfetto(trace), sort_keys=True, separators=(",", ":")) + "\n")
    return path


def _process_metadata(pid: int, qpu: str, lanes: list[Lane]) -> list[Event]:
    out: list[Event] = [
        _meta(pid, 0, "process_name", name=f"QPU {qpu}"),
        _meta(pid, 0, "process_sort_index", sort_index=pid),
    ]
    for tid, lane in enumerate(lanes, 1):
        name = lane.label if lane.final_state is None else f"{lane.label} [{lane.final_state}]"
        out += [_meta(pid, tid, "thread_name", name=name),
                _meta(pid, tid, "thread_sort_index", sort_index=tid)]
    return out


def _meta(pid: int, tid: int, kind: str, **args: Any) -> Event:
    return {"ph": "M", "pid": pid, "tid": tid, "ts": 0, "name": kind, "args": args}


def _lane_events(pid: int, tid: int, lane: Lane) -> list[Event]:
    if lane.kind == "qpu":
        out = [_run(pid, tid, j) for j in lane.runs]
        out += [_complete(pid, tid, f"reserved idle ({h.label})", "hold", h.start, h.end,
                          session=h.label, held_us=h.duration) for h in lane.holds]
        return out
    out = [_complete(pid, tid, str(s.label), "session", s.start, s.end, state=s.label)
           for s in lane.states]
    out += [_complete(pid, tid, "ITTL window", "ittl", w.start, w.end, idle_us=w.duration)
            for w in lane.ittl]
    out += [_mark(pid, tid, m) for m in lane.marks]
    for j in lane.jobs:
        out.append(_instant(pid, tid, f"submit {j.job}", "job", j.created, job=j.job))
        if j.started is None and j.state in FINAL_STATUSES:  # ended while queued
            out.append(_instant(pid, tid, f"{j.job} {j.state}", "job", j.end, job=j.job,
                                state=j.state, wait_us=j.end - j.created))
    return out


def _run(pid: int, tid: int, j: JobSpan) -> Event:
    assert j.started is not None
    return _complete(pid, tid, f"{j.job} {j.state}", "job", j.started, j.end, job=j.job,
                     session=j.session, instance=j.instance, state=j.state,
                     wait_us=j.started - j.created)


def _complete(pid: int, tid: int, name: str, cat: str, start: int, end: int,
              **args: Any) -> Event:
    return {"ph": "X", "pid": pid, "tid": tid, "ts": start, "dur": end - start, "name": name,
            "cat": cat, "args": args}


def _instant(pid: int, tid: int, name: str, cat: str, t: int, **args: Any) -> Event:
    return {"ph": "i", "s": "t", "pid": pid, "tid": tid, "ts": t, "name": name, "cat": cat,
            "args": args}


def _mark(pid: int, tid: int, mark: Mark) -> Event:
    return _instant(pid, tid, MARK_NAMES[mark.kind], "session", mark.t, kind=mark.kind)


def _queue_counter(pid: int, series: list[tuple[int, int]]) -> list[Event]:
    return [{"ph": "C", "pid": pid, "tid": 0, "ts": t, "name": "queue length",
             "args": {"queued": n}} for t, n in series]


def queue_length(spans: TimelineSpans, qpu: str) -> list[tuple[int, int]]:
    """``(t, queued)`` after each instant the number of queued jobs on ``qpu`` changed."""
    jobs = {j.job: j for lane in spans.lanes if lane.qpu == qpu and lane.kind != "qpu"
            for j in lane.jobs}
    delta: Counter[int] = Counter()
    for j in jobs.values():
        delta[j.created] += 1
        if j.started is not None:
            delta[j.started] -= 1
        elif j.state in FINAL_STATUSES:
            delta[j.end] -= 1
    out: list[tuple[int, int]] = []
    level = 0
    for t in sorted(delta):
        level += delta[t]
        if not out or out[-1][1] != level:
            out.append((t, level))
    return out
