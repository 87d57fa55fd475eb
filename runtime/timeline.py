"""The timeline picture of a trace: what ran on each QPU, and each session's life beside it.

Everything is derived from the trace alone (``timeline_spans``), so the picture can be
drawn for any recorded trace, and tests can check the intervals it draws against the
records without reading pixels. Lanes, top to bottom for each QPU: the QPU itself (job
runs coloured by final state, reserved-idle holds hatched), one lane per session or batch
(its jobs' runs and thin queued intervals, inactive spans, ITTL windows, max-TTL expiry,
close and cancel marks), and one lane per instance for job-mode jobs.

matplotlib is imported only inside ``draw_timeline``: importing ``qsession.runtime`` must
stay free of it, and it is an optional extra (``qsession[plot]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from qsession.model import (
    ACTIVE,
    CANCELED,
    CANCELLED,
    CLOSED,
    DONE,
    ERROR,
    EXPIRED,
    FINAL_STATUSES,
    INACTIVE,
    PENDING,
    QUEUED,
    RUNNING,
    SESSION_TABLE,
)

from .clock import US_PER_S
from .trace import Record, Trace

LaneKind = Literal["qpu", "session", "batch", "jobs"]
MarkKind = Literal["expired", "closed", "canceled", "close", "ittl"]

_SESSION_FINAL = SESSION_TABLE.final_states


@dataclass(frozen=True, slots=True)
class Span:
    """An interval ``[start, end]`` in trace microseconds, with an optional label."""

    start: int
    end: int
    label: str | None = None

    @property
    def duration(self) -> int:
        """Length in microseconds."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class JobSpan:
    """One job as drawn: queued from ``created``, running from ``started`` until ``end``.

    ``end`` is the instant the job became final, or the end of its QPU's part of the trace
    when the trace stops first (then ``state`` is ``QUEUED`` or ``RUNNING``).
    """

    job: str
    qpu: str
    session: str | None
    instance: str | None
    created: int
    started: int | None
    end: int
    state: str

    @property
    def run(self) -> Span | None:
        """The interval it held the QPU, None if it never started."""
        return None if self.started is None else Span(self.started, self.end, self.state)

    @property
    def wait(self) -> Span:
        """The interval it queued: from submission to start (or to its end if it never ran)."""
        return Span(self.created, self.end if self.started is None else self.started, self.state)


@dataclass(frozen=True, slots=True)
class Mark:
    """An instant on a session lane: expiry, closed, canceled, a draining close(), an ITTL end."""

    t: int
    kind: MarkKind


@dataclass
class Lane:
    """One row of the timeline and everything drawn on it."""

    key: str
    kind: LaneKind
    qpu: str
    label: str
    instance: str | None = None
    jobs: list[JobSpan] = field(default_factory=list)
    holds: list[Span] = field(default_factory=list)
    states: list[Span] = field(default_factory=list)
    ittl: list[Span] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    final_state: str | None = None

    @property
    def runs(self) -> list[JobSpan]:
        """The jobs of this lane that ran, in start order."""
        return sorted((j for j in self.jobs if j.started is not None),
                      key=lambda j: (j.started, j.job))

    @property
    def active(self) -> list[Span]:
        """Spans in which the session was active."""
        return [s for s in self.states if s.label == ACTIVE]

    @property
    def inactive(self) -> list[Span]:
        """Spans in which the session was inactive (deactivated by its ITTL)."""
        return [s for s in self.states if s.label == INACTIVE]

    @property
    def expiries(self) -> list[int]:
        """Instants the session reached its max TTL."""
        return [m.t for m in self.marks if m.kind == "expired"]


@dataclass
class TimelineSpans:
    """What the timeline draws, lane by lane, in trace microseconds since ``epoch``."""

    epoch: datetime
    start: int
    end: int
    lanes: list[Lane]

    def lane(self, key: str) -> Lane:
        """The lane with ``key`` (``qpu:<name>``, ``session:<id>``, ``jobs:<qpu>:<instance>``)."""
        for lane in self.lanes:
            if lane.key == key:
                return lane
        raise KeyError(f"no lane {key!r}; lanes: {[lane.key for lane in self.lanes]}")

    def qpus(self) -> list[str]:
        """QPU names in order of first appearance."""
        return [lane.qpu for lane in self.lanes if lane.kind == "qpu"]


def timeline_spans(trace: Trace | Iterable[Record], epoch: datetime | None = None
                   ) -> TimelineSpans:
    """The intervals and instants the timeline draws, derived from the trace's records."""
    if epoch is None:
        epoch = trace.epoch if isinstance(trace, Trace) else Trace().epoch
    builder = _Builder()
    for record in trace:
        builder.add(record)
    return builder.finish(epoch)


# -- deriving spans from records ---------------------------------------------------------


@dataclass
class _SessionTrack:
    lane: Lane
    state: str
    since: int
    in_flight: int = 0
    ittl_since: int | None = None


@dataclass
class _JobTrack:
    lane: Lane
    qpu: str
    session: str | None
    instance: str | None
    created: int
    started: int | None = None
    ended: int | None = None
    state: str = QUEUED


class _Builder:
    """Walks the records once, keeping what is open (states, holds, ITTL windows, jobs)."""

    def __init__(self) -> None:
        self.qpu_lanes: dict[str, Lane] = {}
        self.session_lanes: dict[str, list[Lane]] = {}
        self.job_lanes: dict[str, list[Lane]] = {}
        self.sessions: dict[str, _SessionTrack] = {}
        self.jobs: dict[str, _JobTrack] = {}
        self.holds: dict[str, tuple[int, str | None]] = {}
        self.qpu_end: dict[str, int] = {}
        self.start: int | None = None
        self.end = 0

    def add(self, r: Record) -> None:
        self.start = r.t if self.start is None else min(self.start, r.t)
        self.end = max(self.end, r.t)
        self._qpu_lane(r.qpu)
        self.qpu_end[r.qpu] = max(self.qpu_end.get(r.qpu, r.t), r.t)
        if r.entity == "job":
            self._job(r)
        elif r.entity == "session":
            self._session(r)
        elif r.event == "hold":
            self.holds.setdefault(r.qpu, (r.t, r.session))
        elif r.event == "release" and r.qpu in self.holds:
            since, sid = self.holds.pop(r.qpu)
            _append_span(self.qpu_lanes[r.qpu].holds, since, r.t, sid)

    # lanes

    def _qpu_lane(self, qpu: str) -> Lane:
        if qpu not in self.qpu_lanes:
            self.qpu_lanes[qpu] = Lane(f"qpu:{qpu}", "qpu", qpu, f"QPU {qpu}")
            self.session_lanes[qpu] = []
            self.job_lanes[qpu] = []
        return self.qpu_lanes[qpu]

    def _session_track(self, sid: str, r: Record, mode: str = "dedicated") -> _SessionTrack:
        track = self.sessions.get(sid)
        if track is None:  # a hand-written trace may omit the create record
            kind: LaneKind = "batch" if mode == "batch" else "session"
            label = f"{sid} · {kind}" + ("" if r.instance is None else f" · {r.instance}")
            lane = Lane(f"session:{sid}", kind, r.qpu, label, r.instance)
            self.session_lanes[r.qpu].append(lane)
            track = self.sessions[sid] = _SessionTrack(lane, PENDING, r.t)
        return track

    def _job_lane(self, r: Record) -> Lane:
        if r.session is not None:
            return self._session_track(r.session, r).lane
        key = f"jobs:{r.qpu}:{r.instance}"
        for lane in self.job_lanes[r.qpu]:
            if lane.key == key:
                return lane
        label = "job mode" + ("" if r.instance is None else f" · {r.instance}")
        lane = Lane(key, "jobs", r.qpu, label, r.instance)
        self.job_lanes[r.qpu].append(lane)
        return lane

    # records

    def _job(self, r: Record) -> None:
        job = self.jobs.get(r.id)
        if job is None:  # create, or a job whose create record is missing
            job = self.jobs[r.id] = _JobTrack(self._job_lane(r), r.qpu, r.session, r.instance,
                                              r.t)
            self._count(job.session, +1)
        if r.event == "start":
            job.started = r.t
        if r.dest is not None and job.ended is None:
            job.state = r.dest
            if r.dest in FINAL_STATUSES:
                job.ended = r.t
                self._count(job.session, -1)
        if job.session is not None:
            self._update_ittl(self.sessions[job.session], r.t)

    def _count(self, sid: str | None, delta: int) -> None:
        if sid is not None and sid in self.sessions:
            self.sessions[sid].in_flight += delta

    def _session(self, r: Record) -> None:
        mode = str(r.data.get("mode", "dedicated"))
        track = self._session_track(r.id, r, mode)
        if r.event == "create":
            track.state, track.since = r.dest or PENDING, r.t
            return
        self._marks(track.lane, r)
        if r.dest is not None and r.dest != track.state:
            if track.state not in _SESSION_FINAL:
                _append_span(track.lane.states, track.since, r.t, track.state)
            track.state, track.since = r.dest, r.t
            if r.dest in _SESSION_FINAL:
                track.lane.final_state = r.dest
        self._update_ittl(track, r.t)

    @staticmethod
    def _marks(lane: Lane, r: Record) -> None:
        changed = r.dest is not None and r.dest != r.source
        if r.event == "max_time_reached" and r.dest == EXPIRED:
            lane.marks.append(Mark(r.t, "expired"))
        elif r.event == "ittl_elapsed" and r.dest == INACTIVE:
            lane.marks.append(Mark(r.t, "ittl"))
        elif r.dest == CANCELED and changed:
            lane.marks.append(Mark(r.t, "canceled"))
        elif r.dest == CLOSED and changed:
            lane.marks.append(Mark(r.t, "closed"))
        elif r.event == "close":  # close() with jobs still queued or running: they drain
            lane.marks.append(Mark(r.t, "close"))

    @staticmethod
    def _update_ittl(track: _SessionTrack, t: int) -> None:
        """An ITTL window is open while the session is active with no job queued or running."""
        idle = track.state == ACTIVE and track.in_flight == 0
        if idle and track.ittl_since is None:
            track.ittl_since = t
        elif not idle and track.ittl_since is not None:
            _append_span(track.lane.ittl, track.ittl_since, t)
            track.ittl_since = None

    # the end of the trace: close what is still open at each QPU's last instant

    def finish(self, epoch: datetime) -> TimelineSpans:
        for qpu, (since, sid) in self.holds.items():
            _append_span(self.qpu_lanes[qpu].holds, since, self.qpu_end[qpu], sid)
        for track in self.sessions.values():
            end = self.qpu_end[track.lane.qpu]
            if track.state not in _SESSION_FINAL:
                _append_span(track.lane.states, track.since, end, track.state)
            if track.ittl_since is not None:
                _append_span(track.lane.ittl, track.ittl_since, end)
        for jid, job in self.jobs.items():
            span = JobSpan(jid, job.qpu, job.session, job.instance, job.created, job.started,
                           self.qpu_end[job.qpu] if job.ended is None else job.ended,
                           job.state)
            job.lane.jobs.append(span)
            if span.started is not None:
                self.qpu_lanes[job.qpu].jobs.append(span)
        lanes: list[Lane] = []
        for qpu, lane in self.qpu_lanes.items():
            lanes += [lane, *self.session_lanes[qpu], *self.job_lanes[qpu]]
        for lane in lanes:
            lane.jobs.sort(key=lambda j: (j.created, j.job))
        return TimelineSpans(epoch, self.start or 0, self.end, lanes)


def _append_span(spans: list[Span], start: int, end: int, label: str | None = None) -> None:
    # Zero-length spans (a hold released at the instant it began) draw nothing.
    if end > start:
        spans.append(Span(start, end, label))


# -- drawing -----------------------------------------------------------------------------

STATE_COLORS = {DONE: "#2e7d32", ERROR: "#c62828", CANCELLED: "#ef8f00", RUNNING: "#1565c0",
                QUEUED: "#607d8b"}
HOLD_COLOR = "#6a1b9a"
INACTIVE_COLOR = "#cfd8dc"
ITTL_COLOR = "#ffe082"
LANE_COLORS = {"qpu": "#eceff1", "session": "#ffffff", "batch": "#ffffff", "jobs": "#fafafa"}

# Vertical layout of one lane (centre at its index; the y axis points down).
RUN_Y, RUN_H = -0.30, 0.42
WAIT_Y, WAIT_H = 0.18, 0.12
BAND_Y, BAND_H = -0.46, 0.92
MARK_LABEL_Y = -0.33
LABEL_MIN_FRACTION = 0.03  # a job id is written inside a bar at least this share of the axis
MAX_LABELLED_BARS = 120
EDGE_MIN_FRACTION = 0.004  # narrower bars are drawn without white edges


def draw_timeline(trace: Trace, path_png: Path | None, path_svg: Path | None, *,
                  title: str | None = None) -> Any:
    """Draw the trace's timeline, write it as PNG and/or SVG, and return the matplotlib Figure."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spans = timeline_spans(trace)
    # A fixed salt for SVG ids and no date make the SVG byte-identical for the same trace;
    # its text stays text (searchable, small) rather than glyph outlines.
    with matplotlib.rc_context({"svg.hashsalt": "qsession-timeline", "svg.fonttype": "none",
                                "hatch.color": HOLD_COLOR, "hatch.linewidth": 0.8,
                                "font.size": 9}):
        height = 1.6 + 0.62 * max(len(spans.lanes), 1)
        fig = Figure(figsize=(12, height), layout="constrained")
        FigureCanvasAgg(fig)  # an Agg canvas without pyplot's global figure registry
        ax = fig.add_subplot()
        _Painter(ax, spans).paint()
        ax.set_title(title or _default_title(spans), loc="left")
        handles = _legend_handles(spans)
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6),
                   frameon=False, fontsize=8)
        # Lay out once and freeze it: otherwise each save re-solves the layout from the last
        # one and the SVG would depend on whether a PNG was saved first.
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
        for path, fmt in ((path_png, "png"), (path_svg, "svg")):
            if path is not None:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                meta = {"Date": None} if fmt == "svg" else {}
                fig.savefig(path, format=fmt, dpi=110, metadata=meta)
    return fig


def _default_title(spans: TimelineSpans) -> str:
    jobs = sum(len(lane.jobs) for lane in spans.lanes if lane.kind != "qpu")
    sessions = sum(1 for lane in spans.lanes if lane.kind in ("session", "batch"))
    qpus = len(spans.qpus())
    return f"qsession timeline: {jobs} jobs, {sessions} sessions/batches, {qpus} QPU(s)"


def time_unit(span_us: int) -> tuple[str, int]:
    """The axis unit for a trace lasting ``span_us``: seconds, minutes or hours, and µs per unit."""
    seconds = span_us / US_PER_S
    if seconds <= 20 * 60:
        return "s", US_PER_S
    if seconds <= 10 * 3600:
        return "min", 60 * US_PER_S
    return "h", 3600 * US_PER_S


class _Painter:
    """Draws a ``TimelineSpans`` onto one matplotlib Axes (y: lane index, x: trace time)."""

    def __init__(self, ax: Any, spans: TimelineSpans) -> None:
        self.ax = ax
        self.spans = spans
        self.unit, self.us_per_unit = time_unit(spans.end - spans.start)
        self.x0 = spans.start / self.us_per_unit
        self.x1 = max(spans.end, spans.start + 1) / self.us_per_unit
        self.label_min = LABEL_MIN_FRACTION * (self.x1 - self.x0)
        self.edge_min = EDGE_MIN_FRACTION * (self.x1 - self.x0)

    def x(self, us: int) -> float:
        return us / self.us_per_unit

    def ranges(self, spans: Iterable[Span]) -> list[tuple[float, float]]:
        return [(self.x(s.start), self.x(s.end) - self.x(s.start)) for s in spans]

    def paint(self) -> None:
        ax = self.ax
        lanes = self.spans.lanes
        for i, lane in enumerate(lanes):
            ax.axhspan(i - 0.5, i + 0.5, color=LANE_COLORS[lane.kind], zorder=0, lw=0)
            self.background(i, lane)
            self.jobs(i, lane)
            self.marks(i, lane)
        for i in range(1, len(lanes)):
            ax.axhline(i - 0.5, color="#b0bec5", lw=0.6, zorder=1)
        ax.set_yticks(range(len(lanes)), [_lane_label(lane) for lane in lanes])
        ax.set_ylim(max(len(lanes), 1) - 0.5, -0.5)
        pad = 0.02 * (self.x1 - self.x0)
        ax.set_xlim(self.x0 - pad, self.x1 + pad)
        epoch = self.spans.epoch.strftime("%Y-%m-%d %H:%M:%S UTC")
        ax.set_xlabel(f"time since {epoch} ({self.unit})")
        ax.grid(axis="x", color="#cfd8dc", lw=0.5, zorder=0)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        if not lanes:
            ax.text(0.5, 0.5, "empty trace", transform=ax.transAxes, ha="center")

    def background(self, i: int, lane: Lane) -> None:
        band = (i + BAND_Y, BAND_H)
        if lane.inactive:
            self.ax.broken_barh(self.ranges(lane.inactive), band, facecolors=INACTIVE_COLOR,
                                zorder=1)
        if lane.ittl:
            self.ax.broken_barh(self.ranges(lane.ittl), band, facecolors=ITTL_COLOR, zorder=1)
        if lane.holds:
            self.ax.broken_barh(self.ranges(lane.holds), band, facecolors="none",
                                edgecolors=HOLD_COLOR, hatch="////", lw=0.6, zorder=2)

    def jobs(self, i: int, lane: Lane) -> None:
        runs = lane.runs
        if lane.kind != "qpu":
            # A wait that led to a run is neutral; one that ended the job takes its colour.
            for state, group in _by_state(lane.jobs, waits=True).items():
                self.ax.broken_barh(self.ranges(j.wait for j in group), (i + WAIT_Y, WAIT_H),
                                    facecolors=STATE_COLORS.get(state, "#000000"), alpha=0.4,
                                    lw=0, zorder=3)
            ended = [j for j in lane.jobs if j.started is None and j.state in FINAL_STATUSES]
            for state, group in _by_state(ended).items():  # ended while queued: an x
                xs = [self.x(j.end) for j in group]
                self.ax.plot(xs, [i + WAIT_Y + WAIT_H / 2] * len(xs), ls="none", marker="x",
                             ms=5, color=STATE_COLORS[state], zorder=4)
        for state, group in _by_state(runs).items():
            # White edges part adjacent bars; a narrow bar gets an edge of its own colour
            # instead, which keeps it visible when it is thinner than a pixel.
            color = STATE_COLORS.get(state, "#000000")
            ranges = self.ranges(j.run for j in group if j.run is not None)
            edges = ["white" if w >= self.edge_min else color for _, w in ranges]
            self.ax.broken_barh(ranges, (i + RUN_Y, RUN_H), facecolors=color,
                                edgecolors=edges, lw=0.6, zorder=3)
        if len(runs) <= MAX_LABELLED_BARS:
            for j in runs:
                self.bar_label(i, j)

    def bar_label(self, i: int, j: JobSpan) -> None:
        assert j.started is not None
        left, right = self.x(j.started), self.x(j.end)
        if right - left >= self.label_min:
            self.ax.text((left + right) / 2, i + RUN_Y + RUN_H / 2, j.job, ha="center",
                         va="center", color="white", fontsize=7, zorder=5, clip_on=True)

    def marks(self, i: int, lane: Lane) -> None:
        for mark in lane.marks:
            x = self.x(mark.t)
            if mark.kind == "expired":
                self.ax.vlines(x, i - 0.48, i + 0.48, colors=STATE_COLORS[ERROR], lw=1.6,
                               linestyles="--", zorder=6)
                self.ax.text(x, i + MARK_LABEL_Y, " max TTL", color=STATE_COLORS[ERROR],
                             fontsize=7, ha="left", va="center", zorder=6)
            elif mark.kind in ("closed", "canceled", "close"):
                style = _MARK_STYLE[mark.kind]
                self.ax.plot(x, i, marker=style[0], ms=style[1], color=style[2], mew=1.6,
                             zorder=6)
                self.ax.text(x, i + MARK_LABEL_Y, f" {style[3]}", color=style[2], fontsize=7,
                             ha="left", va="center", zorder=6)


# kind -> (marker, size, colour, label)
_MARK_STYLE = {"closed": ("|", 14, "#212121", "closed"),
               "canceled": ("X", 8, STATE_COLORS[CANCELLED], "canceled"),
               "close": ("v", 6, "#546e7a", "close()")}


def _by_state(jobs: Iterable[JobSpan], *, waits: bool = False) -> dict[str, list[JobSpan]]:
    groups: dict[str, list[JobSpan]] = {}
    for j in jobs:
        state = QUEUED if waits and j.started is not None else j.state
        groups.setdefault(state, []).append(j)
    return dict(sorted(groups.items()))


def _lane_label(lane: Lane) -> str:
    if lane.kind in ("session", "batch"):
        return f"{lane.label}\n[{lane.final_state or 'open'}]"
    return lane.label


def _legend_handles(spans: TimelineSpans) -> list[Any]:
    """Legend entries for what this picture shows (job states always, the rest if present)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lanes = spans.lanes
    states = {j.state for lane in lanes for j in lane.jobs} | {DONE, ERROR, CANCELLED}
    marks = {m.kind for lane in lanes for m in lane.marks}
    handles: list[Any] = [Patch(color=STATE_COLORS[s], label=f"job {s}")
                          for s in (DONE, ERROR, CANCELLED, RUNNING, QUEUED) if s in states]
    handles.append(Patch(color=STATE_COLORS[QUEUED], alpha=0.4, label="queued (thin bar)"))
    if any(j.started is None and j.state in FINAL_STATUSES for lane in lanes for j in lane.jobs):
        handles.append(Line2D([], [], ls="none", marker="x", ms=5, color=STATE_COLORS[ERROR],
                              label="ended while queued"))
    optional = [
        (any(lane.holds for lane in lanes),
         Patch(facecolor="none", edgecolor=HOLD_COLOR, hatch="////",
               label="QPU held idle (reserved)")),
        (any(lane.inactive for lane in lanes), Patch(color=INACTIVE_COLOR,
                                                     label="session inactive")),
        (any(lane.ittl for lane in lanes), Patch(color=ITTL_COLOR,
                                                 label="ITTL window (idle, active)")),
        ("expired" in marks, Line2D([], [], color=STATE_COLORS[ERROR], ls="--",
                                    label="max TTL expiry")),
    ]
    handles += [handle for present, handle in optional if present]
    for kind, (marker, size, color, label) in _MARK_STYLE.items():
        if kind in marks:
            handles.append(Line2D([], [], ls="none", marker=marker, ms=size * 0.7, mew=1.6,
                                  color=color, label=label))
    return handles
