"""One reading of a trace for every reader: what was billed and charged comes from the trace.

The runtime writes on the end of every job that ran what it billed (``usage_us``) and what
it charged its instance's fair share (``charged_us``, from ``from_us``), and ``bill``
records for dedicated sessions. The readers (metrics, the live page's workloads) take
those figures from the trace and never work them out again: a trace whose figures are
changed by hand shows the changed figures.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from helpers.rig import Rig

from qsession.insight.metrics import compute
from qsession.insight.reading import read
from qsession.insight.workloads import workloads
from qsession.properties.invariants import check
from qsession.runtime.engine.records import JobRecord
from qsession.runtime.engine.trace import Record, Trace, TraceFormatError


class _CircuitError(RuntimeError):
    """What a job's own circuits raise in the simulator."""


def _executor(payload: Any, seed: int | None) -> Any:
    if payload == "bad circuit":
        raise _CircuitError("the circuit has an instruction the simulator cannot run")
    return None


def _end(trace: Trace, job: JobRecord) -> Record:
    return next(r for r in trace.of("job", job.id) if r.dest in ("DONE", "ERROR", "CANCELLED"))


def test_a_job_failed_by_its_own_execution_error_charges_nothing_on_the_live_page() -> None:
    # The live page once charged such a job its 10 s on the QPU while the scheduler charged
    # 0: the page showed a fair-share state the scheduler did not have.
    rig = Rig(executor=_executor, instances={"a": 1.0, "b": 1.0})
    failed = rig.job(None, 10, instance="a", payload="bad circuit")
    done = rig.job(None, 4, instance="b")
    rig.at(20)
    assert failed.state == "ERROR" and done.state == "DONE"
    end = _end(rig.trace, failed)
    # Its usage is reported (the time it held the QPU); nothing is charged to fair share.
    assert (end.event, end.data["usage_us"], end.data["charged_us"]) == ("fail", 10_000_000, 0)
    assert "from_us" not in end.data
    assert rig.sched.fair_share.used("a", rig.clock.now()) == 0
    board = workloads(rig.trace, rig.clock.now())
    assert board.qpus["qpu"].used == {"a": 0.0, "b": 4.0}
    assert board.jobs[failed.id].usage == 10.0
    assert compute(rig.trace).jobs[failed.id].usage == 10.0
    assert check(rig.trace).ok


def test_what_each_end_charges_is_written_as_the_model_says() -> None:
    rig = Rig(executor=_executor, instances={"a": 1.0})
    batch = rig.session("batch")
    in_batch = rig.job(batch, 3)
    job_mode = rig.job(None, 5)
    cancelled = rig.job(None, 7)
    dedicated = rig.session()
    in_session = rig.job(dedicated, 2)
    rig.at(9)
    with rig.clock.lock:
        rig.sched.cancel_job(cancelled)  # while it runs (8 s .. 15 s): 1 s used
    rig.at(40)
    charged = {job.id: (_end(rig.trace, job).data["usage_us"],
                        _end(rig.trace, job).data["charged_us"])
               for job in (in_batch, job_mode, cancelled, in_session)}
    assert charged == {
        in_batch.id: (3_000_000, 3_000_000),  # a batch job: its QPU time
        job_mode.id: (5_000_000, 5_000_000),  # job mode: its QPU time
        cancelled.id: (1_000_000, 0),  # cancelled by its user while it ran: not charged
        in_session.id: (2_000_000, 0),  # a dedicated session is charged its spans instead
    }
    assert _end(rig.trace, job_mode).data["from_us"] == 3_000_000
    assert check(rig.trace).ok


def _tampered(trace: Trace, job: str, **data: int) -> list[Record]:
    """The trace's records with the end of ``job`` saying ``data`` instead."""
    return [dataclasses.replace(r, data={**r.data, **data})
            if r.entity == "job" and r.id == job and r.dest in ("DONE", "ERROR", "CANCELLED")
            else r for r in trace]


def test_the_readers_take_charges_and_usage_from_the_trace_and_never_recompute_them() -> None:
    rig = Rig(instances={"a": 1.0, "b": 1.0})
    first = rig.job(None, 10, instance="a")
    rig.job(None, 10, instance="b")
    dedicated = rig.session(instance="b")
    rig.job(dedicated, 4)
    rig.at(100)
    now = rig.clock.now()
    honest = workloads(rig.trace, now).qpus["qpu"]
    assert honest.used == {"a": 10.0, "b": 10.0 + 64.0}  # b: its job and the session's span
    # A reader that recomputed the charge from the job's start and end (or from its usage)
    # would still show 10 s for a; one that reads the trace shows what the trace says.
    records = _tampered(rig.trace, first.id, charged_us=2_500_000, usage_us=7_000_000)
    shown = workloads(records, now)
    assert shown.qpus["qpu"].used["a"] == 2.5
    assert shown.jobs[first.id].usage == 7.0
    assert compute(records).jobs[first.id].usage == 7.0
    # A session's billed usage likewise comes from its bill records.
    bills = [dataclasses.replace(r, data={**r.data, "usage_us": 1_000_000})
             if r.event == "bill" else r for r in rig.trace]
    assert compute(bills).sessions[dedicated.id].usage_time == 1.0
    assert workloads(bills, now).sessions[dedicated.id].usage == 1.0


def test_an_open_span_counts_until_now_and_closes_at_its_bill() -> None:
    rig = Rig()
    s = rig.session(max_time=20)
    rig.job(s, 30)
    rig.at(25)  # expired at 20; its running job keeps the span open until 30
    reading = read(rig.trace)
    assert reading.sessions[s.id].span_open_since == 0
    assert reading.sessions[s.id].usage_us(rig.clock.now()) == 25_000_000
    rig.at(31)
    reading = read(rig.trace)
    assert reading.sessions[s.id].span_open_since is None
    assert reading.sessions[s.id].usage_us(rig.clock.now()) == 30_000_000


VERSION_1 = "\n".join(json.dumps(line) for line in (
    {"format": "qsession-trace", "version": 1, "epoch": "2025-01-01T00:00:00+00:00"},
    {"seq": 0, "t": 0, "qpu": "q", "entity": "job", "id": "j1", "event": "create",
     "dest": "QUEUED", "instance": "a", "data": {"duration_us": 5_000_000}},
    {"seq": 1, "t": 0, "qpu": "q", "entity": "job", "id": "j1", "event": "start",
     "source": "QUEUED", "dest": "RUNNING", "instance": "a"},
    {"seq": 2, "t": 5, "qpu": "q", "entity": "job", "id": "j1", "event": "finish",
     "source": "RUNNING", "dest": "DONE", "instance": "a", "data": {"usage_us": 5_000_000}},
)) + "\n"


def test_a_version_1_trace_is_read_and_checked_but_not_shown_with_fair_share_figures() -> None:
    trace = Trace.loads(VERSION_1, "old.jsonl")
    assert trace.version == 1
    assert trace.dumps().splitlines()[0].find('"version":1') > 0  # written back as it was
    assert check(trace).ok
    assert compute(trace).jobs["j1"].usage == 5.0
    with pytest.raises(TraceFormatError, match=r"job\(s\) j1 charged .*version 2.*qsession "
                                               r"check"):
        workloads(trace)
