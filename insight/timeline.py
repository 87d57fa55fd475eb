"""The timeline picture of a trace: what ran on each QPU, and each session's life beside it.

It paints the intervals of ``spans.timeline_spans``. matplotlib is imported only inside
``draw_timeline``: reading traces must stay free of it, and it is an optional extra
(``qsession[plot]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from qsession.model import CANCELLED, DONE, ERROR, FINAL_STATUSES, QUEUED, RUNNING
from qsession.runtime import Trace
from qsession.runtime.engine.clock import US_PER_S

from .spans import JobSpan, Lane, Span, TimelineSpans, timeline_spans

STATE_COLORS = {DONE: "#2e7d32", ERROR: "#c62828", CANCELLED: "#ef8f00", RUNNING: "#1565c0",
                QUEUED: "#607d8b"}
HOLD_COLOR = "#6a1b9a"
INACTIVE_COLOR = "#cfd8dc"
ITTL_COLOR = "#ffe082"
LANE_COLORS = {"qpu": "#eceff1", "session": "#ffffff", "batch": "#ffffff", "jobs": "#fafafa"}

TIMELINE_FILES = ("timeline.png", "timeline.svg")


PLOT_MISSING = "matplotlib is not installed"
"""Why the timeline picture cannot be drawn without the plot extra."""


def install_command(*extras: str) -> str:
    """The command that installs qsession's optional ``extras`` (e.g. ``plot``)."""
    return f"pip install 'qsession[{','.join(extras)}]'"


def plot_missing() -> str | None:
    """Why the timeline picture cannot be drawn here (matplotlib absent), with the command
    that fixes it, or None if it can."""
    if find_spec("matplotlib") is None:
        return f"{PLOT_MISSING} (the plot extra: {install_command('plot')})"
    return None


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
