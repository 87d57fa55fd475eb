"""The live view's readers cost what they show and agree with the whole-trace readers.

``WorkloadsFeed`` and ``TimelineFeed`` are fed a trace record by record (as the live page
feeds them on each look); what they answer for a page of rows, the head of a queue or a
window of time must be exactly that part of what ``workloads()`` and ``timeline_spans()``
answer for the whole trace at the same instant. The trace is a seeded mixed workload (B10's,
at 75 % load: sessions, batches and job-mode jobs of two instances) stopped mid-run, so
queues, holds and open sessions are all present.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers.rig import Rig

from qsession.insight.spans import TimelineFeed, timeline_spans
from qsession.insight.workloads import JobRow, SessionRow, WorkloadsFeed, workloads
from qsession.runtime import Record
from qsession.runtime.engine.clock import to_us


def mixed(jobs: int, seed: int = 3) -> Rig:
    """A rig that ran ``jobs`` arrivals of B10's workload and stopped with work queued."""
    import random

    from qsession.runtime import IBMRuntimeError

    rng = random.Random(seed)
    rig = Rig(instances={"a": 2.0, "b": 1.0}, interactive_timeout=2.0,
              batch_interactive_timeout=1.0)
    session: Any = None
    for n in range(jobs):
        rig.at(rig.now() + rng.expovariate(1 / 1.2))  # a little over the QPU's pace
        if rng.random() < 0.5:
            if session is None:
                session = rig.session(rng.choice(("dedicated", "batch")),
                                      max_time=rng.choice((30.0, 300.0)),
                                      instance=rng.choice("ab"))
            try:
                rig.job(session, rng.choice((0.5, 1.0, 2.0)), instance=session.instance)
            except IBMRuntimeError:
                session = None
            if n % 10 == 9 and session is not None:
                with rig.clock.lock:
                    rig.sched.close(session)
                session = None
        else:
            rig.job(None, rng.choice((0.5, 1.0, 2.0)), instance=rng.choice("ab"))
    return rig


@pytest.fixture(scope="module")
def rig() -> Rig:
    return mixed(400)


def _rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [dict(vars(r)) for r in rows]


def test_fed_record_by_record_it_answers_as_the_whole_trace_does(rig: Rig) -> None:
    records = list(rig.trace.records)
    feed = WorkloadsFeed()
    for cut in (len(records) // 3, 2 * len(records) // 3, len(records)):
        feed.feed(records[feed.records:cut])
        now = records[cut - 1].t
        whole = workloads(records[:cut], now)
        part = feed.workloads(now)
        assert _rows(list(part.sessions.values())) == _rows(list(whole.sessions.values()))
        assert _rows(list(part.jobs.values())) == _rows(list(whole.jobs.values()))
        for name, q in whole.qpus.items():
            assert part.qpus[name].queue == q.queue
            assert (part.qpus[name].running, part.qpus[name].holder) == (q.running, q.holder)


def test_a_page_of_rows_is_that_slice_of_the_whole_table(rig: Rig) -> None:
    now = rig.clock.now()
    feed = WorkloadsFeed().feed(rig.trace.records)
    whole = workloads(rig.trace.records, now)
    jobs = list(reversed(whole.jobs.values()))
    assert len(jobs) > 120
    page2 = feed.page("jobs", lambda j: True, offset=50, limit=50, now_us=now)
    assert [j.id for j in page2] == [j.id for j in jobs[50:100]]
    done = feed.page("jobs", lambda j: j.status == "DONE", instance="b", offset=0,
                     limit=30, now_us=now)
    assert [j.id for j in done] == [j.id for j in jobs
                                    if j.status == "DONE" and j.instance == "b"][:30]
    assert feed.job_counts[("b", "DONE")] == sum(1 for j in jobs if j.status == "DONE"
                                                  and j.instance == "b")
    sessions = list(reversed(whole.sessions.values()))
    assert [s.id for s in feed.page("sessions", lambda s: True, limit=7, now_us=now)] == [
        s.id for s in sessions[:7]]
    assert sum(feed.session_counts.values()) == len(sessions)


def test_a_page_touches_only_the_rows_it_passes_over(rig: Rig) -> None:
    """No timing: the predicate is called once per row the page passes over."""
    feed = WorkloadsFeed().feed(rig.trace.records)
    seen: list[str] = []

    def keep(row: JobRow | SessionRow) -> bool:
        seen.append(row.id)
        return True

    feed.page("jobs", keep, offset=0, limit=50)
    assert len(seen) == 50
    seen.clear()
    feed.page("jobs", keep, instance="a", offset=10, limit=5)
    assert len(seen) == 15


def test_the_head_of_a_queue_is_the_start_of_the_whole_queue() -> None:
    rig = mixed(120, seed=5)
    for _ in range(30):  # a backlog on top of the mixed work
        rig.job(None, 1.0, instance="a")
    batch = rig.session("batch", instance="b")
    for _ in range(5):
        rig.job(batch, 0.5, instance="b")
    now = rig.clock.now()
    whole = workloads(rig.trace.records, now).qpus["qpu"]
    feed = WorkloadsFeed().feed(rig.trace.records)
    head = feed.qpu_rows(now, queue_limit=20)["qpu"]
    assert whole.queued == head.queued == len(whole.queue) > 20
    assert head.queue == whole.queue[:20]


def test_a_window_of_the_timeline_is_the_whole_timeline_clipped(rig: Rig) -> None:
    until = rig.clock.now()
    since = until - to_us(60)
    whole = timeline_spans(rig.trace, until=until)
    window = TimelineFeed(rig.trace.epoch).feed(rig.trace.records).window(
        since, until, lanes=1000, jobs=100_000)

    def visible(lane: Any) -> dict[str, Any]:
        return {"jobs": [j for j in lane.jobs if j.end > since],
                "states": [s for s in lane.states if s.end > since],
                "holds": [s for s in lane.holds if s.end > since],
                "ittl": [s for s in lane.ittl if s.end > since],
                "marks": [m for m in lane.marks if m.t >= since]}

    expected = {lane.key: visible(lane) for lane in whole.lanes
                if lane.kind == "qpu" or any(visible(lane).values())}
    got = {lane.key: visible(lane) for lane in window.lanes}
    assert set(got) == set(expected)
    for key, parts in expected.items():
        for name in ("states", "holds", "ittl", "marks"):
            assert got[key][name] == parts[name], (key, name)
        assert sorted(got[key]["jobs"], key=lambda j: j.job) == sorted(
            parts["jobs"], key=lambda j: j.job), key
    assert len(window.lanes) < len(whole.lanes)  # old lanes are left out


def test_a_window_is_bounded_in_lanes_and_jobs(rig: Rig) -> None:
    until = rig.clock.now()
    window = TimelineFeed(rig.trace.epoch).feed(rig.trace.records).window(
        0, until, lanes=5, jobs=7)
    others = [lane for lane in window.lanes if lane.kind != "qpu"]
    assert len(others) == 5
    assert all(len(lane.jobs) <= 7 for lane in window.lanes)


def test_records_fed_in_pieces_give_the_same_view(rig: Rig) -> None:
    records: list[Record] = list(rig.trace.records)
    now = rig.clock.now()
    once = WorkloadsFeed().feed(records).workloads(now)
    pieces = WorkloadsFeed()
    for start in range(0, len(records), 97):
        pieces.feed(records[start:start + 97])
    again = pieces.workloads(now)
    assert _rows(list(again.jobs.values())) == _rows(list(once.jobs.values()))
    assert again.qpus["qpu"].queue == once.qpus["qpu"].queue
