"""The live page's view model, read from a trace: rows, timers, holds and queue order.

Scenarios run on one scheduler in virtual time (``helpers.rig``), so every countdown is
exact; the predicted queue order is checked against the order the scheduler then really
starts the jobs (in scenarios where no run ends between them to change fair shares).
"""

from __future__ import annotations

from helpers.rig import Rig

from qsession.insight.workloads import Workloads, workloads


def board(rig: Rig) -> Workloads:
    return workloads(rig.trace, rig.clock.now())


def started_order(rig: Rig) -> list[str]:
    return [r.id for r in sorted(rig.trace.of("job"), key=lambda r: r.t) if r.event == "start"]


def test_a_session_row_counts_down_to_ittl_and_max_ttl_and_the_hold_is_shown() -> None:
    rig = Rig()
    s = rig.session(max_time=100)
    job = rig.job(s, 10)
    rig.at(5)
    b = board(rig)
    row = b.sessions[s.id]
    assert (row.state, row.mode, row.accepting, row.activations) == ("active", "dedicated",
                                                                     True, 1)
    assert row.to_max_ttl == 95.0 and row.to_ittl is None  # a job in flight: no ITTL runs
    assert b.qpus["qpu"].running == job.id and b.qpus["qpu"].running_ends_at == 10.0
    assert b.qpus["qpu"].running_via == "normal"  # a pending session's first job
    assert b.jobs[job.id].status == "RUNNING" and b.jobs[job.id].duration == 10.0
    rig.at(30)
    b = board(rig)
    row = b.sessions[s.id]
    assert row.to_ittl == 40.0 and row.to_max_ttl == 70.0  # ITTL from 10 s, max TTL from 0
    assert row.usage == 30.0  # a dedicated session bills its active time
    q = b.qpus["qpu"]
    assert (q.running, q.holder, q.held_since, q.hold_ends_at, q.hold_ends_by) == (
        None, s.id, 10.0, 70.0, "ITTL")
    assert b.jobs[job.id].reason == "completed"
    other = rig.job(None, 5)  # job mode, waiting behind the hold
    b = board(rig)
    [entry] = b.qpus["qpu"].queue
    assert entry.job == other.id and entry.via == "normal" and entry.after_hold
    assert f"after {s.id}'s hold ends" in entry.reason
    assert b.job_reason(b.jobs[other.id]).startswith("#1 in queue: normal queue")
    rig.at(70)
    b = board(rig)
    assert b.sessions[s.id].state == "inactive" and b.sessions[s.id].to_ittl is None
    assert b.qpus["qpu"].holder is None and b.qpus["qpu"].running == other.id
    assert b.sessions[s.id].usage == 70.0


def test_max_ttl_fails_the_queued_job_with_its_reason() -> None:
    rig = Rig()
    s = rig.session(max_time=20)
    running, queued = rig.job(s, 30), rig.job(s, 5)
    rig.at(10)
    b = board(rig)
    assert [e.job for e in b.qpus["qpu"].queue] == [queued.id]
    assert "the active session" in b.qpus["qpu"].queue[0].reason
    rig.at(25)
    b = board(rig)
    assert b.sessions[s.id].state == "expired" and b.sessions[s.id].to_max_ttl is None
    assert b.jobs[queued.id].status == "ERROR" and b.jobs[queued.id].finished == 20.0
    assert "max time" in (b.jobs[queued.id].reason or "")
    assert b.jobs[running.id].status == "RUNNING"  # the running job completes


def test_a_started_batch_goes_before_the_normal_queue() -> None:
    rig = Rig(instances={"a": 1.0, "b": 1.0})
    batch = rig.session("batch", instance="a")
    rig.job(batch, 10)
    rig.at(1)
    normal = rig.job(None, 5, instance="b")
    rig.at(2)
    second = rig.job(batch, 5)
    rig.at(3)
    queue = board(rig).qpus["qpu"].queue
    assert [(e.job, e.via) for e in queue] == [(second.id, "batch"), (normal.id, "normal")]
    assert queue[0].reason == f"started batch {batch.id} goes before the normal queue"
    rig.at(100)
    assert started_order(rig)[1:] == [second.id, normal.id]


def test_the_normal_queue_is_ordered_by_fair_share_then_fifo() -> None:
    rig = Rig(instances={"a": 1.0, "b": 1.0, "c": 1.0})
    rig.job(None, 10, instance="a")  # a uses 10 s of its share
    rig.at(1)
    rig.job(None, 20, instance="c")  # runs 10..30; counts once it ends
    rig.at(11)
    early = rig.job(None, 5, instance="a")
    rig.at(12)
    late = rig.job(None, 5, instance="b")
    rig.at(15)
    q = board(rig).qpus["qpu"]
    assert q.ratios["a"] > 0 and q.ratios["b"] == 0.0
    # b has used nothing: its later job goes before a's earlier one.
    assert [e.job for e in q.queue] == [late.id, early.id]
    assert q.queue[0].reason == ("normal queue: instance b used 0.000 s of its 33% share in "
                                 "the window (least served first, FIFO on ties)")
    assert q.used == {"a": 10.0, "b": 0.0, "c": 0.0}
    rig.at(100)
    assert started_order(rig)[2:] == [late.id, early.id]



def test_a_pending_session_activated_by_its_first_job_then_goes_first() -> None:
    rig = Rig(instances={"a": 1.0, "b": 1.0})
    rig.job(None, 10, instance="b")  # runs 0..10
    s = rig.session(instance="a")
    first, second = rig.job(s, 5), rig.job(s, 5)
    other = rig.job(None, 5, instance="a")
    rig.at(1)
    queue = board(rig).qpus["qpu"].queue
    # The first job starts from the normal queue and activates the session, so
    # the second goes before `other` though `other` waits in the normal queue already.
    assert [(e.job, e.via) for e in queue] == [(first.id, "normal"), (second.id, "session"),
                                               (other.id, "normal")]
    assert queue[2].after_hold and queue[2].reason.endswith(f"after {s.id}'s hold ends")
    rig.at(200)
    assert started_order(rig)[1:] == [first.id, second.id, other.id]


def test_a_closed_session_draining_its_last_job_does_not_hold_the_qpu() -> None:
    rig = Rig()
    s = rig.session()
    last = rig.job(s, 10)
    with rig.clock.lock:
        rig.sched.close(s)  # stops accepting; the running job drains, then it is closed
    waiting = rig.job(None, 5)
    rig.at(2)
    [entry] = board(rig).qpus["qpu"].queue
    assert entry.job == waiting.id and not entry.after_hold
    rig.at(10)
    assert board(rig).sessions[s.id].state == "closed"
    assert started_order(rig) == [last.id, waiting.id]
    assert board(rig).jobs[waiting.id].started == 10.0  # no hold between them


def test_a_hold_ends_at_max_ttl_when_that_comes_before_the_ittl() -> None:
    rig = Rig()
    s = rig.session(max_time=30)
    rig.job(s, 10)
    rig.at(15)
    q = board(rig).qpus["qpu"]
    assert (q.holder, q.hold_ends_at, q.hold_ends_by) == (s.id, 30.0, "max TTL")


def test_an_expired_session_is_billed_on_while_its_job_runs_and_jobs_show_their_usage() -> None:
    rig = Rig()
    s = rig.session(max_time=20)
    running, queued = rig.job(s, 30), rig.job(s, 5)
    rig.at(25)  # expired at 20; its job runs until 30 (billed until it completes)
    b = board(rig)
    assert b.sessions[s.id].state == "expired" and b.sessions[s.id].usage == 25.0
    assert b.jobs[running.id].usage is None and b.jobs[queued.id].usage == 0.0
    rig.at(40)
    b = board(rig)
    assert b.sessions[s.id].usage == 30.0 and b.jobs[running.id].usage == 30.0


def test_fair_share_counts_an_instances_use_on_every_qpu() -> None:
    from qsession.runtime import Trace

    trace = Trace()
    for qpu in ("q1", "q2"):
        for instance in ("a", "b"):
            trace.emit(0, qpu, "qpu", qpu, "configure", instance=instance,
                       extra={"allocation": 1.0, "fair_share_window_us": 10**12})
    trace.emit(0, "q1", "job", "j1", "create", dest="QUEUED", instance="a",
               extra={"duration_us": 5_000_000})
    trace.emit(0, "q1", "job", "j1", "start", source="QUEUED", dest="RUNNING", instance="a")
    trace.emit(0, "q2", "job", "j2", "create", dest="QUEUED", instance="z",
               extra={"duration_us": 9_000_000})  # keeps q2 busy (instance z)
    trace.emit(0, "q2", "job", "j2", "start", source="QUEUED", dest="RUNNING", instance="z")
    trace.emit(1_000_000, "q2", "job", "j3", "create", dest="QUEUED", instance="a")
    trace.emit(2_000_000, "q2", "job", "j4", "create", dest="QUEUED", instance="b")
    trace.emit(5_000_000, "q1", "job", "j1", "finish", source="RUNNING", dest="DONE",
               instance="a", extra={"usage_us": 5_000_000, "charged_us": 5_000_000,
                                    "from_us": 0})
    q2 = workloads(trace, 6_000_000).qpus["q2"]
    # a used 5 s on q1: on q2 b's later job goes first.
    assert q2.used == {"a": 5.0, "b": 0.0} and [e.job for e in q2.queue] == ["j4", "j3"]
