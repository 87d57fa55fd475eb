"""The accounting invariants: what sessions are billed and what instances are charged."""

from __future__ import annotations

import math

from qsession.runtime import Record

from ..replay import JobView, Replay, in_creation_order
from .base import Checker, seconds


class FairShare(Checker):
    """INV-FAIR-SHARE.

    An independent reading of the fair-share rule: the trace's replay (``properties.replay``)
    keeps its own ledger of what each instance was charged (a dedicated session its active
    spans, each until the latest of deactivation, end and its running job's completion;
    batch and job-mode jobs their QPU time unless cancelled or failed by the system) and
    counts each span's part inside the window (a span that straddles the window edge counts
    from the edge); this checker recomputes at every normal-queue dispatch the ratio and the
    choice from it. It never calls the dispatch rule or the fair-share ledger of the runtime.
    """

    id = "INV-FAIR-SHARE"
    statement = ("the normal queue serves the instance with the least used/allocated share, "
                 "FIFO within it")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.event == "start":
            self._start(r, state)

    def _start(self, r: Record, state: Replay) -> None:
        dispatch = state.qpu(r.qpu).last_dispatch
        if dispatch is None or dispatch.data.get("job") != r.id or \
                dispatch.data.get("via") != "normal":
            return
        self.checks += 1
        job = state.jobs[r.id]
        heads: dict[str, JobView] = {}
        allocated = state.qpu(r.qpu).allocations.keys()
        for queued in state.queued_on(r.qpu):
            if state.normal_eligible(queued) and queued.instance not in heads:
                heads[queued.instance] = queued
                if allocated and allocated <= heads.keys():
                    break  # every instance with a share has its head
        over = {i for i in heads if state.over_quota(i, r.t)}
        if job.instance in over:
            self.fail(r.t, f"job {r.id} of instance {job.instance} started past its quota "
                      f"({state.used(job.instance, r.t) / 1e6:g}s used)", dispatch, r)
        qpu = state.qpu(r.qpu)
        ratios = {i: state.used(i, r.t) / share for i in heads
                  if (share := qpu.share(i)) > 0 and i not in over}
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
            used = {i: state.used(i, r.t) / 1e6 for i in sorted(ratios)}
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
            if "charged_us" in r.data:
                self._charged(r, job)

    def _charged(self, r: Record, job: JobView) -> None:
        """What a job end's record says it charged against this reading's own account."""
        recorded = r.data["charged_us"]
        if recorded != job.charged_us:
            self.fail(r.t, f"job {r.id} ({r.event}, {job.reason or 'no reason'}) charged its "
                      f"instance {seconds(recorded)}; expected {job.charged_us / 1e6:g}s (a "
                      "batch or job-mode job's QPU time when it completed or hit its time "
                      "limit; nothing when cancelled or failed, or in a dedicated session)", r)
        elif job.charged_us and r.data.get("from_us") != job.started:
            self.fail(r.t, f"job {r.id}'s charged span starts at "
                      f"{seconds(r.data.get('from_us'))}, not at its start "
                      f"{seconds(job.started)}", r)

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
