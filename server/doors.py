"""The two doors agree: one program run in process and through the HTTP door, compared.

A *program* is data — open sessions and batches for two tenants, submit (in a session or
in job mode), think (let virtual time pass), wait for a job, close, cancel, cancel a job —
so Hypothesis can draw it, shrink it and print it. ``differences(program)`` runs it twice
on the virtual clock:

- in process, on a ``LocalService`` configured as the server configures its own;
- through ``qsession serve`` (``connect()``: a real server on 127.0.0.1) with the real
  ``qiskit-ibm-runtime`` client, one ``QiskitRuntimeService`` per tenant, virtual time
  moved over the ``/qsession/v1`` control routes (``advance``, ``step``, ``run-until-idle``)
  and the trace read back from ``/qsession/v1/trace``;

then compares the traces up to identifiers (ids are renamed by first appearance) and what
each door reports: ``details()`` and ``status()`` of every session, ``status()``,
``metrics()``, ``usage()`` and the result's counts and execution span of every job,
``jobs()`` filtered by session, by pending and by tenant, and each tenant's usage. An empty
list means the doors agree. ``counterexample_script(program)`` prints a failing program as
a runnable script.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st

TENANTS = ("t0", "t1")
ALLOCATIONS = {"t0": 1.0, "t1": 2.0}
BACKEND = "qsession_ideal"
SEED = 11
PROCESS = "in process"
HTTP = "over HTTP"


# -- programs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Open:
    """Open a dedicated session or a batch for a tenant (``max_time`` None: the default)."""

    mode: str
    tenant: int = 0
    max_time: int | None = None


@dataclass(frozen=True)
class Submit:
    """Submit a sampler job: to session ``target`` (an index), or in job mode when None."""

    target: int | None
    tenant: int = 0
    shots: int = 100
    pubs: int = 1


@dataclass(frozen=True)
class Think:
    """Let ``seconds`` of virtual time pass (a classical step)."""

    seconds: float


@dataclass(frozen=True)
class Wait:
    """Wait until job ``job`` (an index) is final."""

    job: int


@dataclass(frozen=True)
class Close:
    """close() session ``session``."""

    session: int


@dataclass(frozen=True)
class Cancel:
    """cancel() session ``session``."""

    session: int


@dataclass(frozen=True)
class CancelJob:
    """cancel() job ``job``."""

    job: int


Step = Open | Submit | Think | Wait | Close | Cancel | CancelJob


def steps() -> st.SearchStrategy[Step]:
    """One step of a program; each shrinks toward the simplest (first) choice."""
    index = st.integers(0, 3)

    def submit(target: st.SearchStrategy[int | None]) -> st.SearchStrategy[Submit]:
        return st.builds(Submit, target=target, tenant=st.integers(0, 1),
                         shots=st.sampled_from([100, 1_000, 4_000]), pubs=st.integers(1, 2))

    # Submissions three times as often as any other step (two to a session, one in job
    # mode): most programs run jobs.
    return st.one_of(
        submit(index), submit(st.integers(0, 1)), submit(st.none()),
        st.builds(Open, mode=st.sampled_from(["dedicated", "batch"]),
                  tenant=st.integers(0, 1),
                  max_time=st.sampled_from([None, 30, 120])),
        st.builds(Think, seconds=st.sampled_from([0.5, 1.0, 5.0, 60.0, 61.0])),
        st.builds(Wait, job=index),
        st.builds(Close, session=index),
        st.builds(Cancel, session=index),
        st.builds(CancelJob, job=index),
    )


def programs(max_steps: int = 10) -> st.SearchStrategy[list[Step]]:
    """Programs of one to ``max_steps`` steps, starting with a session or a batch (later
    steps submit to it, or in job mode)."""
    first = st.builds(Open, mode=st.sampled_from(["dedicated", "batch"]),
                      tenant=st.integers(0, 1))
    return st.tuples(first, st.lists(steps(), max_size=max_steps - 1)).map(
        lambda p: [p[0], *p[1]])


def counterexample_script(program: Sequence[Step]) -> str:
    """A runnable script that runs ``program`` through both doors and prints how they differ."""
    body = "\n".join(f"    {step!r}," for step in program)
    names = sorted({type(step).__name__ for step in program})
    return (
        '"""A program on which qsession\'s two doors differ (qsession verify, doors part).\n\n'
        "Run it with the server extra installed: python this_file.py\n"
        '"""\n\n'
        f"from qsession.server.doors import {', '.join(names)}, differences\n\n"
        f"PROGRAM = [\n{body}\n]\n\n"
        "for line in differences(PROGRAM):\n"
        "    print(line)\n")


# -- what a door reports -----------------------------------------------------------------------


@dataclass
class Observed:
    """Everything one door reported for a program, ids as that door gave them."""

    outcomes: list[str]
    trace: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    queries: dict[str, list[Any]]
    usage: dict[str, float]
    session_ids: list[str]
    job_ids: list[str]


def _circuit() -> Any:
    from qsession.properties.strategies import CIRCUITS

    return CIRCUITS["bell"]


def _pick(items: Sequence[Any], index: int) -> Any:
    return items[index % len(items)] if items else None


def _job_values(job: Any) -> dict[str, Any]:
    """What a job reports, through either door's ``RuntimeJobV2``."""
    status = str(job.status())
    values: dict[str, Any] = {"status": status, "usage": round(float(job.usage()), 6),
                              "session_id": job.session_id}
    metrics = job.metrics()
    # Instants reached (the REST body omits the others, the in-process one says None).
    values["timestamps"] = {k: v for k, v in (metrics.get("timestamps") or {}).items()
                            if v is not None}
    # The usage metrics() reports, in whole seconds: in process, IBM's earlier
    # usage.quantum_seconds; over HTTP the client 0.51 asks for API version 2026-04-15,
    # whose usage is qpu_charge_time_seconds (IBM's REST changelog, 2026-03-15).
    usage = metrics.get("usage") or {}
    billed = usage.get("quantum_seconds", usage.get("qpu_charge_time_seconds"))
    values["metrics_usage"] = None if billed is None else round(billed)
    if status == "DONE":
        result = job.result()
        values["counts"] = [pub.data.meas.get_counts() for pub in result]
        spans = result.metadata.get("execution", {}).get("execution_spans")
        values["span"] = None if spans is None else [
            (_stamp(s.start), _stamp(s.stop)) for s in spans]
    return values


def _stamp(value: Any) -> str:
    from datetime import UTC

    return str(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


class _Door:
    """The calls a program makes, on one door."""

    label: str

    def open(self, step: Open) -> Any:
        raise NotImplementedError

    def submit(self, target: Any, step: Submit) -> Any:
        raise NotImplementedError

    def think(self, seconds: float) -> None:
        raise NotImplementedError

    def wait(self, job: Any) -> bool:
        raise NotImplementedError

    def settle(self) -> None:
        raise NotImplementedError

    def trace(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def jobs(self, tenant: str | None, **filters: Any) -> list[Any]:
        raise NotImplementedError

    def usage(self, tenant: str) -> float:
        raise NotImplementedError


def run(door: _Door, program: Sequence[Step]) -> Observed:
    """Run ``program`` on ``door``; what it reported."""
    from qiskit_ibm_runtime.exceptions import IBMRuntimeError as ClientRuntimeError

    from qsession.runtime import IBMError

    refused = (IBMError, ClientRuntimeError)
    sessions: list[tuple[Any, str]] = []
    jobs: list[Any] = []
    outcomes: list[str] = []
    for k, step in enumerate(program):
        outcome = "ok"
        try:
            if isinstance(step, Open):
                sessions.append((door.open(step), TENANTS[step.tenant]))
            elif isinstance(step, Submit):
                target = None if step.target is None else _pick(sessions, step.target)
                if step.target is not None and target is None:
                    outcome = "skipped"
                else:
                    jobs.append(door.submit(None if target is None else target[0], step))
            elif isinstance(step, Think):
                door.think(step.seconds)
            elif isinstance(step, Wait):
                job = _pick(jobs, step.job)
                outcome = "skipped" if job is None else (
                    "final" if door.wait(job) else "never final")
            elif isinstance(step, Close | Cancel):
                chosen = _pick(sessions, step.session)
                if chosen is None:
                    outcome = "skipped"
                elif isinstance(step, Close):
                    chosen[0].close()
                else:
                    chosen[0].cancel()
            else:
                job = _pick(jobs, step.job)
                if job is None:
                    outcome = "skipped"
                else:
                    job.cancel()
        except refused as err:
            outcome = f"refused: {type(err).__name__}"
        outcomes.append(f"step {k} {step!r}: {outcome}")
    door.settle()
    session_values = []
    for session, _tenant in sessions:
        details = dict(session.details() or {})
        session_values.append({"details": details, "status": session.status()})
    job_values = [_job_values(job) for job in jobs]
    session_ids = [s.session_id for s, _ in sessions]
    # Listed jobs come with the status the door holds now (a client's own handle keeps
    # the status it last saw once it is final; a listing reads the platform's).
    queries: dict[str, list[Any]] = {}
    for sid in session_ids:
        tenant = next(t for s, t in sessions if s.session_id == sid)
        queries[f"jobs(session_id={sid})"] = [
            (j.job_id(), str(j.status()))
            for j in door.jobs(tenant, session_id=sid, limit=None)]
    for tenant in TENANTS:
        for pending in (None, True, False):
            queries[f"jobs({tenant}, pending={pending})"] = [
                (j.job_id(), str(j.status()))
                for j in door.jobs(tenant, pending=pending, limit=None)]
    return Observed(outcomes, door.trace(), session_values, job_values, queries,
                    {t: round(door.usage(t), 6) for t in TENANTS}, session_ids,
                    [j.job_id() for j in jobs])


# -- the in-process door -----------------------------------------------------------------------


class InProcess(_Door):
    """The runtime's own API on a ``LocalService`` set up as the server sets up its own."""

    label = PROCESS

    def __init__(self) -> None:
        from qsession.runtime import QPU, LocalService
        from qsession.runtime.engine.settings import Instance

        self.qpu = QPU.ideal(BACKEND)
        self.service = LocalService(
            clock="virtual", seed=SEED, backends=[self.qpu],
            instances={t: Instance(allocation=a) for t, a in ALLOCATIONS.items()})

    def open(self, step: Open) -> Any:
        from qsession.runtime import Batch, Session

        cls = Session if step.mode == "dedicated" else Batch
        return cls(self.qpu, max_time=step.max_time, instance=TENANTS[step.tenant])

    def submit(self, target: Any, step: Submit) -> Any:
        from qsession.runtime import SamplerV2

        mode = self.qpu if target is None else target
        sampler = SamplerV2(mode=mode, instance=TENANTS[step.tenant])
        return sampler.run([(_circuit(),)] * step.pubs, shots=step.shots)

    def think(self, seconds: float) -> None:
        self.service.advance(seconds)

    def wait(self, job: Any) -> bool:
        from qsession.runtime.engine.clock import ClockError

        try:
            job.wait_for_final_state()
        except ClockError:
            return False
        return bool(job.in_final_state())

    def settle(self) -> None:
        self.service.run_until_idle()

    def trace(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.service.trace.dumps().splitlines()[1:]]

    def jobs(self, tenant: str | None, **filters: Any) -> list[Any]:
        return list(self.service.jobs(instance=tenant, **filters))

    def usage(self, tenant: str) -> float:
        ledger = self.service.fair_share
        return float(ledger.used(tenant, self.service.clock.now())) / 1e6

    def close(self) -> None:
        self.service.close()


# -- the HTTP door -----------------------------------------------------------------------------


class Platform(Protocol):
    """A served platform the HTTP door drives (``http_machine`` has ones that crash)."""

    url: str

    def env(self, tenant: str) -> dict[str, str]:
        """The client's environment for ``tenant`` (``launch.client_env``)."""

    def control_headers(self) -> dict[str, str]:
        """What a request to a ``/qsession/v1`` route sends (JSON, the control token)."""

    def close(self) -> None:
        """Stop the platform."""


class OverHTTP(_Door):
    """The real client against a real server on loopback; virtual time over control routes.

    Without ``platform`` the server runs in this process (``connect()``), as many servers
    are started; with one, the door drives that platform, the client's environment set
    until ``close()``.
    """

    label = HTTP

    def __init__(self, platform: Platform | None = None) -> None:
        from qiskit_ibm_runtime import QiskitRuntimeService

        from .emulator import Instance
        from .launch import connect

        self.conn: Any = None
        self.saved: dict[str, str | None] = {}
        if platform is None:
            self.conn = connect(clock="virtual", backends=[BACKEND], noise=False, seed=SEED,
                                instances=[Instance(t, allocation=a)
                                           for t, a in ALLOCATIONS.items()],
                                instance=TENANTS[0])
            self.url = self.conn.server.url
            self.headers = self.conn.server.control_headers()
            envs = {t: self.conn.server.env(t) for t in TENANTS}
        else:
            self.url, self.headers = platform.url, platform.control_headers()
            envs = {t: platform.env(t) for t in TENANTS}
            # The client reads IAM_URL and the catalogue's URLs from the environment only.
            self.saved = {key: os.environ.get(key) for key in envs[TENANTS[0]]}
            os.environ.update(envs[TENANTS[0]])
        self.platform = platform
        self.services = {t: QiskitRuntimeService(
            channel="ibm_quantum_platform", token=env["QISKIT_IBM_TOKEN"],
            url=env["QISKIT_IBM_URL"], instance=env["QISKIT_IBM_INSTANCE"])
            for t, env in envs.items()}
        self.backends = {t: s.backend(BACKEND) for t, s in self.services.items()}

    def _control(self, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(f"{self.url}/qsession/v1/{route}", data=data,
                                         headers=self.headers, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def open(self, step: Open) -> Any:
        from qiskit_ibm_runtime import Batch, Session

        cls = Session if step.mode == "dedicated" else Batch
        return cls(backend=self.backends[TENANTS[step.tenant]], max_time=step.max_time)

    def submit(self, target: Any, step: Submit) -> Any:
        from qiskit_ibm_runtime import SamplerV2

        mode = self.backends[TENANTS[step.tenant]] if target is None else target
        return SamplerV2(mode=mode).run([(_circuit(),)] * step.pubs, shots=step.shots)

    def think(self, seconds: float) -> None:
        self._control("advance", {"seconds": seconds})

    def wait(self, job: Any) -> bool:
        # As job.result() jumps in process: the server's next timer, until the job is final.
        while not job.in_final_state():
            if not self._control("step")["moved"]:
                return False
        return True

    def settle(self) -> None:
        self._control("run-until-idle")

    def trace(self) -> list[dict[str, Any]]:
        request = urllib.request.Request(f"{self.url}/qsession/v1/trace", headers=self.headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            lines = response.read().decode().splitlines()
        return [json.loads(line) for line in lines[1:]]

    def jobs(self, tenant: str | None, **filters: Any) -> list[Any]:
        assert tenant is not None
        return list(self.services[tenant].jobs(**filters))

    def usage(self, tenant: str) -> float:
        return float(self.services[tenant].usage()["usage_consumed_seconds"])

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            return
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def doors() -> Iterator[tuple[InProcess, OverHTTP]]:
    """Both doors, fresh; stopped (server and service) when the block ends."""
    local = InProcess()
    try:
        remote = OverHTTP()
    except BaseException:
        local.close()
        raise
    try:
        yield local, remote
    finally:
        remote.close()
        local.close()


# -- comparing ---------------------------------------------------------------------------------

_TRACE_KEYS = ("t", "qpu", "entity", "event", "source", "dest", "instance")
_ID_FIELDS = ("id", "session")


def _namer(session_ids: Sequence[str], job_ids: Sequence[str]) -> Callable[[Any], Any]:
    """Rename a door's ids to S0, S1, ... and J0, J1, ... by the program's order."""
    names = {sid: f"S{k}" for k, sid in enumerate(session_ids)}
    names.update({jid: f"J{k}" for k, jid in enumerate(job_ids)})

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [rename(v) for v in value]
        return value

    return rename


def _trace_rows(seen: Observed) -> list[dict[str, Any]]:
    """The trace up to identifiers: ids renamed, data fields by name."""
    rename = _namer(seen.session_ids, seen.job_ids)
    rows = []
    for r in seen.trace:
        row = {k: r.get(k) for k in _TRACE_KEYS}
        row.update({k: rename(r.get(k)) for k in _ID_FIELDS})
        row["data"] = rename(r.get("data") or {})
        rows.append(row)
    return rows


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_types(v) for v in value]
    return type(value).__name__


def compare(here: Observed, there: Observed) -> list[str]:
    """How the in-process door (``here``) and the HTTP door (``there``) differ."""
    out: list[str] = []

    def differ(what: str, mine: Any, theirs: Any) -> None:
        # Types too: 60 and 60.0 are equal in Python, not on IBM's wire.
        if mine != theirs or _types(mine) != _types(theirs):
            out.append(f"{what}: {PROCESS} {mine!r}, {HTTP} {theirs!r}")

    def outcome(line: str) -> str:
        # The two clients' exception classes differ in name only where IBM's do.
        return line.split(": refused", maxsplit=1)[0] + (": refused" if ": refused" in line else "")

    for mine, theirs in zip(here.outcomes, there.outcomes, strict=True):
        differ("outcome", outcome(mine), outcome(theirs))
    a, b = _trace_rows(here), _trace_rows(there)
    for k, (ra, rb) in enumerate(zip(a, b, strict=False)):
        if ra != rb:
            keys = sorted(key for key in ra.keys() | rb.keys() if ra.get(key) != rb.get(key))
            out.append(f"trace record {k}: {PROCESS} {ra!r}, {HTTP} {rb!r} (differ in {keys})")
            break
    differ("trace length", len(a), len(b))
    name_here = _namer(here.session_ids, here.job_ids)
    name_there = _namer(there.session_ids, there.job_ids)
    for k, (sa, sb) in enumerate(zip(here.sessions, there.sessions, strict=True)):
        da, db = name_here(sa["details"]), name_there(sb["details"])
        for key in sorted(da.keys() | db.keys()):
            differ(f"session {k} details()[{key!r}]", da.get(key, "<absent>"),
                   db.get(key, "<absent>"))
        differ(f"session {k} status()", sa["status"], sb["status"])
    for k, (ja, jb) in enumerate(zip(here.jobs, there.jobs, strict=True)):
        va, vb = name_here(ja), name_there(jb)
        for key in sorted(va.keys() | vb.keys()):
            differ(f"job {k} {key}", va.get(key, "<absent>"), vb.get(key, "<absent>"))
    for (qa, ids_a), ids_b in zip(here.queries.items(), there.queries.values(), strict=True):
        differ(name_here(qa), name_here(ids_a), name_there(ids_b))
    for tenant in TENANTS:
        differ(f"usage of {tenant}", here.usage[tenant], there.usage[tenant])
    return out


def differences(program: Sequence[Step]) -> list[str]:
    """Run ``program`` through both doors; how they differ (empty: they agree)."""
    with doors() as (local, remote):
        here = run(local, program)
        there = run(remote, program)
    return compare(here, there)


# -- the doors part of ``qsession verify`` -----------------------------------------------------


@dataclass
class Verdict:
    """What a doors campaign found: examples run, and the shrunk counterexample if any."""

    examples: int
    program: list[Step] | None = None
    differences: list[str] | None = None

    @property
    def ok(self) -> bool:
        """True when the doors agreed on every program."""
        return self.program is None


class DoorsDisagree(AssertionError):
    """The two doors differ on a program (the message lists how)."""

    ids = ("INV-DOORS",)


def campaign(examples: int, seed: int | None = None, max_steps: int = 10) -> Verdict:
    """Run ``examples`` random programs through both doors; shrink the first that differs.

    Hypothesis replays the minimal failing program last, so the program kept is the shrunk
    one.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fix_seed

    verdict = Verdict(0)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed is None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink], print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(programs(max_steps))
    def agree(program: list[Step]) -> None:
        verdict.examples += 1
        found = differences(program)
        if found:
            verdict.program, verdict.differences = list(program), found
            raise DoorsDisagree("\n".join(found))

    test = agree if seed is None else fix_seed(seed)(agree)
    with suppress(DoorsDisagree):
        test()
    return verdict
