"""The trace round-trips through JSON lines; metrics from it agree with the scheduler's books."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from helpers.rig import Rig

from qsession.insight.metrics import compute
from qsession.runtime.engine.clock import to_seconds
from qsession.runtime.engine.trace import Trace, TraceFormatError


def busy_rig() -> Rig:
    """A run with a session (deactivated and reactivated), a batch, a cancel and an expiry."""
    rig = Rig(interactive_timeout=10, instances={"a": 1.0, "b": 1.0})
    s = rig.session(instance="a", max_time=200)
    b = rig.session("batch", instance="b")
    for _ in range(2):
        rig.job(s, seconds=7)
    rig.job(b, seconds=3)
    rig.job(seconds=5, instance="b")
    rig.at(16)  # inside the ITTL window (last job ended at 14): the ITTL timer is cancelled
    rig.job(s, seconds=1)
    rig.at(40)
    rig.job(s, seconds=4)
    victim = rig.job(seconds=4, instance="a")
    rig.sched.cancel_job(victim)
    rig.at(199)
    for _ in range(3):
        rig.job(s, seconds=2)
    rig.run()
    rig.at(260)
    return rig


def test_trace_round_trips_through_json_lines(tmp_path: Path) -> None:
    rig = busy_rig()
    path = rig.trace.write(tmp_path / "trace.jsonl")
    back = Trace.read(path)
    assert back.records == rig.trace.records
    assert back.dumps() == rig.trace.dumps()
    header = json.loads(path.read_text().splitlines()[0])
    assert header == {"format": "qsession-trace", "version": 2,
                      "epoch": "2025-01-01T00:00:00+00:00"}
    events = {(r.entity, r.event) for r in back}
    assert {("session", "ittl_elapsed"), ("session", "max_time_reached"), ("job", "expire"),
            ("job", "cancel"), ("qpu", "hold"), ("qpu", "release"), ("qpu", "dispatch"),
            ("qpu", "timer_set"), ("qpu", "timer_fire"), ("qpu", "timer_cancel")} <= events


def test_records_are_in_time_order_with_dense_sequence_numbers() -> None:
    rig = busy_rig()
    records = rig.trace.records
    assert [r.seq for r in records] == list(range(len(records)))
    assert all(a.t <= b.t for a, b in itertools.pairwise(records))


def test_metrics_from_the_trace_match_the_scheduler() -> None:
    rig = busy_rig()
    metrics = compute(rig.trace)
    for sid, rec in rig.sched.sessions.items():
        m = metrics.sessions[sid]
        assert m.state == rec.state
        assert m.deactivations == rec.deactivations
        assert m.reserved_idle == pytest.approx(to_seconds(rec.reserved_idle_us))
        if rec.mode == "dedicated":
            assert m.usage_time == pytest.approx(to_seconds(rec.usage_us))
        assert m.jobs == [j.id for j in rec.jobs]
    for jid, job in rig.sched.jobs.items():
        jm = metrics.jobs[jid]
        assert jm.status == job.state
        assert jm.usage == pytest.approx(to_seconds(job.usage_us))
        assert jm.created == to_seconds(job.created)
    q = metrics.qpus["qpu"]
    assert q.busy == pytest.approx(to_seconds(rig.sched.busy_us))
    assert 0 < q.utilisation < 1 and 0 < q.reserved_idle_fraction < 1


def test_session_usage_is_active_time_held_idle_included() -> None:
    rig = Rig(interactive_timeout=10)
    s = rig.session()
    rig.job(s, seconds=5)
    rig.run()
    rig.at(100)
    m = compute(rig.trace).sessions[s.id]
    assert (m.usage_time, m.reserved_idle, m.deactivations) == (15.0, 10.0, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("hello\n", "not JSON"),
        ('{"format": "csv"}\n', "is not a qsession trace header"),
        ('{"format": "qsession-trace", "version": 9}\n', "unsupported trace version 9"),
        ('{"format": "qsession-trace", "version": 1}\n[1]\n', "each line must be a JSON object"),
        ('{"format": "qsession-trace", "version": 1}\n{"seq": 0}\n', "missing field"),
        ('{"format": "qsession-trace", "version": 1}\n'
         '{"seq":0,"t":-1,"qpu":"q","entity":"job","id":"j","event":"create"}\n', "t must be"),
        ('{"format": "qsession-trace", "version": 1}\n'
         '{"seq":0,"t":1,"qpu":"q","entity":"robot","id":"j","event":"create"}\n', "entity"),
    ],
)
def test_a_file_that_is_not_a_trace_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(TraceFormatError, match=message):
        Trace.loads(text, "t.jsonl")
