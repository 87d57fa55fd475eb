"""The caller's own configuration, as a source of truth beside the trace.

A check that reads a session's ``max_time`` from the session's own creation record cannot
see a bug that writes the wrong value there: the record is wrong and the expectation with
it. ``Expected`` holds what the test itself chose — each session's QPU, mode, instance,
interactive timeout, ``max_time`` and idle-close timeout; each job's QPU, session, instance,
modeled duration and ``max_execution_time``; each instance's plan quota and the
fair-share window — and the trace replay (``Replay(expected=...)``) takes those values in
place of the records', so every invariant checks the behaviour the caller asked for.
``record_violations`` reports a record that disagrees with the choice (under the invariant
that owns the value) and ``job_violations`` the jobs whose time on the QPU is not the one
the timing model gives for their pubs (INV-DURATION).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qsession.model import CANCELLED, DONE, ERROR
from qsession.runtime import Record
from qsession.runtime.engine.clock import to_us
from qsession.runtime.engine.scheduler import MAX_TIME_ERROR

from .invariants.base import Violation


@dataclass(frozen=True)
class SessionChoice:
    """What the test asked for when it opened a session or batch."""

    qpu: str
    mode: str
    instance: str
    ittl_us: int
    max_time_us: int
    idle_close_us: int | None


@dataclass(frozen=True)
class JobChoice:
    """What the test asked for when it submitted a job, and the time the pubs must take."""

    qpu: str
    session: str | None
    instance: str
    duration_us: int | None
    limit_us: int | None


@dataclass(frozen=True)
class Timing:
    """The timing model's constants as the test set them, and its grid (0 for none).

    Kept apart from the runtime's ``TimingModel`` on purpose: ``job_us`` is the published
    formula written out again, one sub-job per pub.
    """

    overhead_s: float
    rep_delay_s: float
    init_s: float = 0.0
    grid_s: float = 0.0

    def job_us(self, pubs: Sequence[tuple[float, int, int]]) -> int:
        """A job's QPU time from its pubs' (circuit seconds, shots, parameter sets)."""
        terms = [len(pubs) * self.overhead_s]
        for seconds, shots, sets in pubs:
            terms.extend([shots * (self.rep_delay_s + seconds + self.init_s)] * sets)
        raw = max(1, to_us(math.fsum(terms)))
        if not self.grid_s:
            return raw
        grid = to_us(self.grid_s)
        return math.ceil(raw / grid) * grid


@dataclass
class Expected:
    """What the test configured: sessions and jobs by id, instance quotas, the window."""

    sessions: dict[str, SessionChoice] = field(default_factory=dict)
    jobs: dict[str, JobChoice] = field(default_factory=dict)
    quotas: dict[str, int] = field(default_factory=dict)
    window_us: int | None = None
    checks: int = 0

    def session_fields(self, r: Record) -> dict[str, Any]:
        """The session-create fields the replay uses: the choice's where the test made one."""
        chosen = self.sessions.get(r.id)
        if chosen is None:
            return {}
        return {"qpu": chosen.qpu, "mode": chosen.mode, "instance": chosen.instance,
                "ittl_us": chosen.ittl_us, "max_time_us": chosen.max_time_us,
                "idle_close_us": chosen.idle_close_us}

    def record_violations(self, r: Record) -> list[Violation]:
        """A create or configure record that disagrees with what the test chose."""
        out: list[Violation] = []

        def differs(invariant: str, what: str, recorded: object, chosen: object) -> None:
            if recorded != chosen:
                out.append(Violation(invariant, r.t, f"{r.entity} {r.id}: the trace records "
                                     f"{what}={recorded!r}; the caller chose {chosen!r}", (r,)))

        if r.entity == "session" and r.event == "create" and r.id in self.sessions:
            self.checks += 1
            s = self.sessions[r.id]
            differs("INV-PRIORITY", "qpu", r.qpu, s.qpu)
            differs("INV-BATCH-NO-HOLD", "mode", r.data.get("mode"), s.mode)
            differs("INV-FAIR-SHARE", "instance", r.instance, s.instance)
            differs("INV-ITTL", "interactive_timeout_us", r.data.get("interactive_timeout_us"),
                    s.ittl_us)
            differs("INV-CLOCK", "max_time_us", r.data.get("max_time_us"), s.max_time_us)
            differs("INV-IDLE-CLOSE", "idle_close_timeout_us",
                    r.data.get("idle_close_timeout_us"), s.idle_close_us)
        elif r.entity == "job" and r.event == "create" and r.id in self.jobs:
            self.checks += 1
            j = self.jobs[r.id]
            differs("INV-CONSERVATION", "qpu", r.qpu, j.qpu)
            differs("INV-CONSERVATION", "session", r.session, j.session)
            differs("INV-FAIR-SHARE", "instance", r.instance, j.instance)
            if j.duration_us is not None:
                differs("INV-DURATION", "duration_us", r.data.get("duration_us"),
                        j.duration_us)
            if j.limit_us is not None:
                differs("INV-DURATION", "time_limit_us", r.data.get("time_limit_us"),
                        j.limit_us)
        elif r.entity == "qpu" and r.event == "configure" and r.instance in self.quotas:
            self.checks += 1
            differs("INV-FAIR-SHARE", f"quota_us of {r.instance}", r.data.get("quota_us"),
                    self.quotas[r.instance])
            if self.window_us is not None:
                differs("INV-FAIR-SHARE", "fair_share_window_us",
                        r.data.get("fair_share_window_us"), self.window_us)
        return out

    def job_violations(self, ended: Iterable[tuple[str, str, int | None, int, str | None]]
                       ) -> list[Violation]:
        """INV-DURATION for final jobs ``(id, state, started, finished, reason)``.

        A job that completed held the QPU for exactly the time its pubs take, which is at
        most its ``max_execution_time``; one stopped at that limit held it for exactly the
        limit, and only if its pubs take longer.
        """
        out: list[Violation] = []
        for jid, state, started, finished, reason in ended:
            chosen = self.jobs.get(jid)
            if chosen is None or started is None or chosen.duration_us is None:
                continue
            self.checks += 1
            held = finished - started
            need, limit = chosen.duration_us, chosen.limit_us
            stopped = state == ERROR and reason == MAX_TIME_ERROR
            if state == DONE and held != need:
                out.append(Violation("INV-DURATION", finished, f"job {jid} completed after "
                                     f"{held / 1e6:g}s on the QPU; its pubs take "
                                     f"{need / 1e6:g}s"))
            if state == DONE and limit is not None and need > limit:
                out.append(Violation("INV-DURATION", finished, f"job {jid} completed although "
                                     f"its pubs take {need / 1e6:g}s, over its "
                                     f"max_execution_time of {limit / 1e6:g}s"))
            if stopped and (limit is None or held != limit or need <= limit):
                out.append(Violation("INV-DURATION", finished, f"job {jid} was stopped at its "
                                     f"max_execution_time after {held / 1e6:g}s; the limit is "
                                     f"{'none' if limit is None else f'{limit / 1e6:g}s'} and "
                                     f"its pubs take {need / 1e6:g}s"))
            if state == CANCELLED and held > need:
                out.append(Violation("INV-DURATION", finished, f"job {jid} held the QPU "
                                     f"{held / 1e6:g}s before it was cancelled; its pubs take "
                                     f"{need / 1e6:g}s"))
        return out
