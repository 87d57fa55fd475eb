"""Re-run a recorded virtual-time run from its trace and report the first difference.

The trace holds every user operation (sessions opened, jobs submitted with their modeled
durations and seeds, close, cancel, job cancel, tag updates, deletions) and every restart
of the platform with its instant, and whether it was made from a timer callback; replay
redoes them on fresh schedulers configured from the trace's
``configure`` records, with executions replaced by their recorded outcomes (no Aer). A
deterministic runtime reproduces the trace record for record; a difference shows where a
change in the scheduler (or a hand edit of the trace) changed behaviour.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from qsession.model import Mode

from .clock import VirtualClock, to_us
from .fairshare import FairShare
from .ids import scheme_from_spec
from .platform import USER_PRIORITY, Platform
from .records import JobRecord, SessionRecord
from .scheduler import MAX_TIME_ERROR, RESTART_ERROR, USER_CANCEL, Scheduler
from .settings import Instance, Plan, QPUSettings
from .trace import Record, Trace, TraceFormatError

_CREATE_KEYS = ("kind", "duration_us", "time_limit_us", "by", "late", "seed", "tags")


class ReplayedFailure(Exception):
    """Stands in for an execution failure recorded in the trace (same message)."""

    def __init__(self, job_error: str) -> None:
        super().__init__(job_error)
        self.job_error = job_error


@dataclass(frozen=True)
class Recorded:
    """A replayed job's payload: its inputs are not in the trace, only its recorded outcome."""

    job_id: str


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
    """Rebuilds schedulers from a trace and redoes its user operations.

    With ``target`` (a fresh service built as the recording one was) it drives that
    service's clock and schedulers instead of its own: that is how a platform recovers
    (``runtime.recovery``). Measured-time traces replay too: their instants are recorded.
    """

    def __init__(self, recorded: Trace, target: Platform | None = None) -> None:
        kinds = ("virtual",) if target is None else ("virtual", "measured")
        if recorded.meta.get("clock", "virtual") not in kinds:
            raise TraceFormatError(
                f"only virtual-time runs replay exactly; this trace ran on the "
                f"{recorded.meta.get('clock')} clock")
        try:
            self.names = scheme_from_spec(recorded.meta.get("ids"))
        except ValueError as err:
            raise TraceFormatError(f"trace header: {err}") from None
        self.recorded = recorded
        self.target = target
        self.sessions: dict[str, SessionRecord] = {}
        self.jobs: dict[str, JobRecord] = {}
        self.schedulers: dict[str, Scheduler] = {}
        self.fair_share: FairShare | None = None
        if target is None:
            self.clock: VirtualClock = VirtualClock(recorded.epoch)
            self.trace = Trace(epoch=recorded.epoch, meta=dict(recorded.meta))
            self.ids: Iterator[int] = itertools.count(1)
        else:
            if not isinstance(target.clock, VirtualClock):
                raise TraceFormatError(f"a {target.clock.kind}-clock service cannot be rebuilt "
                                       "from a trace (virtual and measured clocks can)")
            self.clock = target.clock
            self.trace = target.trace
            self.ids = target.sequence
            self.fair_share = target.fair_share
            self.schedulers = dict(target.schedulers)
        # Jobs the trace shows failing in execution replay that failure; a job stopped at
        # its limit or by a restart is ended by the replayed scheduler itself.
        self.create_tags = {str(r.data.get("job")): tuple(_tag_list(r)) for r in recorded
                            if r.event == "job_tags" and r.data.get("on_create") is True}
        self.failures = {r.id: str(r.data.get("reason", "")) for r in recorded
                         if r.entity == "job" and r.event == "fail"
                         and r.data.get("reason") not in (MAX_TIME_ERROR, RESTART_ERROR)}
        self.initial = _initial_configuration(recorded)
        """The ``configure`` records a service writes when it is built; later ones record
        a tenant that appeared during the run, and are redone as operations."""
        self.initial_seqs = {r.seq for r in self.initial}

    def execute(self, payload: Any, seed: int | None) -> Any:
        """The recorded outcome of the job the payload stands for."""
        error = self.failures.get(payload.job_id if isinstance(payload, Recorded) else "")
        if error is not None:
            raise ReplayedFailure(error)
        return None

    def scheduler(self, qpu: str) -> Scheduler:
        """The scheduler of ``qpu``, configured from the trace on first use."""
        if qpu not in self.schedulers and self.target is not None:
            raise TraceFormatError(f"the trace names QPU {qpu!r}, which this service does not "
                                   f"have ({', '.join(self.schedulers)})")
        if qpu not in self.schedulers:
            configs = [r for r in self.initial if r.qpu == qpu]
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
                                             fair_share=self.fair_share, names=self.names)
            self.schedulers[qpu].inline_executions = True
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
        elif r.entity == "qpu" and r.event == "configure" and self._added_later(r):
            act = lambda: self._add_instance(r)  # noqa: E731
        elif r.entity == "qpu" and r.event in ("job_tags", "job_delete", "restart") \
                and r.data.get("on_create") is not True:  # that one is the create's own
            act = lambda: self._platform(r)  # noqa: E731
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
        if s.id != r.id:
            raise TraceFormatError(f"session {r.id} was named {s.id} when redone: the trace's "
                                   "ids do not follow its id scheme")
        self.sessions[r.id] = s

    def _submit(self, r: Record) -> None:
        data = {k: v for k, v in r.data.items() if k not in _CREATE_KEYS}
        limit, seed, tags = r.data.get("time_limit_us"), r.data.get("seed"), r.data.get("tags")
        exact = self.create_tags.get(r.id)  # tags with commas: the list recorded beside
        session = self._known(self.sessions, r.session, r) if r.session else None
        job = self.scheduler(r.qpu).submit(
            session, instance=self._instance(r) if session is None else session.instance,
            kind=str(r.data.get("kind", "null")), payload=Recorded(r.id),  # type: ignore[arg-type]
            duration_us=_positive(r, "duration_us"),
            time_limit_us=int(limit) if isinstance(limit, int) else None,
            seed=seed if isinstance(seed, int) else None,
            tags=exact if exact is not None else tuple(tags.split(",")) if isinstance(
                tags, str) and tags else (),
            **data)
        if job.id != r.id:
            raise TraceFormatError(f"job {r.id} was named {job.id} when redone: the trace's "
                                   "ids do not follow its id scheme")
        self.jobs[r.id] = job

    def _added_later(self, r: Record) -> bool:
        """Whether a ``configure`` record shows a tenant added during the run (not built in).

        A target service knows the tenants it was built with, so any other one was added;
        on its own, a replay tells them by the records' place (``_initial_configuration``).
        """
        if self.target is None:
            return r.seq not in self.initial_seqs
        return r.instance not in self.scheduler(r.qpu).settings.instances

    def _add_instance(self, r: Record) -> None:
        """A tenant that appeared during the run: every QPU learns it (one record each)."""
        name, spec = str(r.instance), _instance_spec(r.data)
        if self.target is not None:
            self.target.add_instance(name, spec)  # all QPUs at once; the later records: known
        else:
            self.scheduler(r.qpu).add_instance(name, spec)

    def _platform(self, r: Record) -> None:
        """A tag update, a deletion or a restart, as the platform recorded it."""
        scheduler = self.scheduler(r.qpu)
        if r.event == "restart":
            restarts = r.data.get("restarts")
            scheduler.restart(restarts if isinstance(restarts, int) else 0)
            return
        job = self._known(self.jobs, str(r.data.get("job")), r)
        if r.event == "job_delete":
            scheduler.delete_job(job)
            return
        scheduler.set_tags(job, _tag_list(r))

    def _end_session(self, r: Record) -> None:
        scheduler = self.scheduler(r.qpu)
        session = self._known(self.sessions, r.id, r)
        (scheduler.close if r.event == "close" else scheduler.cancel)(session)

    def run(self, until: int | None = None) -> Trace:
        """Redo every operation at its instant, then let time run to the last record
        (or to ``until``, if later)."""
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
        end = max([r.t for r in records[-1:]] + [until or 0, self.clock.now()])
        self.clock.advance_to(end)
        return self.trace


def replay(recorded: Trace) -> ReplayResult:
    """Re-run ``recorded`` and compare, record by record."""
    replayed = _Replayer(recorded).run()
    a, b = recorded.records, replayed.records
    for i, (x, y) in enumerate(itertools.zip_longest(a, b)):
        if x != y:
            return ReplayResult(replayed, Difference(i, x, y))
    return ReplayResult(replayed, None)


def _initial_configuration(recorded: Trace) -> list[Record]:
    """The leading ``configure`` records a service writes when built: each QPU's in one run,
    QPU after QPU. A QPU that appears again starts a tenant added later."""
    initial: list[Record] = []
    done: set[str] = set()
    for r in recorded:
        if r.entity != "qpu" or r.event != "configure":
            break
        if initial and r.qpu != initial[-1].qpu:
            done.add(initial[-1].qpu)
        if r.qpu in done:
            break
        initial.append(r)
    if not initial:  # a hand-written trace may configure later: take each QPU's all
        initial = [r for r in recorded if r.entity == "qpu" and r.event == "configure"]
    return initial


def _tag_list(r: Record) -> list[str]:
    """The tags a ``job_tags`` record carries (a JSON list of strings)."""
    try:
        tags = json.loads(str(r.data.get("tags")))
    except ValueError:
        tags = None
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise TraceFormatError(f"job_tags of {r.data.get('job')}: data.tags must be a JSON "
                               f"list of strings, not {r.data.get('tags')!r}")
    return tags


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
