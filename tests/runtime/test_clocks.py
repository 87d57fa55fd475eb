"""Clocks: virtual instants and ordering, measured think time, wall timers and threads."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime

import pytest
from helpers.rig import Rig

from qsession.runtime.engine.clock import ClockError, MeasuredClock, VirtualClock, WallClock, to_us


def test_virtual_timers_fire_in_time_then_priority_then_creation_order() -> None:
    clock = VirtualClock()
    fired: list[str] = []
    clock.call_at(20, lambda: fired.append("b20"), priority=1)
    clock.call_at(10, lambda: fired.append("x10"))
    clock.call_at(20, lambda: fired.append("a20"), priority=0)
    clock.call_at(20, lambda: fired.append("c20"), priority=1)
    gone = clock.call_at(15, lambda: fired.append("cancelled"))
    gone.cancel()
    clock.add_instant_hook(lambda: fired.append(f"hook@{clock.now()}"))
    clock.advance_to(25)
    assert fired == ["x10", "hook@10", "a20", "b20", "c20", "hook@20"]
    assert clock.now() == 25


def test_timers_added_for_the_current_instant_fire_in_it() -> None:
    clock = VirtualClock()
    fired: list[int] = []
    clock.call_at(5, lambda: clock.call_at(5, lambda: fired.append(clock.now())))
    clock.advance_to(5)
    assert fired == [5]


def test_virtual_wait_for_stops_at_the_instant_the_predicate_holds() -> None:
    clock = VirtualClock()
    box: list[int] = []
    clock.call_at(7, lambda: box.append(1))
    clock.call_at(9, lambda: box.append(2))
    assert clock.wait_for(lambda: len(box) == 1)
    assert clock.now() == 7
    assert not clock.wait_for(lambda: len(box) == 5, timeout_us=100)
    assert clock.now() == 107
    with pytest.raises(ClockError, match="can never happen"):
        clock.wait_for(lambda: False)


def test_virtual_clock_refuses_the_past_and_negative_advances() -> None:
    clock = VirtualClock()
    clock.advance(10)
    with pytest.raises(ClockError, match="cannot go back"):
        clock.advance_to(5)
    with pytest.raises(ClockError, match="negative"):
        clock.advance(-1)
    with pytest.raises(ClockError, match="in the past"):
        clock.call_at(3, lambda: None)


def test_datetimes_are_utc_from_a_configurable_epoch() -> None:
    clock = VirtualClock(epoch=datetime(2030, 5, 1, tzinfo=UTC))
    clock.advance(to_us(1.5))
    assert clock.datetime() == datetime(2030, 5, 1, 0, 0, 1, 500000, tzinfo=UTC)
    with pytest.raises(ClockError, match="timezone-aware"):
        VirtualClock(epoch=datetime(2030, 5, 1))


def test_measured_clock_adds_scaled_think_time_between_calls() -> None:
    wall = [100.0]
    clock = MeasuredClock(scale=10.0, timer=lambda: wall[0])
    clock.enter_call()
    wall[0] += 50.0  # time spent inside the runtime does not count
    clock.leave_call()
    assert clock.now() == 0
    wall[0] += 2.5  # the caller thinks for 2.5 s
    clock.enter_call()
    assert clock.now() == to_us(25)
    clock.leave_call()


def test_measured_think_time_lets_the_ittl_run_out() -> None:
    wall = [0.0]
    rig = Rig(clock=MeasuredClock(scale=1.0, timer=lambda: wall[0]), interactive_timeout=60)
    s = rig.session()
    rig.clock.enter_call()
    first = rig.job(s, seconds=5)
    rig.wait(first)
    rig.clock.leave_call()
    wall[0] += 61.0  # a slow optimizer step
    rig.clock.enter_call()
    assert s.state == "inactive"  # deactivated at 65, before this call acts
    rig.clock.leave_call()


def test_wall_clock_fires_timers_by_itself() -> None:
    clock = WallClock(speed=1000)
    try:
        done = threading.Event()
        clock.call_at(to_us(5), done.set)  # 5 model seconds = 5 ms
        assert done.wait(2.0)
        assert clock.now() >= to_us(5)
        assert clock.wait_for(lambda: True, timeout_us=1)
    finally:
        clock.close()


@pytest.mark.wall
def test_wall_clock_fires_lagging_timers_before_anyone_reads_a_later_instant() -> None:
    # The timer thread can be starved (a busy machine, or another thread holding the
    # lock); a reader must then fire what is due first, so the timer acts at its own
    # instant and nobody acts on an instant past it while it has not fired.
    clock = WallClock(speed=1000)
    try:
        fired: list[int] = []
        with clock.lock:  # the timer thread cannot run meanwhile
            at = clock.now() + to_us(0.05)
            clock.call_at(at, lambda: fired.append(clock.now()))
            time.sleep(0.02)  # 20 model seconds pass; the timer lags
            later = clock.now()
            assert fired == [at]
            assert later >= at + to_us(10)
    finally:
        clock.close()


def test_wall_clock_threads_submitting_lose_nothing() -> None:
    rig = Rig(clock=WallClock(speed=1000), interactive_timeout=0.5)
    try:
        sessions = [rig.session() for _ in range(4)]
        per_thread = 50
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                for i in range(per_thread):
                    target = sessions[(n + i) % 4] if i % 3 else None
                    rig.job(target, seconds=0.01)
            except BaseException as err:  # pragma: no cover - reported below
                errors.append(err)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        rig.run()
        assert not errors
        jobs = rig.sched.jobs.values()
        assert len(jobs) == 6 * per_thread
        assert len({j.id for j in jobs}) == len(jobs)
        assert all(j.state == "DONE" for j in jobs)
        # One job at a time on the QPU: the run intervals never overlap.
        spans = sorted((j.running, j.finished) for j in jobs)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # type: ignore[operator]
        assert time.monotonic() - start < 30
    finally:
        rig.close()
