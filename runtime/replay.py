"""Re-run a recorded virtual-time run from its trace and report the first difference.

The trace holds every user operation (sessions opened, jobs submitted with their modeled
durations, close, cancel, job cancel) with its instant, and whether it was made from a
timer callback; replay redoes them on fresh schedulers configured from the trace's
``configure`` records, with executions replaced by their recorded outcomes (no Aer). A
deterministic runtime reproduces the trace record for record; a difference shows where a
change in the scheduler (or a hand edit of the trace) changed behaviour.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qsession.model import Mode

from .clock import VirtualClock, to_us
from .fairshare import FairShare
from .records import JobRecord, SessionRecord
from .scheduler import MAX_TIME_ERROR, USER_CANCEL, Scheduler
from .service import USER_PRIORITY
from .settings import Instance, Plan, QPUSettings
from .trace import Record, Trace, TraceFormatError

_CREATE_KEYS = ("kind", "duration_us", "time_limit_us", "by", "late")


class ReplayedFailure(Exception):
    """Stands in for an execution failure recorded in the trace (same message)."""

    def __init__(self, job_error: str) -> None:
        super().__init__(job_error)
        self.job_error = job_error


@dataclass(frozen=True)
class Difference:
    """Where the replay first departs from the recording."""

    index: int
    recorded: Record | None
    replayed: Record | None

    def __str__(self) -> str:
        def show(r: Record | None) -> str:
            return "(nothing)" if r is None else str(r.to_json())
        return (f"first difference at record {self.index}:\n  recorded: {show(self.recorded)}"
                f"\n  replayed: {show(self.replayed)}")


@dataclass(frozen=True)
class ReplayResult:
    """The replayed trace and the first difference from the recording (None: identical)."""

    trace: Trace
    difference: Difference | None

    @property
    def identical(self) -> bool:
        """True when the replay reproduced every record."""
        return self.difference is None


class _Replayer:
    """Rebuilds schedulers from a trace and redoes its user operations."""

    def __init__(self, recorded: Trace) -> None:
        if recorded.meta.get("clock", "virtual") != "virtual":
            raise TraceFormatError(
                f"only virtual-time runs replay exactly; this trace ran on the "
                f"{recorded.meta.get('clock')} clock")
        self.recorded = recorded
        self.clock = VirtualClock(recorded.epoch)
        self.trace = Trace(epoch=recorded.epoch, meta=dict(recorded.meta))
        self.ids = itertools.count(1)
        self.fair_share: FairShare | None = None
        self.schedulers: dict[str, Scheduler] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.jobs: dict[str, JobRecord] = {}
        self.failures = {r.id: str(r.data.get("reason", "")) for r in recorded
                         if r.entity == "job" and r.event == "fail"
                         and r.data.get("reason") != MAX_TIME_ERROR}

    def execute(self, payload: Any, seed: int | None) -> Any:
        """The recorded outcome of the job whose id is the payload."""
        error = self.failures.get(str(payload))
        if error is not None:
            raise ReplayedFailure(error)
        return None

    def scheduler(self, qpu: str) -> Scheduler:
        """The scheduler of ``qpu``, configured from the trace on first use."""
        if qpu not in self.schedulers:
            configs = [r for r in self.recorded if r.entity == "qpu" and r.qpu == qpu
                       and r.event == "configure"]
            if not configs:
                raise TraceFormatError(f"the trace has no 'configure' record for QPU {qpu!r}: "
                                       "replay needs the QPU's settings")
            first = configs[0].data
            settings = QPUSettings(
                interactive_timeout=_seconds(first, "interactive_timeout_us"),
                batch_interactive_timeout=_seconds(first, "batch_interactive_timeout_us"),
                fair_share_window=_seconds(first, "fair_share_window_us"),
                instances={str(r.instance): _instance_spec(r.data) for r in configs},
            )
            if self.fair_share is None:  # one ledger for every QPU, as LocalService has
                self.fair_share = FairShare(settings.allocations,
                                            to_us(settings.fair_share_window))
            self.schedulers[qpu] = Scheduler(qpu, self.clock, self.trace, settings,
                                             self.execute, ids=self.ids,
                                             fair_share=self.fair_share)
        return self.schedulers[qpu]

    def operation(self, index: int, r: Record) -> Callable[[], None] | None:
        """The user operation a record shows, as a call to redo (None: not a user call).

        A record that cannot be redone (it names a session or job the trace never
        created, an instance the QPU was not configured with, ...) raises
        ``TraceFormatError`` naming its line.
        """
        act: Callable[[], None] | None = None
        if r.entity == "session" and r.event == "create":
            act = lambda: self._open(r)  # noqa: E731 - one of four small actions
        elif r.entity == "job" and r.event == "create":
            act = lambda: self._submit(r)  # noqa: E731
        elif r.entity == "session" and r.event in ("close", "cancel"):
            act = lambda: self._end_session(r)  # noqa: E731
        elif r.entity == "job" and r.event == "cancel" and str(
                r.data.get("reason", "")).startswith(USER_CANCEL):
            act = lambda: self.scheduler(r.qpu).cancel_job(self._known(self.jobs, r.id, r))  # noqa: E731
        if act is None:
            return None
        where = self.recorded.where(index)

        def redo() -> None:
            try:
                act()
            except TraceFormatError as err:
                raise TraceFormatError(f"{where}: {err}") from None
            except Exception as err:
                raise TraceFormatError(f"{where}: this {r.entity} {r.event} cannot be redone "
                                       f"as recorded ({type(err).__name__}: {err})") from None
        return redo

    def _known(self, table: dict[str, Any], key: str, r: Record) -> Any:
        if key not in table:
            kind = "job" if table is self.jobs else "session"
            raise TraceFormatError(f"{r.entity} {r.id} {r.event} names {kind} {key!r}, which "
                                   "the trace never created")
        return table[key]

    def _instance(self, r: Record) -> str:
        instances = self.scheduler(r.qpu).settings.instances
        if r.instance not in instances:
            raise TraceFormatError(
                f"{r.entity} {r.id} is billed to instance {r.instance!r}, which QPU {r.qpu!r} "
                f"was not configured with ({', '.join(map(repr, instances))})")
        return str(r.instance)

    def _open(self, r: Record) -> None:
        mode: Mode = "batch" if r.data.get("mode") == "batch" else "dedicated"
        idle = r.data.get("idle_close_timeout_us")
        max_time, ittl = _positive(r, "max_time_us"), _positive(r, "interactive_timeout_us")
        s = self.scheduler(r.qpu).open_session(
            mode, max_time_us=max_time, ittl_us=ittl, instance=self._instance(r),
            idle_close_us=idle if isinstance(idle, int) and not isinstance(idle, bool)
            else False)
        self.sessions[r.id] = s

    def _submit(self, r: Record) -> None:
        data = {k: v for k, v in r.data.items() if k not in _CREATE_KEYS}
        limit = r.data.get("time_limit_us")
        session = self._known(self.sessions, r.session, r) if r.session else None
        job = self.scheduler(r.qpu).submit(
            session, instance=self._instance(r) if session is None else session.instance,
            kind=str(r.data.get("kind", "null")), payload=r.id,  # type: ignore[arg-type]
            duration_us=_positive(r, "duration_us"),
            time_limit_us=int(limit) if isinstance(limit, int) else None,
            **data)  # type: ignore[arg-type]
        self.jobs[r.id] = job

    def _end_session(self, r: Record) -> None:
        scheduler = self.scheduler(r.qpu)
        session = self._known(self.sessions, r.id, r)
        (scheduler.close if r.event == "close" else scheduler.cancel)(session)

    def run(self) -> Trace:
        """Redo every operation at its instant, then let time run to the last record."""
        records = list(self.recorded)
        for r in records:
            if r.entity == "qpu" and r.event == "configure":
                self.scheduler(r.qpu)
        for index, r in enumerate(records):
            op = self.operation(index, r)
            if op is None:
                continue
            if r.data.get("by") == "callback":
                at = max(r.t, self.clock.now())
                if r.data.get("late") is True:
                    # It ran after the instant had settled: settle it here too first.
                    self.clock.advance_to(at)
                    if self.clock.settled_at != at:
                        self.clock.call_at(at, _nothing, priority=USER_PRIORITY)
                        self.clock.advance_to(at)
                self.clock.call_at(at, op, priority=USER_PRIORITY, label="replayed callback")
            else:
                self.clock.advance_to(max(r.t, self.clock.now()))
                op()
        if records:
            self.clock.advance_to(max(records[-1].t, self.clock.now()))
        return self.trace


def replay(recorded: Trace) -> ReplayResult:
    """Re-run ``recorded`` and compare, record by record."""
    replayed = _Replayer(recorded).run()
    a, b = recorded.records, replayed.records
    for i, (x, y) in enumerate(itertools.zip_longest(a, b)):
        if x != y:
            return ReplayResult(replayed, Difference(i, x, y))
    return ReplayResult(replayed, None)


def _instance_spec(data: Any) -> Instance:
    """An instance as its configure record gives it: allocation, plan, quota."""
    quota = data.get("quota_us")
    plan: Plan = "open" if data.get("plan") == "open" else "premium"
    return Instance(allocation=float(data.get("allocation") or 1.0), plan=plan,
                    quota=quota / 1e6 if isinstance(quota, int) else None)


def _nothing() -> None:
    """A timer that only makes its instant settle (its hooks run)."""


def _positive(r: Record, key: str) -> int:
    value = r.data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TraceFormatError(f"{r.entity} {r.id} {r.event} needs a positive data.{key}, "
                               f"not {value!r}")
    return value


def _seconds(data: Any, key: str) -> float:
    value = data.get(key)
    if not isinstance(value, int) or value <= 0:
        raise TraceFormatError(f"configure record lacks a positive {key!r}")
    return value / 1e6
