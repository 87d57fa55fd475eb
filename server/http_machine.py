"""Server traces under the invariants: a Hypothesis state machine that drives the HTTP door.

Each run starts a real server on 127.0.0.1 and drives it with IBM's client (two tenants,
``server/doors.py``'s ``OverHTTP``): open sessions and batches, submit, let virtual time
pass over the control routes, wait for a job, close, cancel, cancel a job. After every step
the server's own trace (``GET /qsession/v1/trace``) is checked against every trace
invariant; at the end the run is driven to idle and every job id the client received must
be in the trace and reach a final state exactly once.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from qsession.properties.invariants import Monitor, Report, Violation
from qsession.runtime import Record

from .doors import Open, OverHTTP, Submit

FINAL = ("DONE", "ERROR", "CANCELLED")


class ServerViolated(AssertionError):
    """An invariant broke on the server's trace; the message lists the violations."""

    def __init__(self, report: Report) -> None:
        self.ids = sorted({v.invariant for v in report.violations})
        lines = "\n".join(f"  {v}" for v in report.violations[:10])
        super().__init__(f"invariant(s) violated over HTTP: {', '.join(self.ids)}\n{lines}")


class HTTPMachine(RuleBasedStateMachine):
    """The HTTP door under random sessions, jobs and time; every invariant after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.door = OverHTTP()
        self.monitor = Monitor()
        self.sessions: list[Any] = []
        self.jobs: list[Any] = []
        self.fed = 0
        self.steps = 0

    @rule(mode=st.sampled_from(["dedicated", "batch"]), tenant=st.integers(0, 1),
          max_time=st.sampled_from([None, 30, 120]))
    def open_session(self, mode: str, tenant: int, max_time: int | None) -> None:
        """Open a Session or a Batch for a tenant."""
        self.sessions.append(self.door.open(Open(mode, tenant, max_time)))

    @precondition(lambda self: len(self.jobs) < 12)
    @rule(index=st.one_of(st.none(), st.integers(0, 3)), tenant=st.integers(0, 1),
          shots=st.sampled_from([100, 1_000, 4_000]), pubs=st.integers(1, 2))
    def submit(self, index: int | None, tenant: int, shots: int, pubs: int) -> None:
        """Submit to a session (a closed one refuses) or in job mode."""
        from qiskit_ibm_runtime.exceptions import IBMRuntimeError

        target = None if index is None or not self.sessions else \
            self.sessions[index % len(self.sessions)]
        # A session that no longer accepts jobs refuses: INV-CLOSED-REJECTS checks the trace.
        with contextlib.suppress(IBMRuntimeError):
            self.jobs.append(self.door.submit(target, Submit(index, tenant, shots, pubs)))

    @rule(seconds=st.sampled_from([0.5, 1.0, 5.0, 60.0, 61.0]))
    def think(self, seconds: float) -> None:
        """Let virtual time pass (``POST /qsession/v1/advance``)."""
        self.door.think(seconds)

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(0, 11))
    def wait(self, index: int) -> None:
        """Step the server's timers until a job is final."""
        self.door.wait(self.jobs[index % len(self.jobs)])

    @precondition(lambda self: self.sessions)
    @rule(index=st.integers(0, 3), cancel=st.booleans())
    def end_session(self, index: int, cancel: bool) -> None:
        """close() or cancel() a session."""
        session = self.sessions[index % len(self.sessions)]
        if cancel:
            session.cancel()
        else:
            session.close()

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(0, 11))
    def cancel_job(self, index: int) -> None:
        """cancel() a job (a final one is refused with a 409)."""
        from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

        with contextlib.suppress(RuntimeInvalidStateError):
            self.jobs[index % len(self.jobs)].cancel()

    def _check(self, *, settled: bool = False) -> Report:
        records = [Record.from_json(row, f"server record {k}")
                   for k, row in enumerate(self.door.trace())]
        self.monitor.feed(records[self.fed:])
        self.fed = len(records)
        self.steps += 1
        return self.monitor.finish(settled) if settled else self.monitor.report()

    @invariant()
    def invariants_hold(self) -> None:
        """Every invariant holds on the server's trace so far."""
        report = self._check()
        if not report.ok:
            raise ServerViolated(report)

    def teardown(self) -> None:
        """Drive the server to idle: every invariant, and every job the client got ends once."""
        try:
            self.door.settle()
            report = self._check(settled=True)
            finals: dict[str, int] = {}
            for view in self.monitor.state.jobs.values():
                finals[view.id] = int(view.state in FINAL)
            for job in self.jobs:
                jid = job.job_id()
                if finals.get(jid) != 1:
                    report.violations.append(Violation(
                        "INV-CONSERVATION", self.monitor.state.now,
                        f"job {jid}, which the client received, "
                        f"{'is not in the trace' if jid not in finals else 'never ended'}"))
            if not report.ok:
                raise ServerViolated(report)
        finally:
            self.door.close()

