"""What the API reports, checked against the trace: the trace is the truth.

A trace checker cannot see a wrong ``details()`` or a wrong stopping instant when the
trace itself is right, so these checks take the values the API reported alongside the
replayed trace: ``reported(state, now, sessions, jobs)`` for ``details()``,
``Session.usage()``, ``job.usage()`` and ``job.metrics()``; ``run_until_idle_stop`` for
the instant ``run_until_idle()`` returned at. Every expected value is derived here from
the replayed records, never from the runtime's own bookkeeping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .invariants import Violation
from .replay import Replay, SessionView

API_INVARIANTS = {
    "INV-REPORTED": ("details(), usage(), status() and metrics() report what the trace shows "
                     "and what the caller chose (usage, state, timeouts, instance, job "
                     "timestamps), in IBM's types: an int where IBM sends an int"),
    "INV-RUN-UNTIL-IDLE": ("run_until_idle() stops at the instant the last queued or running "
                           "job ended (or at once when none is), firing no later timer"),
    "INV-WITH-CLOSES": ("leaving a `with Session`/`with Batch` block, normally or by an "
                        "exception, closes the session (IBM's __exit__ calls close(), never "
                        "cancel())"),
    "INV-PLAN": ("an Open Plan instance refuses a dedicated session and a batch max_time "
                 "above its limit, creating nothing"),
    "INV-WAIT": ("result(timeout=t) and wait_for_final_state(timeout=t) return when the job "
                 "ends within t seconds, else raise RuntimeJobTimeoutError exactly t seconds "
                 "later"),
    "INV-JOBS-QUERY": ("service.jobs() returns exactly the jobs matching every filter given, "
                       "newest first unless descending=False, skip and limit after filtering"),
    "INV-REST": ("over HTTP, request forms IBM documents as equivalent give the same result; "
                 "another tenant's job is a 404; a token the server did not sign is a 401; "
                 "the proxy answers exactly IBM's hosts"),
    "INV-DOORS": ("a program run in process and through the HTTP door with IBM's client gives "
                  "the same trace up to identifiers and the same values and types through "
                  "details(), status(), metrics(), results, jobs() and usage"),
}
"""The ids of the checks over reported values (``qsession docs semantics "Invariants"``)."""

IBM_STATE = {"pending": "open", "active": "active", "inactive": "inactive", "closed": "closed",
             "canceled": "closed", "expired": "closed"}
"""The mapping of the model's six states to IBM's four words."""

_TOLERANCE_S = 1e-6
_ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")

_INT, _NUMBER, _BOOL, _STR, _STAMP = "int", "number", "bool", "str", "timestamp"
DETAILS_TYPES: dict[str, tuple[str, bool]] = {
    "id": (_STR, False), "backend_name": (_STR, False), "interactive_timeout": (_INT, False),
    "max_time": (_INT, False), "active_timeout": (_INT, True), "state": (_STR, False),
    "accepting_jobs": (_BOOL, False), "last_job_started": (_STAMP, True),
    "last_job_completed": (_STAMP, True), "started_at": (_STAMP, True),
    "closed_at": (_STAMP, True), "activated_at": (_STAMP, True), "mode": (_STR, False),
    "usage_time": (_NUMBER, True),
}
"""``details()``'s keys with IBM's JSON types (name, None allowed): the REST session's
``interactive_ttl``, ``max_ttl`` and ``active_ttl`` are integers of seconds, its
``elapsed_time`` a number, its instants ISO-8601 strings (qiskit_ibm_runtime/session.py,
``Session.details`` maps them one to one)."""
METRICS_TYPES: dict[str, tuple[str, bool]] = {
    "created": (_STAMP, False), "running": (_STAMP, True), "finished": (_STAMP, True),
    "quantum_seconds": (_INT, False), "seconds": (_INT, False),
}
"""``job.metrics()``'s timestamps and usage with IBM's types (its usage is whole seconds)."""


def type_errors(values: Mapping[str, Any], types: Mapping[str, tuple[str, bool]]
                ) -> list[str]:
    """Each key of ``values`` whose value is not of IBM's JSON type (a float is no int)."""
    out = []
    for key, (kind, nullable) in types.items():
        if key not in values:
            continue
        value = values[key]
        if value is None:
            ok = nullable
        elif kind == _INT:
            ok = type(value) is int
        elif kind == _NUMBER:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif kind == _BOOL:
            ok = isinstance(value, bool)
        elif kind == _STR:
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, str) and _ISO_Z.fullmatch(value) is not None
        if not ok:
            out.append(f"{key}={value!r} ({type(value).__name__}; IBM sends "
                       f"{'an ISO-8601 string ending in Z' if kind == _STAMP else kind}"
                       f"{' or null' if nullable else ''})")
    return out


def session_usage_us(state: Replay, s: SessionView, now: int) -> int | None:
    """A dedicated session's active spans so far; a batch's jobs' usage so far."""
    if s.mode == "batch":
        ran = [j for j in state.jobs.values() if j.session == s.id and j.started is not None]
        if not ran:
            return None
        # (A job that started at instant 0 has started == 0: not "no start".)
        return sum(j.usage_us if j.finished is not None or j.started is None
                   else now - j.started for j in ran)
    if s.started_at is None:
        return None
    open_span = 0 if s.active_since is None else now - s.active_since
    return s.billed_us + open_span


def reported(state: Replay, now: int, sessions: Mapping[str, Mapping[str, Any]],
             jobs: Mapping[str, Mapping[str, Any]]) -> list[Violation]:
    """Violations of INV-REPORTED: ``sessions`` maps a session id to its ``details()`` plus
    ``"usage"`` (``Session.usage()``); ``jobs`` maps a job id to ``{"usage": job.usage(),
    "partial": job.usage(partial=True)}`` and optionally ``"metrics"`` (``job.metrics()``,
    types checked too), ``"timestamps"``, ``"status"``, ``"instance"``, ``"session_id"``.

    Values and IBM's types are compared: a float where IBM sends an int is a violation."""
    out: list[Violation] = []

    def fail(message: str) -> None:
        out.append(Violation("INV-REPORTED", now, message))

    for sid, details in sessions.items():
        s = state.sessions.get(sid)
        if s is None:
            fail(f"the API reports session {sid}, which the trace never created")
            continue
        expected = session_usage_us(state, s, now)
        for key in ("usage_time", "usage"):
            if key not in details:
                continue
            got = details[key]
            if (expected is None) != (got is None) or (
                    expected is not None and abs(float(got) - expected / 1e6) > _TOLERANCE_S):
                want = "None" if expected is None else f"{expected / 1e6:g}s"
                fail(f"session {sid} reports {key}={got!r}; the trace shows {want} (active "
                     "spans until the latest of deactivation, end and its running job's end)")
        for wrong in type_errors(details, DETAILS_TYPES):
            fail(f"session {sid} details() has {wrong}")
        # The caller's own choices (the replay takes them from the test where it made them).
        chosen: tuple[tuple[str, object], ...] = (
            ("interactive_timeout", round(s.ittl_us / 1e6)),
            ("max_time", round(s.max_time_us / 1e6)), ("mode", s.mode),
            ("backend_name", s.qpu), ("id", sid))
        for key, value in chosen:
            if key in details and details[key] != value:
                fail(f"session {sid} details() reports {key}={details[key]!r}; it was "
                     f"opened with {value!r}")
        if "state" in details and details["state"] != IBM_STATE.get(s.state):
            fail(f"session {sid} reports state {details['state']!r}; the trace shows "
                 f"{s.state} ({IBM_STATE.get(s.state)!r})")
        if "active_timeout" in details:
            left = s.max_time_us if s.started_at is None else \
                max(0, s.started_at + s.max_time_us - now)
            # None once no whole second is left, as IBM's answer then has no active_ttl.
            expected = round(left / 1e6) or None
            if details["active_timeout"] != expected:
                fail(f"session {sid} reports active_timeout={details['active_timeout']!r}; "
                     f"the trace gives {expected!r} s (max_time from the first start)")
    for jid, given in jobs.items():
        values = dict(given)
        job = state.jobs.get(jid)
        if job is None:
            fail(f"the API reports job {jid}, which the trace never created")
            continue
        held = job.usage_us if job.finished is not None else \
            (0 if job.started is None else now - job.started)
        final = job.finished is not None
        if "usage" in values and abs(values["usage"] - (held / 1e6 if final else 0.0)) \
                > _TOLERANCE_S:
            fail(f"job {jid} reports usage() {values['usage']!r}; the trace shows "
                 f"{held / 1e6 if final else 0.0:g}s (its time on the QPU, 0 until final)")
        if "partial" in values and abs(values["partial"] - held / 1e6) > _TOLERANCE_S:
            fail(f"job {jid} reports usage(partial=True) {values['partial']!r}; the trace "
                 f"shows {held / 1e6:g}s held on the QPU")
        metrics = values.get("metrics")
        if isinstance(metrics, Mapping):
            flat = {**(metrics.get("timestamps") or {}), **(metrics.get("usage") or {})}
            for wrong in type_errors(flat, METRICS_TYPES):
                fail(f"job {jid} metrics() has {wrong}")
            values["timestamps"] = metrics.get("timestamps")
        if "status" in values and values["status"] != job.state:
            fail(f"job {jid} status() is {values['status']!r}; the trace shows {job.state}")
        if "instance" in values and values["instance"] != job.instance:
            fail(f"job {jid} reports instance {values['instance']!r}; it was submitted on "
                 f"{job.instance!r}")
        if "session_id" in values and values["session_id"] != job.session:
            fail(f"job {jid} reports session {values['session_id']!r}; it was submitted to "
                 f"{job.session!r}")
        stamps = values.get("timestamps")
        if isinstance(stamps, Mapping):
            seen = {"created": job.created, "running": job.started, "finished": job.finished}
            for key, at in seen.items():
                if key in stamps and (stamps[key] is None) != (at is None):
                    fail(f"job {jid} metrics() timestamp {key}={stamps[key]!r}; the trace "
                         f"shows {'none' if at is None else f'{at / 1e6:g}s'}")
    return out


def run_until_idle_stop(state: Replay, called_at: int, returned_at: int) -> list[Violation]:
    """INV-RUN-UNTIL-IDLE: the instant ``run_until_idle()`` must return at, from the trace."""
    ends = [j.finished for j in state.jobs.values() if j.finished is not None]
    open_jobs = [j.id for j in state.jobs.values() if j.finished is None]
    if open_jobs:
        return []  # not idle: INV-PROGRESS reports it
    expected = max([called_at, *ends])
    if returned_at == expected:
        return []
    return [Violation("INV-RUN-UNTIL-IDLE", returned_at,
                      f"run_until_idle() called at {called_at / 1e6:g}s returned at "
                      f"{returned_at / 1e6:g}s; the last job ended at "
                      f"{max(ends, default=0) / 1e6:g}s, "
                      "so it should have stopped at "
                      f"{expected / 1e6:g}s (an idle open session is not run into its max TTL)")]


def metrics_agree(state: Replay, sessions: Mapping[str, float],
                  jobs: Mapping[str, tuple[float | None, float | None, float]]
                  ) -> list[Violation]:
    """INV-REPORTED for trace metrics: ``sessions`` maps an id to its reported usage time
    (s), ``jobs`` an id to (wait, run, usage) in seconds; open spans count to the trace end."""
    out: list[Violation] = []
    now = state.now
    for sid, got in sessions.items():
        s = state.sessions.get(sid)
        expected = None if s is None else session_usage_us(state, s, now)
        want = 0.0 if expected is None else expected / 1e6
        if abs(got - want) > _TOLERANCE_S:
            out.append(Violation("INV-REPORTED", now, f"metrics give session {sid} a usage time "
                                 f"of {got:g}s; its active spans in the trace add up to "
                                 f"{want:g}s"))
    for jid, (wait, run, usage) in jobs.items():
        job = state.jobs.get(jid)
        if job is None:
            continue
        want_wait = None if job.started is None else (job.started - job.created) / 1e6
        want_run = None if job.started is None or job.finished is None else \
            (job.finished - job.started) / 1e6
        for name, value, expect in (("wait", wait, want_wait), ("run", run, want_run),
                                    ("usage", usage, job.usage_us / 1e6)):
            if (value is None) != (expect is None) or (
                    value is not None and expect is not None
                    and abs(value - expect) > _TOLERANCE_S):
                out.append(Violation("INV-REPORTED", now, f"metrics give job {jid} {name} "
                                     f"{value!r}; the trace shows {expect!r}"))
    return out
