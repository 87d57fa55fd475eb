"""The live page costs what it shows: a page of rows per table, the head of each queue, a
window of time, and only the parts that changed.

Histories are written straight into the server's scheduler with a null executor (the jobs
run no circuit), so a test builds hundreds of jobs in a second; the page is read over HTTP.
No timing: the checks are on what a poll carries, which is what it costs to make.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from qsession.runtime.engine.clock import to_us
from qsession.server import Emulator, Instance, Server
from qsession.server.pages.view import PAGE_ROWS, QUEUE_SHOWN, WINDOW_S


def serve() -> Server:
    """A virtual-clock server with two tenants on the ideal QPU."""
    return Server(Emulator(clock="virtual", noise=False, backends=("qsession_ideal",),
                           instances=[Instance("a", "premium", 2.0),
                                      Instance("b", "premium", 1.0)], seed=1)).start()


def history(server: Server, jobs: int, *, start_s: float = 0.0) -> list[str]:
    """``jobs`` job-mode jobs of 1 s, one every 2 s from ``start_s``, all run to the end;
    their ids (IBM-shaped over HTTP) in submission order."""
    service: Any = server.emulator.service
    scheduler = service.schedulers["qsession_ideal"]
    clock = service.clock
    made = []
    with clock.lock, null_jobs(scheduler):
        for n in range(jobs):
            clock.advance_to(to_us(start_s + 2.0 * n))
            made.append(scheduler.submit(None, instance="ab"[n % 2], kind="null",
                                         payload=None, duration_us=to_us(1.0)).id)
        clock.wait_for(scheduler.is_idle)
    return made


@contextmanager
def null_jobs(scheduler: Any) -> Iterator[None]:
    """Jobs that run no circuit: the scheduler's null executor instead of the QPU's."""
    from qsession.runtime.engine import scheduler as module

    executor, scheduler.executor = scheduler.executor, module._null_executor
    try:
        yield
    finally:
        scheduler.executor = executor


def live(server: Server, query: str = "") -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/page/live?{query}", timeout=120) as response:
        body: dict[str, Any] = json.loads(response.read())
    return body


def ids(html: str, kind: str) -> list[str]:
    return re.findall(rf'<tr data-{kind}="([^"]+)"', html)


@pytest.fixture
def server() -> Iterator[Server]:
    s = serve()
    try:
        yield s
    finally:
        s.stop()


def test_a_poll_carries_the_same_whether_the_run_had_60_jobs_or_600() -> None:
    """Reproduces: the poll re-read the whole trace and rendered every row and bar: 1.6 s
    with 3,000 jobs and 28.6 s (11 MB) with 10,000. Its answer now holds a page of rows
    and a window of time, whatever the history's length."""
    sizes = {}
    for jobs in (60, 600):
        server = serve()
        try:
            history(server, jobs)
            server.advance(1)
            body = live(server)
            parts = body["parts"]
            assert len(ids(parts["workloads"], "job")) == min(jobs, PAGE_ROWS)
            bars = parts["timeline"].count('class="run"')
            assert bars <= 2 * WINDOW_S / 2.0 + 2  # the window's runs (QPU lane + own lane)
            sizes[jobs] = sum(len(p) for p in parts.values())
        finally:
            server.stop()
    assert sizes[600] < 1.5 * sizes[60], sizes


def test_tables_are_paged_newest_first(server: Server) -> None:
    made = history(server, 130)
    j = dict(enumerate(made, 1)).__getitem__  # j(n): the n-th job's id
    page = live(server)["parts"]["workloads"]
    shown = ids(page, "job")
    assert shown == [j(n) for n in range(130, 80, -1)]  # the newest 50
    assert "1–50 of <span class=\"total\">130</span>" in page
    assert 'href="/?jpage=2">older</a>' in page and ">newer</a>" not in page
    last = live(server, "jpage=3")["parts"]["workloads"]
    assert ids(last, "job") == [j(n) for n in range(30, 0, -1)]
    assert 'href="/?jpage=2">newer</a>' in last and ">older</a>" not in last
    only_b = live(server, "instance=b&state=DONE")["parts"]["workloads"]
    assert ids(only_b, "job")[:3] == [j(130), j(128), j(126)]
    assert "of <span class=\"total\">65</span>" in only_b
    with urllib.request.urlopen(server.url + "/?jpage=2&instance=a", timeout=60) as response:
        index = response.read().decode()
    assert ids(index, "job")[0] == j(29)  # instance a's 65 jobs: the second page starts at 15th
    assert 'href="/?instance=a">newer</a>' in index


def test_the_index_pages_its_sessions_newest_first(server: Server) -> None:
    """Reproduces: ``GET /`` rendered a row for every session (3.2 s with 2,000 sessions).
    Now it holds a page of them, whatever the run's length."""
    service: Any = server.emulator.service
    scheduler = service.schedulers["qsession_ideal"]
    clock = service.clock
    made = []
    with clock.lock, null_jobs(scheduler):
        for n in range(130):  # 130 dedicated sessions of one 1 s job each, one every 2 s
            clock.advance_to(to_us(2.0 * n))
            session = scheduler.open_session("dedicated", max_time_us=to_us(60.0),
                                             ittl_us=to_us(1.0), instance="ab"[n % 2])
            scheduler.submit(session, instance=session.instance, kind="null", payload=None,
                             duration_us=to_us(1.0))
            scheduler.close(session)
            made.append(session.id)
        clock.wait_for(scheduler.is_idle)
    s = dict(enumerate(made, 1)).__getitem__  # s(n): the n-th session's id
    with urllib.request.urlopen(server.url + "/", timeout=60) as response:
        index = response.read().decode()
    assert ids(index, "session") == [s(n) for n in range(130, 80, -1)]  # the newest 50
    assert "Sessions and batches (1–50 of <span class=\"total\">130</span>" in index
    assert 'href="/?spage=2">older</a>' in index
    with urllib.request.urlopen(server.url + "/?spage=3", timeout=60) as response:
        last = response.read().decode()
    assert ids(last, "session") == [s(n) for n in range(30, 0, -1)]


def test_a_long_queue_shows_its_head_and_counts_the_rest(server: Server) -> None:
    service: Any = server.emulator.service
    scheduler = service.schedulers["qsession_ideal"]
    with service.clock.lock, null_jobs(scheduler):
        for n in range(QUEUE_SHOWN + 15):
            scheduler.submit(None, instance="ab"[n % 2], kind="null", payload=None,
                             duration_us=to_us(5.0))
    qpus = live(server)["parts"]["qpus"]
    body = qpus.split('<table class="queue">')[1]
    assert body.count("<tr><td>") == QUEUE_SHOWN
    assert f"and {QUEUE_SHOWN + 14 - QUEUE_SHOWN} more queued" in body  # one of them runs


def test_the_timeline_shows_a_window_of_time(server: Server) -> None:
    history(server, 20)  # 20 jobs in the first 40 s
    later = history(server, 5, start_s=2 * WINDOW_S)  # 5 after the window moved on
    timeline = live(server)["parts"]["timeline"]
    drawn = set(re.findall(r'data-job="([^"]+)"', timeline))
    assert drawn == set(later)
    assert f"the last {WINDOW_S / 60:g} min" in live(server, "state=DONE")["parts"]["timeline"]


def test_a_poll_sends_only_the_parts_that_changed(server: Server) -> None:
    history(server, 10)
    first = live(server)
    assert set(first["parts"]) == {"status", "workloads", "qpus", "timeline"}
    server.advance(1)  # nothing runs: the clock and the timeline move, the tables do not
    second = live(server, f"v={first['version']}&h={first['digests']}")
    assert set(second["parts"]) == {"status", "timeline"}
    assert second["digests"].split(",")[1:3] == first["digests"].split(",")[1:3]
    # A page that holds nothing (or other filters) gets everything.
    assert set(live(server, "v=&h=")["parts"]) == {"status", "workloads", "qpus", "timeline"}
    assert live(server, f"v={second['version']}") == {"version": second["version"],
                                                       "same": True}


def test_each_look_feeds_only_the_new_records(server: Server) -> None:
    """The page's view keeps its place in the trace: a look reads what was written since."""
    history(server, 10)
    live(server)
    view = server.app.state.page_view
    before = view.board.records
    assert before == server.emulator.trace.count
    history(server, 3, start_s=100)
    live(server)
    assert view.board.records == server.emulator.trace.count > before
