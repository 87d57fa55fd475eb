"""A platform rebuilt from its trace: replay, restart, ids, tags and deletions (docs/server.md)."""

from __future__ import annotations

import json

import pytest
from helpers.circuits import bell, isa

from qsession.properties.invariants import check
from qsession.runtime import LocalService, RuntimeJobNotFound, SamplerV2, Session, Trace
from qsession.runtime.engine.ids import IBM_ID, IbmIds, ShortIds, scheme_from_spec
from qsession.runtime.engine.records import JobRecord
from qsession.runtime.engine.recovery import Recovery, RecoveryError, recorded_inputs
from qsession.runtime.engine.replay import replay
from qsession.runtime.engine.scheduler import RESTART_CODE, RESTART_ERROR

SHOTS = 100


def platform(ids: IbmIds | ShortIds | None = None) -> LocalService:
    """The service every test here builds twice: once to run, once to recover."""
    return LocalService(seed=11, ids=ids if ids is not None else IbmIds(0x5eed),
                        interactive_timeout=60, max_time=30)


def crash(service: LocalService) -> tuple[Trace, int]:
    """What a killed platform leaves: its trace as written, and its clock's position."""
    return Trace.loads(service.trace.dumps()), service.clock.now()


def recover(recorded: Trace, at_us: int, ids: IbmIds | ShortIds | None = None) -> LocalService:
    """A fresh platform rebuilt from ``recorded``; queued jobs get their inputs back."""
    service = platform(ids)
    recovery = Recovery(service, recorded)
    recovery.replay(until=at_us)
    circuit = isa(bell(), service.backend())
    for job in recovery.waiting():
        resubmit(service, job, circuit)
    recovery.restart()
    return service


def resubmit(service: LocalService, job: JobRecord, circuit: object) -> None:
    """Redo a job's submission inside ``rebinding``: the job gets its payload back."""
    scheduler = service.scheduler_of(job.qpu)
    mode = (Session._attach(service, job.session) if job.session is not None
            else service.backend(job.qpu))
    with scheduler.rebinding(job):
        again = SamplerV2(mode).run([circuit], shots=SHOTS)
    assert again.job_id() == job.id and not recorded_inputs(job)


def test_ibm_shaped_ids_are_unique_per_key_and_read_back_from_the_header() -> None:
    a, b = IbmIds(1), IbmIds(2)
    names = {a.name("job", n, 1_735_689_600) for n in range(1, 500)}
    assert len(names) == 499 and all(IBM_ID.fullmatch(n) for n in names)
    assert a.name("job", 7, 1_735_689_600) != b.name("job", 7, 1_735_689_600)
    # IBM's ids start with the time: 2025's begin with "cx" (IBM's REST guide shows
    # 'crw9s7cdbt40008jxesg' from 2024).
    assert a.name("session", 1, 1_735_689_600).startswith("cx")
    assert scheme_from_spec(a.spec()) == a and scheme_from_spec(None) == ShortIds()
    with pytest.raises(ValueError, match="names no id scheme"):
        scheme_from_spec("ibm-xyz")


def test_a_replay_names_every_object_as_the_run_did() -> None:
    service = platform()
    qpu = service.backend()
    circuit = isa(bell(), qpu)
    with Session(qpu) as session:
        jobs = [SamplerV2(session).run([circuit], shots=SHOTS) for _ in range(2)]
        jobs[-1].result()
    assert IBM_ID.fullmatch(session.session_id) and IBM_ID.fullmatch(jobs[0].job_id())
    assert service.trace.meta["ids"] == "ibm-00005eed"
    again = replay(Trace.loads(service.trace.dumps()))
    assert again.identical, again.difference


def test_tags_and_deletions_are_runtime_state_recorded_and_replayed() -> None:
    service = platform(ShortIds())
    qpu = service.backend()
    circuit = isa(bell(), qpu)
    sampler = SamplerV2(qpu, options={"environment": {"job_tags": ["a,b", "c"]}})
    first, second = sampler.run([circuit], shots=SHOTS), sampler.run([circuit], shots=SHOTS)
    assert first.tags == ["a,b", "c"]
    second.update_tags(["z", "y", "z"])
    second.result()
    service.delete_job(first.job_id())
    tags = [(r.data["job"], json.loads(str(r.data["tags"]))) for r in service.trace
            if r.event == "job_tags"]
    # A tag with a comma would not read back from the create record's list: its own record.
    assert tags == [(first.job_id(), ["a,b", "c"]), (second.job_id(), ["a,b", "c"]),
                    (second.job_id(), ["y", "z"])]
    assert [r.data["job"] for r in service.trace if r.event == "job_delete"] == [
        first.job_id()]
    assert replay(Trace.loads(service.trace.dumps())).identical
    recorded, now = crash(service)
    back = recover(recorded, now, ShortIds())
    assert back.job(second.job_id()).tags == ["y", "z"]
    with pytest.raises(RuntimeJobNotFound):
        back.job(first.job_id())
    assert [j.job_id() for j in back.jobs(limit=None)] == [second.job_id()]


def test_a_restart_fails_the_running_job_and_keeps_queue_order_and_deadlines() -> None:
    service = platform()
    qpu = service.backend()
    circuit = isa(bell(), qpu)
    session = Session(qpu, max_time=6)
    in_session = [SamplerV2(session).run([circuit], shots=SHOTS) for _ in range(5)]
    background = SamplerV2(qpu).run([circuit], shots=SHOTS)
    d = in_session[0].usage_estimation["quantum_seconds"]
    assert 2 < d < 3  # the modeled time of one small job (about 2 s of overhead)
    service.advance(1.0)  # the first job runs; the others queue
    recorded, now = crash(service)
    ids = [j.job_id() for j in in_session]

    back = recover(recorded, now)
    trace = back.trace
    restart = [r for r in trace if r.event == "restart"]
    assert [(r.t, r.data["restarts"]) for r in restart] == [(1_000_000, 1)]
    first = back.job(ids[0])
    assert first.status() == "ERROR" and first.error_message() == RESTART_ERROR
    assert f"error code {RESTART_CODE}" in RESTART_ERROR
    assert first.usage() == 0  # a job the system failed is not billed (IBM's rule)
    assert back.job(ids[1]).status() == "RUNNING"  # the next one starts at the restart
    back.run_until_idle()
    starts = {r.id: r.t for r in trace if r.entity == "job" and r.event == "start"}
    # Queued jobs ran in their order, the session first (it is active), then job mode.
    assert starts[ids[1]] == 1_000_000
    assert starts[ids[2]] == starts[ids[1]] + round(d * 1e6)
    assert starts[background.job_id()] > starts[ids[2]]
    # The max TTL (6 s from the first job's start, at 0) stands in model time: the job
    # still queued then fails at exactly 6 s, the one running completes.
    expiry = next(r for r in trace if r.entity == "session" and r.event == "max_time_reached")
    assert expiry.t == 6_000_000
    assert starts[ids[3]] < 6_000_000 < starts[ids[3]] + round(d * 1e6)
    assert back.job(ids[4]).status() == "ERROR" and ids[4] not in starts
    assert back.job(ids[3]).status() == "DONE"
    report = check(trace, settled=True)
    assert report.ok, report.violations


def test_the_interactive_timeout_stands_across_two_restarts() -> None:
    service = platform()
    qpu = service.backend()
    circuit = isa(bell(), qpu)
    session = Session(qpu, max_time=600)
    job = SamplerV2(session).run([circuit], shots=SHOTS)
    job.result()
    ended = service.clock.now()
    service.advance(10)
    recorded, now = crash(service)
    back = recover(recorded, now)
    back.advance(20)
    recorded, now = crash(back)
    again = recover(recorded, now)
    again.advance(60)
    trace = again.trace
    assert [r.data["restarts"] for r in trace if r.event == "restart"] == [1, 2]
    # Deactivated exactly 60 s after its job ended, 10 + 20 s of it before two restarts.
    ittl = [r.t for r in trace if r.entity == "session" and r.event == "ittl_elapsed"]
    assert ittl == [ended + 60_000_000]
    later = SamplerV2(Session._attach(again, again.session_record(session.session_id)))
    assert IBM_ID.fullmatch(later.run([circuit], shots=SHOTS).job_id())
    created = [r.id for r in trace if r.event == "create"]
    assert len(created) == len(set(created))  # no id given twice across the restarts
    report = check(trace)
    assert report.ok, report.violations


def test_a_trace_that_does_not_replay_is_refused_with_its_first_difference() -> None:
    service = platform()
    qpu = service.backend()
    SamplerV2(qpu).run([isa(bell(), qpu)], shots=SHOTS).result()
    text = service.trace.dumps().replace('"kind":"sampler","duration_us":',
                                         '"kind":"sampler","duration_us":1', 1)
    with pytest.raises(RecoveryError, match=r"does not replay as recorded.*first difference"):
        Recovery(platform(), Trace.loads(text)).replay()
