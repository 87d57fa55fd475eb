"""INV-DURABLE over traces that span restarts: what a restart keeps, and traces that break it."""

from __future__ import annotations

import json

from helpers.circuits import bell, isa

from qsession.properties.invariants import check, check_invariant
from qsession.runtime import LocalService, SamplerV2, Session, Trace
from qsession.runtime.engine.ids import ShortIds
from qsession.runtime.engine.recovery import Recovery
from qsession.runtime.engine.scheduler import RESTART_ERROR


def restarted_trace() -> tuple[Trace, list[str]]:
    """A session of four jobs, the platform killed while the first runs, then run to idle."""
    service = LocalService(seed=2, ids=ShortIds())
    qpu = service.backend()
    circuit = isa(bell(), qpu)
    session = Session(qpu)
    ids = [SamplerV2(session).run([circuit], shots=50).job_id() for _ in range(4)]
    service.advance(0.5)
    recorded, now = Trace.loads(service.trace.dumps()), service.clock.now()
    back = LocalService(seed=2, ids=ShortIds())
    recovery = Recovery(back, recorded)
    recovery.replay(until=now)
    for job in recovery.waiting():  # give the queued jobs their inputs back
        with back.scheduler_of(job.qpu).rebinding(job):
            SamplerV2(Session._attach(back, job.session)).run([circuit], shots=50)
    recovery.restart()
    back.run_until_idle()
    return Trace.loads(back.trace.dumps()), ids


def edited(trace: Trace, edit: object) -> Trace:
    lines = [json.loads(line) for line in trace.dumps().splitlines()]
    return Trace.loads("\n".join(json.dumps(x) for x in edit(lines)))  # type: ignore[operator]


def test_a_restarted_run_keeps_every_invariant() -> None:
    trace, ids = restarted_trace()
    report = check(trace, settled=True)
    assert report.ok, report.violations
    assert report.checks["INV-DURABLE"] >= len(ids)
    fails = [r for r in trace if r.event == "fail"]
    assert [(r.id, r.data["reason"]) for r in fails] == [(ids[0], RESTART_ERROR)]


def test_a_running_job_the_restart_left_running_is_a_violation() -> None:
    trace, ids = restarted_trace()

    def finish_instead(lines: list[dict]) -> list[dict]:  # type: ignore[type-arg]
        for x in lines:
            if x.get("event") == "fail" and x.get("id") == ids[0]:
                x["event"], x["dest"] = "finish", "DONE"
                del x["data"]["reason"]
        return lines

    violations = check_invariant("INV-DURABLE", edited(trace, finish_instead))
    assert any(f"job {ids[0]} was running" in v.message for v in violations), violations


def test_a_queued_job_the_restart_failed_is_a_violation() -> None:
    trace, ids = restarted_trace()
    restart_t = next(r.t for r in trace if r.event == "restart")

    def fail_the_queued(lines: list[dict]) -> list[dict]:  # type: ignore[type-arg]
        out = []
        for x in lines:
            out.append(x)
            if x.get("event") == "restart":
                out.append({"seq": x["seq"], "t": restart_t / 1e6, "qpu": x["qpu"],
                            "entity": "job", "id": ids[3], "event": "expire",
                            "source": "QUEUED", "dest": "ERROR",
                            "data": {"reason": RESTART_ERROR}})
        for n, x in enumerate(out[1:]):
            x["seq"] = n
        return out

    violations = check_invariant("INV-DURABLE", edited(trace, fail_the_queued))
    messages = [v.message for v in violations]
    assert any(f"job {ids[3]} was queued when" in m for m in messages), messages
    assert any(f"job {ids[3]} ended twice" in m for m in messages), messages
