"""One service under test: build it, settle it when the test's code is done, and judge it.

Judging means two things. Every invariant holds on the trace
(``qsession.properties.invariants.check``), and the code under test closed what it
opened: IBM's guides say "Always close your session, either by using a context manager or
by specifying session.close()" (Execution modes changes, best practices:
https://docs.quantum.ibm.com/api/migration-guides/sessions), and the batch guide closes
its batch the same way (https://quantum.cloud.ibm.com/docs/guides/run-jobs-batch). A
session left open keeps its QPU reserved for the interactive timeout and its max-TTL
clock running, which a user pays for on IBM's service.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qsession.properties.invariants import Report, Violation
    from qsession.runtime import LocalService
    from qsession.runtime.ibm.workload import Background

    from .settings import ServiceConfig

MAX_LISTED = 10
"""Violations listed in a failure message (the trace file has them all)."""


_RUNS: weakref.WeakKeyDictionary[Any, weakref.ref[Run]] = weakref.WeakKeyDictionary()
"""The run of each service the plugin made (to tell the test's sessions from tenants');
weak both ways, so that neither keeps the other's trace alive after the test."""


def run_of(service: Any) -> Run | None:
    """The plugin's run of ``service``, if the plugin made it."""
    ref = _RUNS.get(service)
    return None if ref is None else ref()


class SessionCheckFailed(AssertionError):
    """The code under test broke an invariant or left a session open (the message lists why)."""


@dataclass
class Run:
    """A service a test runs its code on, and what the plugin knows about where it came from."""

    service: LocalService
    origin: str
    """How to get this service again (its seed, or the Hypothesis condition)."""
    label: str = "service"
    """What the report calls it: the fixture's ``service`` or ``perturbed()``'s example."""
    background: Background | None = None
    allow_open_sessions: bool = False
    report: Report | None = None
    problems: list[str] = field(default_factory=list)
    """One entry per problem: a line, then the records that show it, if any."""
    finished: bool = False
    first_seq: int = 0
    """The first record of this test's (a shared server's trace holds earlier tests' too):
    only violations shown by later records, and sessions created since, are its problems."""

    def __post_init__(self) -> None:
        _RUNS[self.service] = weakref.ref(self)

    @property
    def tenant_sessions(self) -> set[str]:
        """Ids of the sessions the background tenants opened (theirs, not the test's)."""
        return set() if self.background is None else set(self.background.session_ids)

    def finish(self) -> list[str]:
        """Settle the service once the test's code is done; the problems found (empty: fine).

        Background arrivals still to come are dropped and the tenants close their sessions;
        then, on a virtual or measured clock, the service runs until no job is queued or
        running (an idle open session is not run into its max TTL).
        """
        if self.finished:
            return self.problems
        from qsession.properties.invariants import check

        self.finished = True
        if self.background is not None:
            self.background.cancel()
            for session in self.background.submitted.sessions:
                session.close()
        settled = self.service.clock.kind != "wall"
        if settled:
            self.service.run_until_idle()
        self.report = check(self.service.trace, settled=settled)
        ours = [v for v in self.report.violations
                if not v.records or any(r.seq >= self.first_seq for r in v.records)]
        self.problems = violation_entries(ours)
        if not self.allow_open_sessions:
            self.problems += open_session_lines(self)
        return self.problems

    def failure_message(self) -> str:
        """The message a test fails with when ``finish()`` found problems."""
        return (f"qsession: {len(self.problems)} problem(s) in the session code's run "
                f"({self.origin}):\n" + "\n".join(self.problems))


def violation_entries(violations: list[Violation]) -> list[str]:
    """Each violation, followed by the trace records that show it (JSON, as in the file)."""
    import json

    entries = []
    for v in violations[:MAX_LISTED]:
        records = "".join(f"\n      {json.dumps(r.to_json(), sort_keys=True)}"
                          for r in v.records)
        entries.append(f"  {v}{records}")
    if len(violations) > MAX_LISTED:
        entries.append(f"  ... and {len(violations) - MAX_LISTED} more violation(s); "
                       "the trace file has them all")
    return entries


def open_session_lines(run: Run) -> list[str]:
    """A line per session or batch of the test's code that still accepts jobs."""
    from qsession.properties.replay import Replay

    replay = Replay()
    created_before: set[str] = set()
    for record in run.service.trace:
        replay.apply(record)
        if record.entity == "session" and record.event == "create" \
                and record.seq < run.first_seq:
            created_before.add(record.id)
    tenants = run.tenant_sessions | created_before
    lines = []
    # IBM: "Always close your session, either by using a context manager or by specifying
    # session.close()" (https://docs.quantum.ibm.com/api/migration-guides/sessions).
    for s in replay.sessions.values():
        if s.id in tenants or s.is_final or not s.accepting:
            continue
        kind = "Session" if s.mode == "dedicated" else "Batch"
        lines.append(
            f"  {kind} {s.id} on {s.qpu} was left open ({s.state}, accepting jobs): close it "
            f"(`with {kind}(...) as ...:` or `.close()`), as IBM's guides say to always do; "
            "or allow it with @pytest.mark.qsession(allow_open_sessions=True)")
    return lines


def start(config: ServiceConfig) -> Run:
    """Build the service a test's marker and options describe, with its tenants installed."""
    from qsession.runtime import LocalService

    service = LocalService(clock=config.clock, seed=config.seed,  # type: ignore[arg-type]
                           **config.service_kwargs)
    run = Run(service, f"seed {config.seed}, {config.seed_origin}; clock {config.clock}",
              allow_open_sessions=config.allow_open_sessions)
    try:
        run.background = _background(service, config.tenants, config.seed)
    except BaseException:
        service.close()
        raise
    return run


def _background(service: LocalService, tenants: Any, seed: int) -> Background | None:
    from qsession.runtime.ibm.workload import Background, Workload, WorkloadSpec, generate

    from .settings import MarkerError

    if tenants is None or tenants == 0:
        return None
    if isinstance(tenants, bool) or not isinstance(tenants, int | WorkloadSpec | Workload) \
            or (isinstance(tenants, int) and tenants < 0):
        raise MarkerError(
            "@pytest.mark.qsession(tenants=...) takes a number of background tenants, a "
            f"qsession.runtime.ibm.workload.WorkloadSpec or a Workload, not {tenants!r}")
    if isinstance(tenants, int):
        tenants = WorkloadSpec(tenants=tenants)
    workload = tenants if isinstance(tenants, Workload) else generate(seed, tenants)
    background = Background(service, workload)
    background.install()
    return background


def verify(run: Run) -> None:
    """Finish ``run``; raise ``SessionCheckFailed`` listing its problems if it has any."""
    if run.finish():
        raise SessionCheckFailed(run.failure_message())
