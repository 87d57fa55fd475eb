"""The live page at ``/``, in headless Chromium, while the real client runs a session.

The server runs on the virtual clock; the test moves time over ``/qsession/v1`` and
waits for the page (which polls ``/page/live``) to show each step, without a reload:
the session active, inactive after its ITTL, the queued job failed at max TTL, the
timeline gaining bars. Screenshots are kept in pytest's tmp dir.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers.browser import chromium, console_errors, require_chromium
from helpers.rig import Rig
from helpers.server import control, isa_bell, start
from qiskit_ibm_runtime import Batch, QiskitRuntimeService, SamplerV2, Session
from selenium.webdriver.support.ui import WebDriverWait

from qsession.insight.timeline import STATE_COLORS
from qsession.server import Connection, Instance
from qsession.server.pages.view import LiveMonitor, seconds


def get(conn: Connection, path: str) -> str:
    with urllib.request.urlopen(conn.server.url + path, timeout=60) as response:
        return str(response.read().decode())


def table(page: str, ident: str) -> str:
    """The HTML of the page's table ``ident``."""
    start = page.index(f'<table id="{ident}"')
    return page[start:page.index("</table>", start)]


def rgb(hex_color: str) -> str:
    """``#rrggbb`` as the browser's computed style writes it."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def until(driver: Any, script: str, what: str, timeout: float = 20.0) -> Any:
    """Wait until ``script`` (a JS expression) is truthy in the page; say what was awaited."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(
            lambda d: d.execute_script(f"return {script};"))
    except Exception as err:
        raise AssertionError(f"the page never showed {what} ({script})") from err


SESSION_STATE = "(document.querySelector('#sessions tr[data-session=\"{sid}\"]') || {{}})" \
                ".dataset?.state"
JOB_STATUS = "(document.querySelector('#jobs tr[data-job=\"{jid}\"]') || {{}}).dataset?.status"
QPU = "#part-qpus [data-qpu=ibm_brisbane]"
QUEUE_ROWS = f"{QPU} table.queue tbody tr"
BARS = "document.querySelectorAll('#part-timeline .lane-qpu rect.run').length"


def test_the_page_follows_a_session_live_in_headless_chromium(conn: Connection,
                                                             tmp_path: Path) -> None:
    require_chromium()
    backend = conn.service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    with chromium(1280, 800) as driver:
        driver.get(conn.server.url + "/")
        until(driver, "document.getElementById('live') !== null", "the live part")
        driver.execute_script("window.loadedOnce = true;")
        assert driver.execute_script(f"return {BARS};") == 0
        driver.save_screenshot(str(tmp_path / "page-empty.png"))

        session = Session(backend=backend, max_time=70)
        sampler = SamplerV2(mode=session)
        first = sampler.run([isa], shots=100)  # the QPU is free: it starts at 0 s
        sid = session.session_id
        state = SESSION_STATE.format(sid=sid)
        until(driver, f"{state} === 'active'", f"{sid} active")
        d1 = float(first.usage_estimation["quantum_seconds"])

        control(conn, "run-until-idle", {})  # the first job ends at d1; the ITTL starts
        until(driver, f"{BARS} === 1", "the first job's bar")
        until(driver, f"{JOB_STATUS.format(jid=first.job_id())} === 'DONE'", "the job done")
        ittl = (f"document.querySelector('#sessions tr[data-session=\"{sid}\"] .to-ittl')"
                ".textContent")
        until(driver, f"{ittl} === '60.000 s'", "60 s left to the ITTL")
        until(driver, f"document.querySelector('{QPU} .qpu-holder a')?.textContent === "
              f"'{sid}'", "the QPU held for the session")

        control(conn, "advance", {"seconds": 60})  # nothing in flight for the full ITTL
        until(driver, f"{state} === 'inactive'", f"{sid} inactive after its ITTL")
        control(conn, "advance", {"seconds": 2})
        until(driver, "document.querySelectorAll('#part-timeline rect.inactive').length >= 1",
              "an inactive band on the timeline")

        second = sampler.run([isa], shots=40_000)  # reactivates the session at d1 + 62
        third = sampler.run([isa], shots=10)       # queued behind it
        fourth = SamplerV2(mode=backend).run([isa], shots=10)  # job mode, waits too
        until(driver, f"{state} === 'active'", f"{sid} active again")
        until(driver, f"{JOB_STATUS.format(jid=third.job_id())} === 'QUEUED'", "a queued job")
        until(driver, f"document.querySelectorAll('{QUEUE_ROWS}').length === 2",
              "two jobs in the QPU's queue")
        queue = driver.execute_script(
            f"return Array.from(document.querySelectorAll('{QUEUE_ROWS}'))"
            ".map(r => r.cells[1].textContent + ' | ' + r.cells[5].textContent);")
        assert queue == [
            f"{third.job_id()} | the active session {sid} holds the QPU: its jobs go first",
            # The session's first active span (its job and the ITTL it held) is charged.
            f"{fourth.job_id()} | normal queue: instance qsession used {d1 + 60:.3f} s of its "
            "100% share in the window (least served first, FIFO on ties); after "
            f"{sid}'s hold ends"]  # once its own queue is empty the active session holds on
        d2 = float(second.usage_estimation["quantum_seconds"])
        assert d1 + 62 + d2 > 70  # max TTL strikes while the second job runs

        now = control(conn, "state")["now_seconds"]
        control(conn, "advance", {"seconds": 70 - now})  # max TTL, 70 s after activation
        until(driver, f"{JOB_STATUS.format(jid=third.job_id())} === 'ERROR'",
              "the queued job failed at max TTL")
        until(driver, f"{state} === 'expired'", f"{sid} expired")
        reason = driver.execute_script(
            f"return document.querySelector('#jobs tr[data-job=\"{third.job_id()}\"] "
            ".reason').textContent;")
        assert "max time" in reason
        until(driver, "document.querySelector('#part-timeline .mark-expired') !== null",
              "the max-TTL mark on the timeline")
        until(driver, f"{JOB_STATUS.format(jid=second.job_id())} === 'RUNNING'",
              "the running job still running")
        until(driver, f"{BARS} === 2", "the second job's bar, drawn while it runs")
        until(driver, f"document.querySelector('{QPU} .qpu-running a')?.textContent === "
              f"'{second.job_id()}'", "the QPU running the second job")

        # The colours are the timeline picture's (insight/timeline.py STATE_COLORS).
        fills = driver.execute_script(
            "return Array.from(document.querySelectorAll('#part-timeline .lane-qpu rect.run'))"
            ".map(r => [r.dataset.state, r.getAttribute('fill')]);")
        assert fills == [["DONE", STATE_COLORS["DONE"]], ["RUNNING", STATE_COLORS["RUNNING"]]]
        badge = driver.execute_script(
            f"return getComputedStyle(document.querySelector('#jobs tr[data-job=\""
            f"{third.job_id()}\"] .badge')).backgroundColor;")
        assert badge == rgb(STATE_COLORS["ERROR"])

        verdict = driver.execute_script("return document.getElementById('verdict').dataset.ok;")
        assert verdict == "true"
        assert driver.execute_script("return window.loadedOnce === true && "
                                     "performance.getEntriesByType('navigation').length;") == 1
        assert console_errors(driver) == []
        driver.save_screenshot(str(tmp_path / "page-1280x800.png"))

        # Tables are tables: headers in <thead>, a caption each.
        heads = driver.execute_script(
            "return ['sessions', 'jobs'].map(id => Array.from(document.querySelectorAll("
            "'#' + id + ' thead th[scope=col]')).map(th => th.textContent));")
        assert heads[0][:4] == ["Id", "Instance", "Mode", "State"] and "To max TTL" in heads[0]
        assert heads[1] == ["Id", "Session", "Instance", "QPU", "Status", "Wait", "Run",
                            "Usage", "Reason"]

        # 400 px wide: the page itself does not scroll sideways (wide tables scroll in place).
        driver.set_window_size(400, 800)
        until(driver, "window.innerWidth <= 400", "a 400 px window")
        driver.save_screenshot(str(tmp_path / "page-400.png"))
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth;")
        assert overflow <= 0
        driver.execute_script("document.getElementById('part-timeline').scrollIntoView();")
        driver.save_screenshot(str(tmp_path / "page-400-timeline.png"))
        driver.set_window_size(1280, 800)
        until(driver, "window.innerWidth === 1280", "a 1280 px window again")
        full = driver.execute_script("return document.documentElement.scrollHeight + "
                                     "window.outerHeight - window.innerHeight;")
        driver.set_window_size(1280, min(int(full), 1800))
        driver.execute_script("window.scrollTo(0, 0);")
        driver.save_screenshot(str(tmp_path / "page-full.png"))
        assert console_errors(driver) == []

        # Each row links to its detail: the session's records from the trace.
        driver.find_element("css selector", f'#sessions a[href="/page/sessions/{sid}"]').click()
        until(driver, "document.querySelector('table.records') !== null", "the detail page")
        events = driver.execute_script(
            "return Array.from(document.querySelectorAll('table.records tbody tr'))"
            ".map(r => r.cells[4].textContent);")
        assert {"create", "job_started", "ittl_elapsed", "max_time_reached", "expire"} <= set(
            events)
        driver.save_screenshot(str(tmp_path / "session-detail.png"))
        assert console_errors(driver) == []

    control(conn, "run-until-idle", {})
    assert fourth.status() == "DONE"


def test_filters_and_detail_pages_over_plain_http(conn: Connection) -> None:
    backend = conn.service.backend("ibm_brisbane")
    isa = isa_bell(backend)
    session = Session(backend=backend)
    job = SamplerV2(mode=session).run([isa], shots=100)
    control(conn, "run-until-idle", {})
    page = get(conn, "/")
    assert f'data-session="{session.session_id}"' in page
    assert f'data-job="{job.job_id()}"' in page
    # A state filter keeps the session (it is active) and drops the DONE job.
    active = get(conn, "/?state=active")
    assert f'data-session="{session.session_id}"' in table(active, "sessions")
    jobs = table(active, "jobs")
    assert f'data-job="{job.job_id()}"' not in jobs and "no job matches the filters" in jobs
    nobody = get(conn, "/?instance=elsewhere")
    assert "no session or batch matches the filters" in table(nobody, "sessions")
    live = json.loads(get(conn, "/page/live?state=DONE"))
    assert f'data-job="{job.job_id()}"' in table(live["parts"]["workloads"], "jobs")
    assert "no session or batch matches" in table(live["parts"]["workloads"], "sessions")
    assert set(live["parts"]) == {"status", "workloads", "qpus", "timeline"} and live["ok"]
    detail = get(conn, f"/page/sessions/{session.session_id}")
    # Its records from the trace: create, activation, and its job's records.
    assert ">create<" in detail and ">job_started<" in detail and ">start<" in detail
    job_page = get(conn, f"/page/jobs/{job.job_id()}")
    assert ">dispatch<" in job_page and ">finish<" in job_page
    with pytest.raises(urllib.error.HTTPError) as err:
        get(conn, "/page/jobs/j999")
    assert err.value.code == 404
    assert "no job 'j999' in this run" in err.value.read().decode()
    with pytest.raises(urllib.error.HTTPError) as err:
        get(conn, "/page/static/app.js")
    assert err.value.code == 404
    assert "'app.js'" in (body := err.value.read().decode()) and "live.js" in body
    assert "setInterval" in get(conn, "/page/static/live.js")


def test_the_queue_table_explains_batch_first_and_fair_share_in_headless_chromium(
        tmp_path: Path) -> None:
    require_chromium()
    conn = start(instances=[Instance("lab", "premium", 3.0), Instance("dev", "premium", 1.0)])
    try:
        env = conn.server.env("dev")
        dev = QiskitRuntimeService(channel="ibm_quantum_platform", url=env["QISKIT_IBM_URL"],
                                   token=env["QISKIT_IBM_TOKEN"],
                                   instance=env["QISKIT_IBM_INSTANCE"])
        backend = conn.service.backend("ibm_brisbane")
        isa = isa_bell(backend)
        lab_first = SamplerV2(mode=backend).run([isa], shots=100)  # lab, job mode: runs first
        used = float(lab_first.usage_estimation["quantum_seconds"])
        batch = Batch(backend=backend)
        first = SamplerV2(mode=batch).run([isa], shots=40_000)
        control(conn, "step", {})  # the lab job ends; the batch's first job starts
        assert first.status() == "RUNNING"
        second = SamplerV2(mode=batch).run([isa], shots=10)
        lab_job = SamplerV2(mode=backend).run([isa], shots=10)
        dev_job = SamplerV2(mode=dev.backend("ibm_brisbane")).run([isa], shots=10)
        session = Session(backend=backend)
        session_job = SamplerV2(mode=session).run([isa], shots=10)
        control(conn, "advance", {"seconds": 4})  # the batch's first job runs on (40,000 shots)
        with chromium(1280, 800) as driver:
            driver.get(conn.server.url + "/")
            rows = (f"Array.from(document.querySelectorAll('{QUEUE_ROWS}'))"
                    ".map(r => [r.cells[1].textContent, r.cells[4].textContent, "
                    "r.cells[5].textContent])")
            queue = until(driver, f"{rows}.length === 4 && {rows}", "four queued jobs")
            # The started batch first; then the normal queue, the least-served
            # instance first (dev has used nothing, lab its first job), FIFO within lab.
            assert [(job, via) for job, via, _ in queue] == [
                (second.job_id(), "batch"), (dev_job.job_id(), "normal"),
                (lab_job.job_id(), "normal"), (session_job.job_id(), "normal")]
            assert queue[0][2] == f"started batch {batch.session_id} goes before the normal queue"
            assert queue[1][2].startswith("normal queue: instance dev used 0.000 s of its 25% ")
            assert queue[2][2].startswith(f"normal queue: instance lab used {used:.3f} s of its "
                                          "75% ")
            driver.execute_script("window.loadedOnce = true;")
            driver.save_screenshot(str(tmp_path / "queue-1280x800.png"))
            full = driver.execute_script("return document.documentElement.scrollHeight + "
                                         "window.outerHeight - window.innerHeight;")
            driver.set_window_size(1280, min(int(full), 1800))
            driver.save_screenshot(str(tmp_path / "queue-full.png"))
            driver.set_window_size(1280, 800)

            # The instance filter, without a reload: only dev's rows remain.
            driver.find_element("css selector", "select[name=instance] option[value=dev]").click()
            until(driver, "location.search === '?instance=dev'", "the filter in the address")
            jobs = until(driver, "Array.from(document.querySelectorAll('#jobs tbody tr"
                         "[data-job]')).map(r => r.dataset.job).join(',') === "
                         f"'{dev_job.job_id()}'", "only dev's job")
            assert jobs is True
            assert "no session or batch matches the filters" in driver.find_element(
                "css selector", "#sessions").text
            assert driver.execute_script("return window.loadedOnce === true;")
            assert console_errors(driver) == []
        control(conn, "run-until-idle", {})
        trace = urllib.request.urlopen(conn.server.url + "/qsession/v1/trace", timeout=60)
        starts = [r["id"] for r in map(json.loads, trace.read().decode().splitlines()[1:])
                  if r["entity"] == "job" and r["event"] == "start"]
        assert starts[2:] == [job for job, _, _ in queue]  # the order the page predicted
    finally:
        conn.close()


def test_durations_read_as_seconds_then_minutes_and_hours() -> None:
    assert [seconds(v) for v in (None, 0.0, 60.0, 120.0, 125.5, 28_800.0, 3_725.0)] == [
        "—", "0.000 s", "60.000 s", "120.000 s", "2 min 05.500 s", "8 h 00 min 00 s",
        "1 h 02 min 05 s"]


def test_every_template_and_static_file_ships_in_the_package() -> None:
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    pages = root / "server" / "pages"
    files = [p for p in pages.rglob("*") if p.is_file() and p.suffix in (".html", ".css", ".js")]
    assert files, "no page files found"
    unshipped = []
    for path in files:
        package = "qsession.server.pages." + ".".join(path.parent.relative_to(pages).parts)
        patterns = config["package-data"].get(package.rstrip("."), [])
        if package.rstrip(".") not in config["packages"] or not any(
                fnmatch.fnmatch(path.name, pat) for pat in patterns):
            unshipped.append(str(path.relative_to(root)))
    assert unshipped == [], "add them to [tool.setuptools] packages and package-data"


def test_the_live_monitor_uses_now_on_virtual_clocks_and_record_times_on_the_wall() -> None:
    rig = Rig()
    s = rig.session()
    rig.job(s, 10)
    rig.at(69.999)  # the ITTL is due at 70 s; its timer has not fired yet
    late = 70_000_500  # a look 0.5 ms after the deadline, before the timer's thread woke
    # Virtual time cannot be at 70.0005 s with the timer unfired: there it is a violation.
    virtual = LiveMonitor("virtual").verdict(rig.trace, late)
    assert not virtual.ok and "INV-ITTL" in virtual.violations[0]
    # A wall clock's timer wakes a little late: the monitor waits for the records.
    assert LiveMonitor("wall").verdict(rig.trace, late).ok


@pytest.mark.wall
def test_the_page_follows_a_wall_clock_run_and_its_verdict_stays_ok() -> None:
    conn = start(clock="wall", speed=20.0, settings={"interactive_timeout": 10.0})
    try:
        backend = conn.service.backend("ibm_brisbane")
        session = Session(backend=backend)
        job = SamplerV2(mode=session).run([isa_bell(backend)], shots=100)
        verdicts, states = [], []
        deadline = time.monotonic() + 60  # a bound for a loaded machine, not a measure
        while time.monotonic() < deadline:
            live = json.loads(get(conn, "/page/live"))
            verdicts.append(live["ok"])
            states.append(re.findall(r'data-session="[^"]+" data-state="([a-z]+)"',
                                     live["parts"]["workloads"]))
            # Until the session went inactive, and a few looks in all: on a loaded machine
            # a poll may take longer than the whole run (its ITTL is 0.5 s of wall time).
            if states[-1] == ["inactive"] and len(verdicts) > 3:
                break
        assert job.status() == "DONE"
        assert states[-1] == ["inactive"], states[-5:]
        assert all(verdicts) and len(verdicts) > 3
    finally:
        conn.close()


def test_the_live_route_answers_same_to_a_page_that_is_up_to_date(conn: Connection) -> None:
    first = json.loads(get(conn, "/page/live"))
    assert first["version"] == f"{first['records']}:0" and "parts" in first
    assert json.loads(get(conn, f"/page/live?v={first['version']}")) == {
        "version": first["version"], "same": True}
    control(conn, "advance", {"seconds": 1.5})  # time moved: the parts come again
    moved = json.loads(get(conn, f"/page/live?v={first['version']}"))
    assert moved["version"] == f"{first['records']}:1500000" and "1.500 s" in moved["parts"][
        "status"]


def test_the_svg_timeline_draws_every_span_of_the_trace_in_the_pictures_colours() -> None:
    from qsession.insight.spans import timeline_spans
    from qsession.insight.timeline import HOLD_COLOR, INACTIVE_COLOR, ITTL_COLOR
    from qsession.server.pages.svg import timeline_svg

    rig = Rig(instances={"a": 1.0, "b": 1.0})
    s = rig.session(max_time=100, instance="a")
    rig.job(s, 10)
    rig.at(75)  # ITTL 10..70, inactive from 70
    rig.job(s, 40)  # reactivates at 75, runs past the max TTL at 100
    rig.job(s, 5)  # queued: fails at 100
    rig.job(None, 5, instance="b")
    rig.at(130)
    spans = timeline_spans(rig.trace, until=rig.clock.now())
    svg = timeline_svg(spans, rig.clock.now())
    runs = [(j.job, j.state) for lane in spans.lanes for j in lane.runs]
    assert re.findall(r'class="run"[^>]*data-job="([^"]+)" data-state="([A-Z]+)"', svg) == runs
    for state in {state for _, state in runs}:
        assert f'fill="{STATE_COLORS[state]}" data-job' in svg
    count = {kind: sum(len(getattr(lane, kind)) for lane in spans.lanes)
             for kind in ("inactive", "ittl", "holds")}
    assert count == {"inactive": 1, "ittl": 1, "holds": 1}
    assert svg.count('class="inactive" x=') == count["inactive"]
    assert svg.count(f'fill="{INACTIVE_COLOR}"') == count["inactive"]
    assert svg.count(f'fill="{ITTL_COLOR}"') == count["ittl"]
    assert svg.count('class="hold"') == count["holds"] and HOLD_COLOR in svg
    assert svg.count('class="mark-expired"') == 1
    assert svg.count('class="ended-queued"') == 1  # the queued job failed at expiry


def test_without_chromium_the_browser_tests_skip_locally_and_fail_under_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import browser

    monkeypatch.setattr(browser.shutil, "which", lambda _name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium "
                       "chromium-driver"):
        browser.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run this test"):
        browser.require_chromium()
