"""The live page's timeline: the intervals of ``insight.spans`` drawn as inline SVG.

It draws what ``qsession timeline`` draws (``insight/timeline.py``): the same spans and
the same colours (``STATE_COLORS`` and the band colours are imported, never restated),
so a run looks the same in the browser and in the PNG.
"""

from __future__ import annotations

import math
from html import escape

from qsession.insight.spans import Lane, TimelineSpans
from qsession.insight.timeline import (
    HOLD_COLOR,
    INACTIVE_COLOR,
    ITTL_COLOR,
    LANE_COLORS,
    STATE_COLORS,
    time_unit,
)
from qsession.model import ERROR, FINAL_STATUSES, QUEUED

WIDTH = 1000
LABEL_W = 190
LANE_H = 34
AXIS_H = 28
TICKS = 6
MIN_SPAN_US = 1_000_000


class _Scale:
    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = max(end, start + MIN_SPAN_US)  # a run just begun still gets an axis
        self.unit, self.per_unit = time_unit(self.end - self.start)

    def x(self, us: int) -> float:
        # Clipped at the left edge: a window's spans keep their true (earlier) starts.
        return LABEL_W + (WIDTH - LABEL_W - 10) * (max(us, self.start) - self.start) / (
            self.end - self.start)


def timeline_svg(spans: TimelineSpans, now_us: int) -> str:
    """The timeline as an ``<svg>`` element, from the spans' start to ``now_us``."""
    end = max(spans.end, now_us)
    scale = _Scale(min(spans.start, end), end)
    lanes = spans.lanes
    height = AXIS_H + LANE_H * max(len(lanes), 1)
    parts = [f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-labelledby="timeline-title" xmlns="http://www.w3.org/2000/svg">',
             '<title id="timeline-title">Timeline of the run: job runs on each QPU, '
             'sessions and their states</title>',
             '<defs><pattern id="hold" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" '
             f'stroke="{HOLD_COLOR}" stroke-width="1.4"/></pattern></defs>']
    for i, lane in enumerate(lanes):  # backgrounds, then the grid, then what happened
        parts.append(f'<rect x="0" y="{i * LANE_H}" width="{WIDTH}" height="{LANE_H}" '
                     f'fill="{LANE_COLORS[lane.kind]}"/>')
    parts += _axis(scale, height)
    for i, lane in enumerate(lanes):
        parts += _lane(i, lane, scale)
    if not lanes:
        parts.append(f'<text x="{WIDTH / 2}" y="{AXIS_H + 20}" text-anchor="middle">'
                     'nothing has happened yet</text>')
    parts.append(f'<line class="now" x1="{scale.x(now_us):.1f}" x2="{scale.x(now_us):.1f}" '
                 f'y1="0" y2="{height - AXIS_H}" stroke="#212121" stroke-width="1" '
                 'stroke-dasharray="2 3"/>')
    parts.append("</svg>")
    return "".join(parts)


def _rect(x0: float, x1: float, y: float, h: float, fill: str, cls: str, title: str,
          extra: str = "") -> str:
    w = max(x1 - x0, 1.0)
    return (f'<rect class="{cls}" x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
            f'fill="{fill}"{extra}><title>{escape(title)}</title></rect>')


def _lane(i: int, lane: Lane, scale: _Scale) -> list[str]:
    top = i * LANE_H
    out = [f'<g class="lane lane-{lane.kind}" data-lane="{escape(lane.key)}">',
           f'<line x1="0" x2="{WIDTH}" y1="{top + LANE_H}" y2="{top + LANE_H}" '
           'stroke="#b0bec5" stroke-width="0.6"/>']
    label = lane.label if lane.kind not in ("session", "batch") else (
        f"{lane.label} [{lane.final_state or 'open'}]")
    out.append(f'<text class="lane-label" x="6" y="{top + LANE_H / 2 + 4}">'
               f'{escape(label)}</text>')
    unit = f"{scale.unit}"

    def secs(us: int) -> str:
        return f"{us / scale.per_unit:.3f} {unit}"

    for span in lane.inactive:
        out.append(_rect(scale.x(span.start), scale.x(span.end), top + 2, LANE_H - 4,
                         INACTIVE_COLOR, "inactive",
                         f"inactive {secs(span.start)} – {secs(span.end)}"))
    for span in lane.ittl:
        out.append(_rect(scale.x(span.start), scale.x(span.end), top + 2, LANE_H - 4,
                         ITTL_COLOR, "ittl",
                         f"ITTL window (active, idle) {secs(span.start)} – {secs(span.end)}"))
    for span in lane.holds:
        out.append(_rect(scale.x(span.start), scale.x(span.end), top + 2, LANE_H - 4,
                         "url(#hold)", "hold",
                         f"QPU held idle for {span.label} {secs(span.start)} – "
                         f"{secs(span.end)}", f' stroke="{HOLD_COLOR}" stroke-width="0.6"'))
    if lane.kind != "qpu":
        for j in lane.jobs:
            state = QUEUED if j.started is not None else j.state
            out.append(_rect(scale.x(j.wait.start), scale.x(j.wait.end), top + LANE_H - 11,
                             5, STATE_COLORS.get(state, "#000000"), "wait",
                             f"{j.job} queued {secs(j.wait.start)} – {secs(j.wait.end)}",
                             ' fill-opacity="0.4"'))
            if j.started is None and j.state in FINAL_STATUSES:
                x, y = scale.x(j.end), top + LANE_H - 8.5
                out.append(f'<path class="ended-queued" d="M{x - 4:.1f},{y - 4:.1f} '
                           f'l8,8 m0,-8 l-8,8" stroke="{STATE_COLORS[j.state]}" '
                           f'stroke-width="1.8"><title>{escape(j.job)} {j.state} while '
                           f'queued at {secs(j.end)}</title></path>')
    for j in lane.runs:
        assert j.started is not None
        x0, x1 = scale.x(j.started), scale.x(j.end)
        out.append(_rect(x0, x1, top + 5, 15, STATE_COLORS.get(j.state, "#000000"), "run",
                         f"{j.job} {j.state} {secs(j.started)} – {secs(j.end)}",
                         f' data-job="{escape(j.job)}" data-state="{j.state}"'
                         ' stroke="#ffffff" stroke-width="0.6"'))
        if x1 - x0 > 8 * len(j.job):
            out.append(f'<text class="bar-label" x="{(x0 + x1) / 2:.1f}" y="{top + 16}" '
                       f'text-anchor="middle">{escape(j.job)}</text>')
    for mark in lane.marks:
        x = scale.x(mark.t)
        if mark.kind == "expired":
            out.append(f'<line class="mark-expired" x1="{x:.1f}" x2="{x:.1f}" y1="{top + 1}" '
                       f'y2="{top + LANE_H - 1}" stroke="{STATE_COLORS[ERROR]}" '
                       'stroke-width="2" stroke-dasharray="4 3"/>'
                       f'<text class="mark-label" {_beside(x)} y="{top + 11}" '
                       f'fill="{STATE_COLORS[ERROR]}">max TTL</text>')
        elif mark.kind in _MARKS:
            text, color = _MARKS[mark.kind]
            out.append(f'<line class="mark-{mark.kind}" x1="{x:.1f}" x2="{x:.1f}" '
                       f'y1="{top + 6}" y2="{top + LANE_H - 6}" stroke="{color}" '
                       f'stroke-width="2"/><text class="mark-label" {_beside(x)} '
                       f'y="{top + 11}" fill="{color}">{text}</text>')
    out.append("</g>")
    return out


_MARKS = {"closed": ("closed", "#212121"), "canceled": ("canceled", STATE_COLORS["CANCELLED"]),
          "close": ("close()", "#546e7a")}


def _beside(x: float) -> str:
    """A mark's label position: right of the mark, or left of it near the right edge."""
    if x > WIDTH - 60:
        return f'x="{x - 3:.1f}" text-anchor="end"'
    return f'x="{x + 3:.1f}"'


def _axis(scale: _Scale, height: int) -> list[str]:
    y = height - AXIS_H
    out = [f'<line x1="{LABEL_W}" x2="{WIDTH - 10}" y1="{y}" y2="{y}" stroke="#546e7a"/>']
    for us in _ticks(scale):
        x = scale.x(us)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{y + 4}" stroke="#cfd8dc" '
                   f'stroke-width="0.5"/><text class="tick" x="{x:.1f}" y="{y + 16}" '
                   f'text-anchor="middle">{us / scale.per_unit:g}</text>')
    out.append(f'<text class="tick" x="{LABEL_W - 8}" y="{y + 16}" text-anchor="end">'
               f'time ({scale.unit})</text>')
    return out


def _ticks(scale: _Scale) -> list[int]:
    """Tick instants at a round step (1, 2 or 5 times a power of ten units), about TICKS."""
    span = (scale.end - scale.start) / scale.per_unit
    raw = span / TICKS
    power = 10.0 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(scale.start / scale.per_unit / step)
    out: list[int] = []
    k = first
    while k * step * scale.per_unit <= scale.end + 1e-9:
        out.append(round(k * step * scale.per_unit))
        k += 1
    return out
