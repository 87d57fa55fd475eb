"""Server traces under the invariants, across crashes: a Hypothesis state machine over HTTP.

Each run starts a platform that keeps its state in a folder (``Emulator(state_dir=...)``,
``qsession serve --state DIR``) and drives it with IBM's client (two tenants,
``server/doors.py``'s ``OverHTTP``): open sessions and batches, submit, let virtual time
pass over the control routes, wait for a job, close, cancel, cancel a job, and crash the
server at any step, which restarts it on the same folder. After every step the whole
trace the server serves (``GET /qsession/v1/trace``: every restart in it) is checked
against every trace invariant, INV-DURABLE among them, and against what the client was
told: every record served before a crash is still there after it, and every job id the
client received is in the trace. At the end the run is driven to idle and every such job
must have ended exactly once.

Two ways to crash: ``Killed`` runs ``qsession serve --state DIR`` in a process of its own
and sends it SIGKILL; ``Abandoned`` (the default, about ten times cheaper a restart) keeps
the server in this process and, at a crash, copies the state folder as the operating
system holds it at that instant, which is exactly what a SIGKILL leaves (a killed process
loses what its own buffers held, never what it wrote), then abandons that server and
resumes the copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from qsession.properties.invariants import Monitor, Report, Violation
from qsession.runtime import Record

from .doors import ALLOCATIONS, BACKEND, SEED, Open, OverHTTP, Submit

FINAL = ("DONE", "ERROR", "CANCELLED")
CONTROL_TOKEN = "http-machine-control-token"
KEPT_FILES = ("trace.jsonl", "platform.sqlite3", "platform.sqlite3-wal", "clock")
"""What a crash leaves of a state folder (SQLite rebuilds its shared-memory index)."""


class ServerViolated(AssertionError):
    """An invariant broke on the server's trace; the message lists the violations."""

    def __init__(self, report: Report) -> None:
        self.ids = sorted({v.invariant for v in report.violations})
        lines = "\n".join(f"  {v}" for v in report.violations[:10])
        super().__init__(f"invariant(s) violated over HTTP: {', '.join(self.ids)}\n{lines}")


def _lost(message: str, t: int = 0) -> ServerViolated:
    return ServerViolated(Report([Violation("INV-DURABLE", t, message)], {}))


# -- platforms that crash ----------------------------------------------------------------------


class Abandoned:
    """A platform in this process; a crash resumes what a SIGKILL would have left on disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.restarts = 0
        self.server = self._start(folder / "state-0", port=0)
        self.url = self.server.url

    @staticmethod
    def _start(directory: Path, port: int) -> Any:
        from .emulator import Emulator, Instance
        from .launch import Server

        emulator = Emulator(clock="virtual", backends=[BACKEND], noise=False, seed=SEED,
                            instances=[Instance(t, allocation=a)
                                       for t, a in ALLOCATIONS.items()],
                            state_dir=directory)
        try:
            return Server(emulator, port=port, control_token=CONTROL_TOKEN).start()
        except BaseException:
            emulator.close()
            raise

    def env(self, tenant: str) -> dict[str, str]:
        """The client's environment for ``tenant``."""
        return dict(self.server.env(tenant))

    def control_headers(self) -> dict[str, str]:
        """JSON and the control token."""
        return dict(self.server.control_headers())

    def crash(self) -> None:
        """Copy the folder as the OS holds it now, abandon the server, resume the copy."""
        old = self.server.emulator.store.directory
        self.restarts += 1
        new = self.folder / f"state-{self.restarts}"
        new.mkdir()
        for name in KEPT_FILES:
            if (old / name).exists():
                shutil.copy2(old / name, new / name)
        port = self.server.port
        self.server.stop()  # its own folder only: the copy is what survives
        self.server = self._start(new, port)

    def close(self) -> None:
        """Stop the server."""
        self.server.stop()


class Killed:
    """``qsession serve --state DIR`` in a process of its own; a crash is a SIGKILL.

    ``command`` is what runs ``qsession`` (the installed script by default): a test may
    run it through a wrapper that plants a bug first, since a patch made in this process
    does not reach another.
    """

    def __init__(self, folder: Path, command: Sequence[str] | None = None) -> None:
        self.folder = folder / "state"
        self.command = list(command) if command is not None else \
            [str(Path(sys.executable).parent / "qsession")]
        self.restarts = 0
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.printed: dict[str, str] = {}
        self.stderr: list[str] = []
        """What each server process wrote to its standard error (read once it stopped)."""
        self._stderr: Any = None
        self._start()
        self.url = f"http://127.0.0.1:{self.port}"

    def _start(self) -> None:
        from .launch import ENV_KEYS

        args = [*self.command, "serve", "--state", str(self.folder), "--clock", "virtual",
                "--no-noise", "--seed", str(SEED), "--backends", BACKEND,
                "--port", str(self.port), "--control-token", CONTROL_TOKEN,
                *(f"--instance={t}={a:g}" for t, a in ALLOCATIONS.items())]
        # Standard error to a file: a pipe nobody reads could fill and block the server.
        self._stderr = open(  # noqa: SIM115 - closed by _reap
            self.folder.parent / f"serve-{self.restarts}.stderr", "w+", encoding="utf-8")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._stderr,
                                     text=True, cwd=self.folder.parent,
                                     env={k: v for k, v in os.environ.items()
                                          if k not in ENV_KEYS})
        assert self.proc.stdout is not None
        printed: dict[str, str] = {}
        for line in self.proc.stdout:  # the export lines, printed once it listens
            key, _, value = line.removeprefix("export ").strip().partition("=")
            printed[key] = value.strip("'")
            if key == "QSESSION_CONTROL_TOKEN":
                break
        if "QISKIT_IBM_URL" not in printed:
            self.proc.kill()
            self._reap()
            raise RuntimeError(f"qsession serve did not start: {self.stderr[-1][-2000:]}")
        self.printed = printed
        self.port = int(printed["IAM_URL"].rsplit(":", 1)[1])

    def env(self, tenant: str) -> dict[str, str]:
        """The client's environment for ``tenant`` (the printed one names the first)."""
        from .emulator import Instance
        from .launch import client_env

        return client_env(self.url, self.printed["QISKIT_IBM_TOKEN"], Instance(tenant))

    def control_headers(self) -> dict[str, str]:
        """JSON and the control token."""
        return {"Content-Type": "application/json",
                "Authorization": f"Bearer {CONTROL_TOKEN}"}

    def crash(self) -> None:
        """SIGKILL the server, then start it again on the same folder and port."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self._reap()
        self.restarts += 1
        self._start()

    def _reap(self) -> None:
        assert self.proc is not None
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.seek(0)
        self.stderr.append(self._stderr.read())
        self._stderr.close()

    def close(self) -> None:
        """Stop the server (SIGINT: a clean stop)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reap()


Crashable = Abandoned | Killed


# -- the machine -------------------------------------------------------------------------------


class HTTPMachine(RuleBasedStateMachine):
    """The HTTP door under random sessions, jobs, time and crashes; every invariant after
    every step, on the whole trace across restarts."""

    platform: ClassVar[Callable[[Path], Crashable]] = Abandoned
    """How the platform runs and crashes (``Abandoned`` or ``Killed``)."""
    max_crashes: ClassVar[int] = 2
    """Crashes per run at most (0: the server never crashes)."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="qsession-http-machine-"))
        try:
            self.server = type(self).platform(self.folder)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        try:
            self.door = OverHTTP(self.server)
        except BaseException:
            self.server.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.monitor = Monitor()
        self.sessions: list[Any] = []
        self.jobs: list[Any] = []
        self.received: list[str] = []
        """Every job id the client was given."""
        self.served: list[dict[str, Any]] = []
        """The trace as the server served it so far (what a crash must not take back)."""
        self.crashes = 0
        self.steps = 0
        self.broken = False

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
            job = self.door.submit(target, Submit(index, tenant, shots, pubs))
            self.jobs.append(job)
            self.received.append(job.job_id())

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

    @precondition(lambda self: self.crashes < type(self).max_crashes)
    @rule()
    def crash(self) -> None:
        """Kill the server and start it again on its state folder."""
        self.crashes += 1
        try:
            self.server.crash()
        except Exception as err:
            self.broken = True
            raise _lost(f"the server did not resume its state folder after crash "
                        f"{self.crashes}: {type(err).__name__}: {err}") from err

    def _trace(self) -> list[dict[str, Any]]:
        request = urllib.request.Request(f"{self.server.url}/qsession/v1/trace",
                                         headers=self.server.control_headers())
        with urllib.request.urlopen(request, timeout=60) as response:
            lines = response.read().decode().splitlines()
        return [json.loads(line) for line in lines[1:]]

    def _check(self, *, settled: bool = False) -> Report:
        rows = self._trace()
        kept = len(self.served)
        if rows[:kept] != self.served:
            k = next((i for i, (a, b) in enumerate(zip(rows, self.served, strict=False))
                      if a != b), min(len(rows), kept))
            was = self.served[k]
            self.broken = True
            now = f"it ends at record {len(rows)}" if k >= len(rows) else f"it has {rows[k]!r}"
            seconds = float(was.get("t") or 0)
            raise _lost(f"record {k} of the trace ({was.get('entity')} {was.get('id')} "
                        f"{was.get('event')} at {seconds:g} s), served before crash "
                        f"{self.crashes}, is not in the trace after the restart ({now})",
                        round(seconds * 1e6))
        self.monitor.feed([Record.from_json(row, f"server record {k}")
                           for k, row in enumerate(rows[kept:], kept)])
        self.served = rows
        created = {row.get("id") for row in rows
                   if row.get("entity") == "job" and row.get("event") == "create"}
        report = self.monitor.finish(settled) if settled else self.monitor.report()
        for job_id in self.received:
            if job_id not in created:
                report.violations.append(Violation(
                    "INV-DURABLE", self.monitor.state.now,
                    f"job {job_id}, which the client received, is not in the server's "
                    f"trace (after {self.crashes} crash(es))"))
        self.steps += 1
        return report

    @invariant()
    def invariants_hold(self) -> None:
        """Every invariant holds on the server's whole trace so far, restarts included."""
        report = self._check()
        if not report.ok:
            self.broken = True
            raise ServerViolated(report)

    def teardown(self) -> None:
        """Drive the server to idle: every invariant, and every job the client got ends once."""
        try:
            if self.broken:  # the failure is reported; the platform may not settle
                return
            self.door.settle()
            report = self._check(settled=True)
            finals: dict[str, int] = {}
            for view in self.monitor.state.jobs.values():
                finals[view.id] = int(view.state in FINAL)
            for jid in self.received:
                if finals.get(jid) != 1:
                    report.violations.append(Violation(
                        "INV-DURABLE", self.monitor.state.now,
                        f"job {jid}, which the client received, "
                        f"{'is not in the trace' if jid not in finals else 'never ended'}"))
            if not report.ok:
                raise ServerViolated(report)
        finally:
            self.door.close()
            self.server.close()
            shutil.rmtree(self.folder, ignore_errors=True)
