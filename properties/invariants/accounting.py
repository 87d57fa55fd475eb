"""The accounting invariants: what sessions are billed and what instances are charged."""

from __future__ import annotations

import bisect
import math

from qsession.model import ACTIVE, RUNNING
from qsession.runtime.scheduler import MAX_TIME_ERROR
from qsession.runtime.trace import Record

from ..replay import SESSION_FINAL, JobView, Replay, in_creation_order
from .base import Checker, seconds


class FairShare(Checker):
    """INV-FAIR-SHARE.

    An independent reading of the fair-share rule: this checker keeps its own
    ledger of what each instance was charged (a dedicated session its active
    spans, each until the latest of deactivation, end and its running job's completion;
    batch and job-mode jobs their QPU time unless cancelled or failed by the system),
    counts each span's part inside the window (a span that straddles the window edge
    counts from the edge), and recomputes at every normal-queue dispatch the ratio and the
    choice. It never calls the dispatch rule or the fair-share ledger of the runtime.
    """

    id = "INV-FAIR-SHARE"
    statement = ("the normal queue serves the instance with the least used/allocated share, "
                 "FIFO within it")

    def __init__(self) -> None:
        super().__init__()
        self.ledger: dict[str, list[tuple[int, int]]] = {}  # in end order
        self.first: dict[str, int] = {}  # index of the first span still in the window
        self.total: dict[str, int] = {}  # length of the spans from ``first`` on
        self.longest = 0
        self.open_span: dict[str, int] = {}  # dedicated session id -> activation instant
        self.meter: dict[str, str] = {}  # job id -> its ended session, billed until it ends
        self.window = 28 * 86_400 * 1_000_000
        self.allocations: dict[str, dict[str, float]] = {}  # qpu -> instance -> allocation
        self.quota: dict[str, int] = {}
        self.mode: dict[str, str] = {}
        self.instance: dict[str, str | None] = {}

    def _used(self, instance: str, now: int) -> int:
        """Charged time inside ``(now - window, now]``; a span across the edge counts from it."""
        edge = now - self.window
        spans = self.ledger.get(instance, [])
        k = self.first.get(instance, 0)
        while k < len(spans) and spans[k][1] <= edge:  # wholly left the window, for good
            self.total[instance] -= spans[k][1] - spans[k][0]
            k += 1
        self.first[instance] = k
        used = self.total.get(instance, 0)
        # Spans are kept in end order: only those ending before edge + the longest span
        # can have started before the edge.
        for start, end in spans[k:]:
            if end >= edge + self.longest:
                break
            if start < edge:
                used -= edge - start
        return used

    def _charge(self, instance: str | None, start: int, end: int) -> None:
        if instance is not None and end > start:
            bisect.insort(self.ledger.setdefault(instance, []), (start, end),
                          key=lambda span: span[1])
            self.total[instance] = self.total.get(instance, 0) + end - start
            self.longest = max(self.longest, end - start)

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "qpu" and r.event == "configure" and r.instance is not None:
            alloc = r.data.get("allocation", 1.0)
            self.allocations.setdefault(r.qpu, {})[r.instance] = \
                float(alloc) if isinstance(alloc, int | float) and alloc else 1.0
        elif r.entity == "session":
            self._session(r, state)
        elif r.entity == "job" and r.event == "start":
            self._start(r, state)
        elif r.entity == "job" and r.dest in ("DONE", "ERROR", "CANCELLED"):
            job = state.jobs.get(r.id)
            if job is None or job.state != RUNNING or job.started is None:
                return
            if r.id in self.meter:
                sid = self.meter.pop(r.id)
                self._charge(self.instance.get(sid), self.open_span.pop(sid), r.t)
                return
            session_mode = self.mode.get(job.session or "", "job")
            reason = r.data.get("reason")
            paid = r.event == "finish" or (r.event == "fail" and reason == MAX_TIME_ERROR)
            if session_mode != "dedicated" and paid:
                self._charge(job.instance, job.started, r.t)

    def after(self, r: Record, state: Replay) -> None:
        # The window and quotas as the replay took them (the caller's, where it chose them).
        if r.entity == "qpu" and r.event == "configure":
            self.window = state.window_us
            self.quota = dict(state.quotas)
        elif r.entity == "session" and r.event == "create" and r.id in state.sessions:
            self.mode[r.id] = state.sessions[r.id].mode
            self.instance[r.id] = state.sessions[r.id].instance

    def _session(self, r: Record, state: Replay) -> None:
        if r.event == "create":
            return
        s = state.sessions.get(r.id)
        if s is None or r.dest is None or self.mode.get(r.id) != "dedicated":
            return
        if r.dest == ACTIVE and s.state != ACTIVE:
            self.open_span[r.id] = r.t
        elif s.state == ACTIVE and r.dest != ACTIVE and r.id in self.open_span:
            running = sorted(s.running)
            if r.dest in SESSION_FINAL and running:
                self.meter[running[0]] = r.id  # billed until its running job completes
            else:
                self._charge(self.instance.get(r.id), self.open_span.pop(r.id), r.t)

    def _share(self, qpu: str, instance: str) -> float:
        allocations = self.allocations.get(qpu, {})
        if not allocations:
            return 1.0
        total = sum(allocations.values())
        return allocations.get(instance, 0.0) / total if total else 0.0

    def _start(self, r: Record, state: Replay) -> None:
        dispatch = state.qpu(r.qpu).last_dispatch
        if dispatch is None or dispatch.data.get("job") != r.id or \
                dispatch.data.get("via") != "normal":
            return
        self.checks += 1
        job = state.jobs[r.id]
        heads: dict[str, JobView] = {}
        allocated = self.allocations.get(r.qpu, {}).keys()
        for queued in state.queued_on(r.qpu):
            if state.normal_eligible(queued) and queued.instance not in heads:
                heads[queued.instance] = queued
                if allocated and allocated <= heads.keys():
                    break  # every instance with a share has its head
        over = {i for i in heads if i in self.quota and self._used(i, r.t) >= self.quota[i]}
        if job.instance in over:
            self.fail(r.t, f"job {r.id} of instance {job.instance} started past its quota "
                      f"({self._used(job.instance, r.t) / 1e6:g}s used)", dispatch, r)
        ratios = {i: self._used(i, r.t) / share for i in heads
                  if (share := self._share(r.qpu, i)) > 0 and i not in over}
        reported = dispatch.data.get("share_ratio")
        mine = ratios.get(job.instance)
        if isinstance(reported, int | float) and mine is not None and \
                not math.isclose(reported, mine, rel_tol=1e-9, abs_tol=1e-6):
            self.fail(r.t, f"dispatch of {r.id} reports instance {job.instance}'s share ratio "
                      f"{reported:g}; its charged time in the window over its share is "
                      f"{mine:g} (µs over the allocated fraction)", dispatch, r)
        if not ratios:
            return
        best = min(ratios, key=lambda i: (ratios[i], heads[i].order))
        if heads[best].id != r.id:
            expected = heads[best]
            used = {i: self._used(i, r.t) / 1e6 for i in sorted(ratios)}
            self.fail(r.t, f"normal queue started {r.id} (instance {job.instance}); fair share "
                      f"picks {expected.id} (instance {expected.instance}, least "
                      f"used/allocated, FIFO within it; used in window {used})", dispatch, r)


class Usage(Checker):
    """INV-USAGE."""

    id = "INV-USAGE"
    statement = ("a dedicated session's usage_time equals its active spans, each ending at "
                 "the latest of deactivation, end and its last running job's completion; "
                 "instances are charged as fair share counts it")

    def __init__(self) -> None:
        super().__init__()
        self.bills: dict[str, int] = {}
        self.touched: set[str] = set()
        """Sessions a record named since the last instant: only their spans can have changed."""

    def after(self, r: Record, state: Replay) -> None:
        named = r.id if r.entity == "session" else r.session
        if named is not None:
            self.touched.add(named)
        if r.entity == "qpu" and r.event == "bill" and r.session in state.sessions:
            s = state.sessions[r.session]
            self.checks += 1
            self.bills[s.id] = self.bills.get(s.id, 0) + 1
            billed = r.data.get("usage_us")
            if billed != s.billed_us:
                self.fail(r.t, f"session {s.id} billed {seconds(billed)} but its active spans "
                          f"(each until the latest of deactivation, end and its last running "
                          f"job's end) add up to {s.billed_us / 1e6:g}s", r)
        elif r.entity == "job" and r.dest in ("DONE", "ERROR", "CANCELLED") and \
                r.id in state.jobs and "usage_us" in r.data:
            job = state.jobs[r.id]
            self.checks += 1
            if r.data["usage_us"] != job.usage_us:
                self.fail(r.t, f"job {r.id} ({r.event}) billed {seconds(r.data['usage_us'])}; "
                          f"expected {job.usage_us / 1e6:g}s (its time on the QPU, 0 if the "
                          "system failed it)", r)

    def instant_end(self, t: int, state: Replay) -> None:
        if not self.bills:
            return  # a trace without bill records (hand-written, or older): nothing to match
        touched, self.touched = self.touched, set()
        for s in in_creation_order([state.sessions[i] for i in touched if i in state.sessions]):
            if s.spans_closed != self.bills.get(s.id, 0):
                self.checks += 1
                self.fail(t, f"session {s.id} closed {s.spans_closed} active span(s) but "
                          f"was billed {self.bills.get(s.id, 0)} time(s)")
                self.bills[s.id] = s.spans_closed  # report each gap once
