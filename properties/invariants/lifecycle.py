"""The lifecycle invariants: what session and job events may do, and when timers fire."""

from __future__ import annotations

from collections.abc import Iterable

from qsession.model import (
    ACTIVE,
    CANCELLED,
    ERROR,
    QUEUED,
    JobLifecycle,
    SessionLifecycle,
    TransitionRefused,
)
from qsession.runtime import Record
from qsession.runtime.engine.scheduler import USER_CANCEL

from ..replay import JobView, Replay, SessionView, in_creation_order
from .base import Checker, Deadline, EndsQueued


class ActiveOne(Checker):
    """INV-ACTIVE-ONE."""

    id = "INV-ACTIVE-ONE"
    statement = "at most one active dedicated session (not batch) per QPU at any instant"

    def after(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.dest == ACTIVE:
            self.checks += 1
            active = [s.id for s in in_creation_order(state.active_on(r.qpu))
                      if s.dedicated_active]
            if len(active) > 1:
                self.fail(r.t, f"{len(active)} dedicated sessions active on {r.qpu}: {active}", r)


class MaxTTLNoStart(Checker):
    """INV-MAXTTL-NOSTART."""

    id = "INV-MAXTTL-NOSTART"
    statement = "no job of a session starts at or after started_at + max_time"

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.event == "start" and r.session in state.sessions:
            s = state.sessions[r.session]
            self.checks += 1
            if s.started_at is not None and r.t >= s.started_at + s.max_time_us:
                self.fail(r.t, f"job {r.id} of session {s.id} started "
                          f"{(r.t - s.started_at - s.max_time_us) / 1e6:g}s after its max TTL "
                          f"(started_at + max_time = {(s.started_at + s.max_time_us) / 1e6:g}s)",
                          r)


class ExpireFailsQueued(EndsQueued):
    """INV-EXPIRE-FAILS-QUEUED."""

    id = "INV-EXPIRE-FAILS-QUEUED"
    statement = "at expiry every queued job of the session becomes ERROR at that instant"
    trigger = "max_time_reached"
    required = ERROR


class Cancel(EndsQueued):
    """INV-CANCEL."""

    id = "INV-CANCEL"
    statement = "cancel(): every queued job of the session becomes CANCELLED at that instant"
    trigger = "cancel"
    required = CANCELLED


class RunningCompletes(Checker):
    """INV-RUNNING-COMPLETES."""

    id = "INV-RUNNING-COMPLETES"
    statement = ("a job running when its session expires or is canceled completes normally")

    def __init__(self) -> None:
        super().__init__()
        self.watch: dict[str, Record] = {}

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.event in ("max_time_reached", "cancel"):
            s = state.sessions.get(r.id)
            for jid in sorted(s.running if s else ()):
                self.watch[jid] = r
        elif r.entity == "job" and r.id in self.watch and r.dest is not None:
            cause = self.watch.pop(r.id)
            self.checks += 1
            job = state.jobs[r.id]
            reason = r.data.get("reason")
            user = isinstance(reason, str) and reason.startswith(USER_CANCEL)
            end = (None if job.started is None or job.duration_us is None
                   else job.started + job.duration_us)
            # On the wall clock a simulation slower than real time ends the run after its
            # modeled end (never before); virtual and measured time end it exactly there.
            on_time = end is not None and (r.t >= end if state.clock == "wall" else r.t == end)
            if r.event == "finish" and not on_time:
                self.fail(r.t, f"job {r.id} running at its session's {cause.event} finished at "
                          f"{r.t / 1e6:g}s, not at the end of its run", cause, r)
            elif r.event not in ("finish", "fail") and not (r.event == "cancel" and user):
                self.fail(r.t, f"job {r.id} was running when session {cause.id} got "
                          f"{cause.event}; it must run to completion, but it was {r.event}ed",
                          cause, r)


class ClosedRejects(Checker):
    """INV-CLOSED-REJECTS."""

    id = "INV-CLOSED-REJECTS"
    statement = "a session not accepting jobs creates no new job"

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.event == "create" and r.session is not None:
            self.checks += 1
            s = state.sessions.get(r.session)
            if s is not None and (not s.accepting or s.is_final):
                self.fail(r.t, f"job {r.id} was created in session {s.id}, which is {s.state} "
                          "and does not accept jobs", r)


class CloseDrains(Checker):
    """INV-CLOSE-DRAINS."""

    id = "INV-CLOSE-DRAINS"
    statement = ("after close(), queued jobs still run (until max TTL); closed exactly when "
                 "the last finishes")

    def __init__(self) -> None:
        super().__init__()
        self.reported: set[str] = set()
        self.dropped: dict[str, list[Record]] = {}

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "job" and r.dest in (ERROR, CANCELLED) and r.session in state.sessions:
            s = state.sessions[r.session]
            job = state.jobs.get(r.id)
            if job is None or job.state != QUEUED or s.is_final:
                return
            reason = r.data.get("reason")
            if isinstance(reason, str) and reason.startswith(USER_CANCEL):
                return
            # A queued job of an open session ended by the scheduler itself: only wrong if
            # close() is what ended it (now, or in the close that follows at this instant).
            if not s.accepting:
                self.checks += 1
                self.fail(r.t, f"queued job {r.id} of closing session {s.id} was "
                          f"{r.event}ed; after close() queued jobs still run", r)
            else:
                self.dropped.setdefault(s.id, []).append(r)

    def after(self, r: Record, state: Replay) -> None:
        if r.entity != "session" or r.event != "close":
            return
        self.checks += 1
        dropped = [d for d in self.dropped.pop(r.id, []) if d.t == r.t]
        if dropped:
            self.fail(r.t, f"close() of session {r.id} ended its queued job(s) "
                      f"{[d.id for d in dropped]}; queued jobs must still run", *dropped, r)
        s = state.sessions[r.id]
        if r.dest == "closed" and r.source != "closed" and s.in_flight:
            self.fail(r.t, f"session {s.id} closed with {s.in_flight} job(s) queued or "
                      "running", r)

    def instant_end(self, t: int, state: Replay) -> None:
        drained = [s for s in state.closing.values() if s.in_flight == 0]
        for s in in_creation_order(drained):
            if not s.accepting and not s.is_final:
                self.checks += 1
                if s.id not in self.reported:
                    self.reported.add(s.id)
                    self.fail(t, f"session {s.id} does not accept jobs and has none queued "
                              f"or running, yet it is still {s.state} (not closed)")


class ITTL(Deadline):
    """INV-ITTL."""

    id = "INV-ITTL"
    statement = ("a session deactivates only after a full ITTL with no job queued or running, "
                 "and exactly then")

    def deadline(self, s: SessionView) -> int | None:
        """Idle since + ITTL, for an active session with nothing in flight."""
        return s.ittl_deadline

    def missed(self, s: SessionView, deadline: int) -> str:
        """Stayed active past the deadline."""
        return (f"session {s.id} stayed active past its ITTL deadline {deadline / 1e6:g}s "
                f"(idle since {s.idle_since})")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.event == "ittl_elapsed" and r.id in state.sessions:
            s = state.sessions[r.id]
            self.checks += 1
            if s.in_flight:
                self.fail(r.t, f"session {s.id} deactivated with {s.in_flight} job(s) in "
                          "flight", r)
            elif s.ittl_deadline != r.t:
                idle = "never idle" if s.idle_since is None else \
                    f"idle since {s.idle_since / 1e6:g}s"
                self.fail(r.t, f"session {s.id} deactivated at {r.t / 1e6:g}s; it was {idle} "
                          f"with an ITTL of {s.ittl_us / 1e6:g}s", r)
        elif r.entity == "job" and r.event == "create" and r.session in state.sessions:
            s = state.sessions[r.session]
            deadline = s.ittl_deadline
            if deadline is not None and r.t >= deadline:
                self.checks += 1
                self.fail(r.t, f"job {r.id} joined active session {s.id} at {r.t / 1e6:g}s, "
                          f"at or after its ITTL ran out ({deadline / 1e6:g}s)", r)


class Clock(Deadline):
    """INV-CLOCK."""

    id = "INV-CLOCK"
    statement = "the max-TTL clock starts at the first job start and never pauses"

    def deadline(self, s: SessionView) -> int | None:
        """First start + max time, for a started session that has not ended."""
        return s.expiry_deadline

    def missed(self, s: SessionView, deadline: int) -> str:
        """Still running past max TTL."""
        return (f"session {s.id} is still {s.state} after its max TTL "
                f"({deadline / 1e6:g}s = first start + max_time)")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.event == "max_time_reached" and r.id in state.sessions:
            s = state.sessions[r.id]
            self.checks += 1
            deadline = s.expiry_deadline
            if deadline != r.t:
                expected = "never (no job started)" if deadline is None else \
                    f"at {deadline / 1e6:g}s (first start + max_time)"
                self.fail(r.t, f"session {s.id} expired at {r.t / 1e6:g}s; expected {expected}",
                          r)


class IdleClose(Deadline):
    """INV-IDLE-CLOSE."""

    id = "INV-IDLE-CLOSE"
    statement = ("a session with no job submitted closes exactly idle_close_timeout after "
                 "creation, and not before")

    def deadline(self, s: SessionView) -> int | None:
        """Creation + idle_close_timeout, for a pending session never used."""
        return s.idle_close_deadline

    def candidates(self, state: Replay) -> Iterable[SessionView]:
        """Pending sessions with nothing submitted (the others have no such deadline)."""
        return state.unused.values()

    def missed(self, s: SessionView, deadline: int) -> str:
        """Still open past the deadline."""
        return (f"session {s.id} had no job submitted yet is still {s.state} after its idle "
                f"close deadline {deadline / 1e6:g}s (created at {s.created / 1e6:g}s)")

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "session" and r.event == "idle_close_elapsed" and r.id in state.sessions:
            s = state.sessions[r.id]
            self.checks += 1
            if s.submitted:
                self.fail(r.t, f"session {s.id} was closed as unused but {s.submitted} "
                          "job(s) were submitted to it", r)
            elif s.idle_close_deadline != r.t:
                expected = "never" if s.idle_close_us is None else \
                    f"at {(s.created + s.idle_close_us) / 1e6:g}s"
                self.fail(r.t, f"session {s.id} closed as unused at {r.t / 1e6:g}s; expected "
                          f"{expected}", r)


class Final(Checker):
    """INV-FINAL."""

    id = "INV-FINAL"
    statement = "final session states and final job states never change"

    def before(self, r: Record, state: Replay) -> None:
        if r.event == "create" or r.entity == "qpu":
            return
        view: SessionView | JobView | None = (state.sessions.get(r.id) if r.entity == "session"
                                              else state.jobs.get(r.id))
        if view is None:
            return
        self.checks += 1
        if view.is_final:
            self.fail(r.t, f"{r.entity} {r.id} is {view.state} (final) but got {r.event} "
                      f"-> {r.dest}", r)


class ModelConforms(Checker):
    """INV-MODEL-CONFORMS."""

    id = "INV-MODEL-CONFORMS"
    statement = "every state change the runtime makes is a transition the model allows"

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, SessionLifecycle] = {}
        self.jobs: dict[str, JobLifecycle] = {}

    def before(self, r: Record, state: Replay) -> None:
        if r.entity == "qpu":
            return
        if r.event == "create":
            if r.entity == "session":
                batch = r.data.get("mode") == "batch"
                self.sessions[r.id] = SessionLifecycle(r.id, "batch" if batch else "dedicated")
            else:
                self.jobs[r.id] = JobLifecycle(r.id)
            return
        self.checks += 1
        model = self.sessions.get(r.id) if r.entity == "session" else self.jobs.get(r.id)
        if model is None:
            self.fail(r.t, f"{r.entity} {r.id} has events but no create record", r)
            return
        spec_facts = model.TABLE.event(r.event).facts if r.event in model.TABLE.event_names \
            else ()
        facts = {f: r.data.get(f) for f in spec_facts}
        before = model.state
        try:
            step = model.fire(r.event, **facts)
        except (TransitionRefused, TypeError, ValueError) as err:
            self.fail(r.t, f"the model refuses {r.entity} {r.id} {r.event} in {before}: {err}", r)
            return
        if (r.source, r.dest) != (step.source, step.dest):
            self.fail(r.t, f"{r.entity} {r.id} {r.event}: trace says {r.source} -> {r.dest}, "
                      f"the model says {step.source} -> {step.dest}", r)
        if isinstance(model, SessionLifecycle):
            accepting = r.data.get("accepting_jobs")
            if isinstance(accepting, bool) and accepting != model.accepting_jobs:
                self.fail(r.t, f"session {r.id}: trace says accepting_jobs={accepting}, the "
                          f"model says {model.accepting_jobs}", r)
