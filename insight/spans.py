"""A trace as intervals: job runs and waits, holds, inactive spans, ITTL windows and marks.

``timeline_spans`` derives every interval from the trace alone, so the timeline picture,
the Perfetto export and any other view draw the same intervals, and tests check them
against the records without reading pixels. Lanes, top to bottom for each QPU: the QPU
itself (job runs by final state, reserved-idle holds), one lane per session or batch (its
jobs' runs and queued intervals, inactive spans, ITTL windows, max-TTL expiry, close and
cancel marks), and one lane per instance for job-mode jobs.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from qsession.model import (
    ACTIVE,
    CANCELED,
    CLOSED,
    EXPIRED,
    FINAL_STATUSES,
    INACTIVE,
    PENDING,
    QUEUED,
    SESSION_TABLE,
)
from qsession.runtime import Record, Trace

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


def timeline_spans(trace: Trace | Iterable[Record], epoch: datetime | None = None, *,
                   until: int | None = None) -> TimelineSpans:
    """The intervals and instants the timeline draws, derived from the trace's records.

    What is still open at the end (a running job, a state, a hold) ends at its QPU's last
    record, or at ``until`` when that is later: a live view passes the clock's now.
    """
    if epoch is None:
        epoch = trace.epoch if isinstance(trace, Trace) else Trace().epoch
    builder = _Builder()
    for record in trace:
        builder.add(record)
    if until is not None:
        builder.end = max(builder.end, until)
        for qpu, end in builder.qpu_end.items():
            builder.qpu_end[qpu] = max(end, until)
    return builder.finish(epoch)


class TimelineFeed:
    """The timeline of a growing trace: fed record by record, looked at through a window.

    ``timeline_spans`` reads a whole trace; a live view feeds the new records on each look
    and draws only a window of time (``window``), whose cost is what it shows.
    """

    def __init__(self, epoch: datetime) -> None:
        self.epoch = epoch
        self._builder = _Builder()

    def feed(self, records: Iterable[Record]) -> TimelineFeed:
        """Apply ``records`` (the trace's next ones, in order); returns itself."""
        for record in records:
            self._builder.add(record)
        return self

    def window(self, since: int, until: int, *, lanes: int = 40,
               jobs: int = 200) -> TimelineSpans:
        """The lanes and spans of ``[since, until]``: every QPU lane, at most ``lanes``
        other lanes (the latest active) and ``jobs`` jobs a lane (the latest)."""
        start = max(since, self._builder.start if self._builder.start is not None else since)
        return self._builder.window(self.epoch, start, until, lanes=lanes, jobs=jobs)


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
    job_id: str = ""

    def span(self, job: str, end: int) -> JobSpan:
        """The job as drawn, ending at ``end`` (its final instant, or now while open)."""
        return JobSpan(job, self.qpu, self.session, self.instance, self.created,
                       self.started, end, self.state)


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
        # For windows of a live trace: what ended, in end order, and what is still open.
        self.ended: dict[str, list[JobSpan]] = {}  # lane key -> its jobs that ended
        self.ended_runs: dict[str, list[JobSpan]] = {}  # QPU -> runs that ended
        self.open_jobs: dict[str, dict[str, _JobTrack]] = {}  # lane key -> open jobs
        self.open_on: dict[str, dict[str, _JobTrack]] = {}  # QPU -> its open jobs
        self.open_sessions: dict[str, _SessionTrack] = {}
        self.touched: dict[str, int] = {}  # lane key -> last instant something happened
        self.lanes: dict[str, Lane] = {}
        self.position: dict[str, tuple[int, int, int]] = {}  # lane key -> its place

    def add(self, r: Record) -> None:
        """Apply one record."""
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
            self._touch(f"qpu:{r.qpu}", r.t)

    def _place(self, lane: Lane, qpu: int, group: int) -> None:
        # The timeline's order: by QPU, its lane first, then sessions, then job-mode lanes.
        self.lanes[lane.key] = lane
        self.position[lane.key] = (qpu, group, len(self.position))

    def _touch(self, key: str, t: int) -> None:
        # Most recently touched last, so a window walks back from the end.
        self.touched.pop(key, None)
        self.touched[key] = t

    # lanes

    def _qpu_lane(self, qpu: str) -> Lane:
        if qpu not in self.qpu_lanes:
            lane = self.qpu_lanes[qpu] = Lane(f"qpu:{qpu}", "qpu", qpu, f"QPU {qpu}")
            self._place(lane, len(self.qpu_lanes) - 1, -1)
            self.session_lanes[qpu] = []
            self.job_lanes[qpu] = []
            self.ended_runs[qpu] = []
        return self.qpu_lanes[qpu]

    def _session_track(self, sid: str, r: Record, mode: str = "dedicated") -> _SessionTrack:
        track = self.sessions.get(sid)
        if track is None:  # a hand-written trace may omit the create record
            kind: LaneKind = "batch" if mode == "batch" else "session"
            label = f"{sid} · {kind}" + ("" if r.instance is None else f" · {r.instance}")
            lane = Lane(f"session:{sid}", kind, r.qpu, label, r.instance)
            self.session_lanes[r.qpu].append(lane)
            self._place(lane, self.position[f"qpu:{r.qpu}"][0], 0)
            track = self.sessions[sid] = _SessionTrack(lane, PENDING, r.t)
            self.open_sessions[sid] = track
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
        self._place(lane, self.position[f"qpu:{r.qpu}"][0], 1)
        return lane

    # records

    def _job(self, r: Record) -> None:
        job = self.jobs.get(r.id)
        if job is None:  # create, or a job whose create record is missing
            job = self.jobs[r.id] = _JobTrack(self._job_lane(r), r.qpu, r.session, r.instance,
                                              r.t, job_id=r.id)
            self.open_jobs.setdefault(job.lane.key, {})[r.id] = job
            self.open_on.setdefault(job.qpu, {})[r.id] = job
            self._count(job.session, +1)
        if r.event == "start":
            job.started = r.t
        if r.dest is not None and job.ended is None:
            job.state = r.dest
            if r.dest in FINAL_STATUSES:
                job.ended = r.t
                self._count(job.session, -1)
                lane_open = self.open_jobs[job.lane.key]
                lane_open.pop(r.id, None)
                if not lane_open:  # only lanes with open jobs stay, so a window finds them
                    del self.open_jobs[job.lane.key]
                self.open_on[job.qpu].pop(r.id, None)
                span = job.span(r.id, r.t)
                self.ended.setdefault(job.lane.key, []).append(span)
                if span.started is not None:
                    self.ended_runs[job.qpu].append(span)
        self._touch(job.lane.key, r.t)
        if job.started is not None:
            self._touch(f"qpu:{job.qpu}", r.t)
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
                self.open_sessions.pop(r.id, None)
        self._update_ittl(track, r.t)
        self._touch(track.lane.key, r.t)

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
            span = job.span(jid, self.qpu_end[job.qpu] if job.ended is None else job.ended)
            job.lane.jobs.append(span)
            if span.started is not None:
                self.qpu_lanes[job.qpu].jobs.append(span)
        lanes: list[Lane] = []
        for qpu, lane in self.qpu_lanes.items():
            lanes += [lane, *self.session_lanes[qpu], *self.job_lanes[qpu]]
        for lane in lanes:
            lane.jobs.sort(key=lambda j: (j.created, j.job))
        return TimelineSpans(epoch, self.start or 0, self.end, lanes)


    def window(self, epoch: datetime, since: int, until: int, *, lanes: int,
               jobs: int) -> TimelineSpans:
        """What happened in ``[since, until]``, without closing anything: every QPU lane,
        at most ``lanes`` other lanes (the latest active first, kept in the timeline's
        order) and at most ``jobs`` jobs a lane (the latest). Spans keep their true
        instants (a drawing clips them at ``since``); what is open ends at ``until``.

        Lanes are found from the most recently touched backwards and from what is still
        open, so a window costs what it shows, not the length of the trace.
        """
        wanted: dict[str, None] = {}
        for key in reversed(self.touched):
            if self.touched[key] < since or len(wanted) >= lanes:
                break
            if not key.startswith("qpu:"):
                wanted[key] = None
        for key in [*(t.lane.key for t in self.open_sessions.values()), *self.open_jobs]:
            if len(wanted) >= lanes:
                break
            wanted.setdefault(key, None)
        keys = sorted([*(lane.key for lane in self.qpu_lanes.values()), *wanted],
                      key=self.position.__getitem__)
        out = [self._lane_window(self.lanes[key], since, until, jobs) for key in keys]
        return TimelineSpans(epoch, since, until, out)

    def _lane_window(self, lane: Lane, since: int, until: int, limit: int) -> Lane:
        copy = Lane(lane.key, lane.kind, lane.qpu, lane.label, lane.instance,
                    final_state=lane.final_state)
        copy.holds = _since(lane.holds, since)
        copy.states = _since(lane.states, since)
        copy.ittl = _since(lane.ittl, since)
        first = bisect.bisect_left(lane.marks, since, key=lambda m: m.t)
        copy.marks = lane.marks[first:]
        if lane.kind == "qpu":
            if lane.qpu in self.holds:
                start, sid = self.holds[lane.qpu]
                _append_span(copy.holds, start, until, sid)
            ended = self.ended_runs[lane.qpu]
            opened = [j for j in self.open_on.get(lane.qpu, {}).values()
                      if j.started is not None]
        else:
            ended = self.ended.get(lane.key, [])
            opened = list(self.open_jobs.get(lane.key, {}).values())
            track = self.sessions.get(lane.key.removeprefix("session:"))
            if track is not None and track.lane is lane:
                if track.state not in _SESSION_FINAL:
                    _append_span(copy.states, track.since, until, track.state)
                if track.ittl_since is not None:
                    _append_span(copy.ittl, track.ittl_since, until)
        first = bisect.bisect_right(ended, since, key=lambda j: j.end)
        spans = [*ended[max(first, len(ended) - limit):],
                 *(j.span(j_id, until) for j_id, j in _ids(opened))]
        spans.sort(key=lambda j: (j.created, j.job))
        copy.jobs = spans[-limit:]
        return copy


def _ids(tracks: Iterable[_JobTrack]) -> Iterator[tuple[str, _JobTrack]]:
    for track in tracks:
        yield track.job_id, track


def _since(spans: list[Span], since: int) -> list[Span]:
    """The spans (in end order) that end after ``since``."""
    return spans[bisect.bisect_right(spans, since, key=lambda s: s.end):]


def _append_span(spans: list[Span], start: int, end: int, label: str | None = None) -> None:
    # Zero-length spans (a hold released at the instant it began) draw nothing.
    if end > start:
        spans.append(Span(start, end, label))
