"""Starting and stopping the server: a background thread, the client's environment, the summary.

``Server`` runs uvicorn on a loopback socket bound before it starts (port 0: a free
port), so its URL is known at once. ``client_env`` is what the unmodified client reads
(``qsession docs semantics "The HTTP door"``); ``connect()`` starts a server and returns a genuine
``qiskit_ibm_runtime.QiskitRuntimeService`` bound to it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .emulator import Emulator, Instance
from .guard import Access
from .hosts import HostRouter
from .limits import Limits
from .platform import CATALOG_PREFIX, SEARCH_PREFIX
from .stopping import claim_outputs, interrupts, listening_socket, wait_for

DEFAULT_HOST = "127.0.0.1"
ENV_KEYS = ("IAM_URL", "GLOBAL_SEARCH_URL", "GLOBAL_CATALOG_URL", "QISKIT_IBM_TOKEN",
            "QISKIT_IBM_URL", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL", "NO_PROXY", "no_proxy")


def client_env(base_url: str, token: str, instance: Instance,
               environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables qiskit-ibm-runtime reads to reach ``base_url``.

    ``QISKIT_IBM_URL`` contains ``experimental`` so the client uses it as the runtime
    API's base as given (``api/utils.py default_runtime_url_resolver``); IAM, Global
    Search and Global Catalog URLs come from ``IAM_URL`` and ibm-cloud-sdk-core's
    ``GLOBAL_SEARCH_URL``/``GLOBAL_CATALOG_URL``.
    """
    environ = os.environ if environ is None else environ
    no_proxy = ",".join(p for p in (environ.get("NO_PROXY", ""), "127.0.0.1", "localhost") if p)
    return {
        "IAM_URL": base_url,
        "GLOBAL_SEARCH_URL": base_url + SEARCH_PREFIX,
        "GLOBAL_CATALOG_URL": base_url + CATALOG_PREFIX,
        "QISKIT_IBM_TOKEN": token,
        "QISKIT_IBM_URL": base_url + "/experimental/api/v1",
        "QISKIT_IBM_INSTANCE": instance.crn,
        "QISKIT_IBM_CHANNEL": "ibm_quantum_platform",
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


class Server:
    """The emulator served by uvicorn on a background thread; also a handle on virtual time."""

    def __init__(self, emulator: Emulator, host: str = DEFAULT_HOST, port: int = 0, *,
                 control_token: str | None = None, host_names: Iterable[str] = (),
                 limits: Limits | None = None, sock: socket.socket | None = None) -> None:
        import uvicorn

        from .app import build_app

        self.emulator = emulator
        self.access = Access(control_token=control_token)
        """Host names answered and the control token (``server/guard.py``)."""
        self.access.allow_hosts(host_names)
        self.limits = limits if limits is not None else Limits()
        # Bound and listening before uvicorn starts: the port is known at once, and a
        # client that read the printed URL queues until uvicorn accepts. A busy port is a
        # StartError naming it (``sock``: one bound already, by ``listening_socket``).
        self._sock = sock if sock is not None else listening_socket(host, port)
        self.host = host
        self.port = int(self._sock.getsockname()[1])
        self.app = build_app(emulator, self.access)
        """The ASGI app served (FastAPI; ``app.state`` holds the emulator and the page's view)."""
        self.router = HostRouter(self.app)
        """The app behind IBM's host names; ``router.requests`` counts requests by host."""
        config = uvicorn.Config(self.router, log_level="warning",
                                access_log=False, lifespan="off", timeout_graceful_shutdown=2,
                                **self.limits.uvicorn_options())
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def env(self, instance: str | None = None) -> dict[str, str]:
        """The client's environment for this server (``instance``: a tenant name)."""
        tenants = self.emulator.instances
        tenant = tenants[instance] if instance is not None else next(iter(tenants.values()))
        return client_env(self.url, self.emulator.token, tenant)

    def start(self) -> Server:
        """Serve in a daemon thread; return once the socket accepts requests."""
        self._thread = threading.Thread(target=self._uvicorn.run,
                                        kwargs={"sockets": [self._sock]},
                                        name="qsession-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the qsession server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (``qsession serve``)."""
        self._uvicorn.run(sockets=[self._sock])

    def stop(self) -> None:
        """Stop serving, then stop the service (its trace file is closed)."""
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()
        self.emulator.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- virtual time, as the /qsession/v1 routes do it ------------------------------

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass."""
        self.emulator.service.advance(seconds)

    def run_until_idle(self) -> None:
        """Advance until no job is queued or running."""
        self.emulator.service.run_until_idle()

    def now_seconds(self) -> float:
        """Virtual seconds since the epoch."""
        return float(self.emulator.service.clock.now()) / 1e6

    @property
    def page_url(self) -> str:
        """The live page's address (with the control token, when the server has one)."""
        token = self.access.control_token
        return self.url + "/" + (f"?token={quote(token)}" if token is not None else "")

    def control_headers(self) -> dict[str, str]:
        """What a request to a ``/qsession/v1`` route sends: JSON, and the control token."""
        headers = {"Content-Type": "application/json"}
        if self.access.control_token is not None:
            headers["Authorization"] = f"Bearer {self.access.control_token}"
        return headers

    def state(self) -> dict[str, Any]:
        """``GET /qsession/v1/state`` over HTTP (exercises the route)."""
        request = urllib.request.Request(self.url + "/qsession/v1/state",
                                         headers=self.control_headers())
        with urllib.request.urlopen(request, timeout=30) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data


@dataclass
class Connection:
    """What ``connect()`` returns: the client's service and the server behind it."""

    service: Any
    """A genuine ``qiskit_ibm_runtime.QiskitRuntimeService``."""
    server: Server
    saved_env: dict[str, str | None] = field(default_factory=dict)
    """The variables ``connect()`` overwrote, restored by ``close()``."""
    interception: Any = None
    """The proxy and CA of ``connect(intercept=True)`` (``runenv.Interception``)."""

    def close(self) -> None:
        """Stop the server and restore the environment ``connect()`` changed."""
        if self.interception is not None:
            self.interception.close()
        self.server.stop()
        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(*, instance: str | None = None, host: str = DEFAULT_HOST, port: int = 0,
            control_token: str | None = None, intercept: bool = False,
            **emulator_options: Any) -> Connection:
    """Start a server in the background and return the real client's service bound to it.

    The client reads ``IAM_URL`` and the Global Search/Catalog URLs from the process
    environment only, so this sets them (and the ``QISKIT_IBM_*`` variables) in
    ``os.environ``; ``Connection.close()`` restores them. ``emulator_options`` are
    ``Emulator``'s (``clock``, ``backends``, ``instances``, ``seed``, ...). A server made
    here has no control token unless given one: the process that made it holds the
    service anyway (``qsession serve`` and ``run`` make one).

    ``intercept=True`` routes this process's requests for IBM's hosts to the server as
    ``qsession run`` does (a proxy and a CA in ``HTTPS_PROXY``/``REQUESTS_CA_BUNDLE``;
    no URL variables), so code that passes IBM's URLs or its own token reaches it too.
    """
    from qiskit_ibm_runtime import QiskitRuntimeService

    from .runenv import DROPPED_KEYS, Interception

    server = Server(Emulator(**emulator_options), host, port,
                    control_token=control_token).start()
    env = server.env(instance)
    interception = Interception.start(server) if intercept else None
    if interception is not None:
        env = {k: v for k, v in env.items() if k not in DROPPED_KEYS} | interception.env
    removed = [k for k in DROPPED_KEYS if intercept and k in os.environ]
    saved = {key: os.environ.get(key) for key in [*env, *removed]}
    os.environ.update(env)
    for key in removed:
        del os.environ[key]
    try:
        service = QiskitRuntimeService(channel="ibm_quantum_platform", token=env[
            "QISKIT_IBM_TOKEN"], url=env.get("QISKIT_IBM_URL"),
            instance=env["QISKIT_IBM_INSTANCE"])
    except BaseException:
        Connection(None, server, saved, interception).close()
        raise
    return Connection(service, server, saved, interception)


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` in ``os.environ`` for the block."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def billed(emulator: Emulator) -> dict[str, float]:
    """QPU seconds billed per instance, as the trace bills them (``insight.metrics``): a
    dedicated session its active time, a meter still running counted until the trace's
    last record; every other job the usage its end recorded."""
    from qsession.insight.metrics import compute

    metrics = compute(emulator.trace.records)
    out = {i.name: 0.0 for i in emulator.instances.values()}
    dedicated = {sid for sid, s in metrics.sessions.items() if s.mode == "dedicated"}
    for sid in dedicated:
        s = metrics.sessions[sid]
        if s.instance in out:
            out[s.instance] += s.usage_time
    for job in metrics.jobs.values():
        if job.session not in dedicated and job.instance in out:
            out[job.instance] += job.usage
    return out


def summarize(emulator: Emulator) -> dict[str, Any]:
    """What happened: sessions, activations, deactivations, expiries, jobs and usage billed."""
    trace = emulator.trace
    sessions = trace.ids("session")
    events = Counter(r.event for r in trace.records if r.entity == "session")
    activations = sum(1 for r in trace.records if r.entity == "session" and r.dest == "active"
                      and r.source != "active")
    finals = Counter(r.state for r in emulator.all_jobs())
    return {
        "clock": emulator.clock_name,
        "virtual_seconds": emulator.service.clock.now() / 1e6,
        "sessions": len(sessions),
        "activations": activations,
        "deactivations": events.get("ittl_elapsed", 0),
        "expiries": events.get("max_time_reached", 0),
        "cancels": events.get("cancel", 0),
        "jobs": dict(sorted(finals.items())),
        "usage_seconds": {name: round(seconds, 6)
                          for name, seconds in billed(emulator).items()},
        "faults": emulator.faults,
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    """The summary as a few lines for a terminal."""
    jobs = ", ".join(f"{n} {s}" for s, n in summary["jobs"].items()) or "none"
    usage = ", ".join(f"{name} {sec:g} s" for name, sec in summary["usage_seconds"].items())
    return "\n".join([
        f"qsession: {summary['sessions']} session(s) and batch(es), "
        f"{summary['activations']} activation(s), {summary['deactivations']} "
        f"deactivation(s), {summary['expiries']} expiry(ies), {summary['cancels']} cancel(s)",
        f"qsession: jobs: {jobs}",
        f"qsession: usage billed: {usage}",
        f"qsession: {summary['virtual_seconds']:g} s of {summary['clock']} time; "
        f"{summary['faults']} server fault(s)",
    ])


def write_outputs(emulator: Emulator, out_dir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """The demo's outputs beside the streamed trace: Perfetto JSON and the timeline picture.

    Returns the files written and, by file name, why each other one was skipped (the
    timeline needs the ``plot`` extra; without it the run still ends with its summary).
    """
    from qsession.insight.perfetto import write_perfetto
    from qsession.insight.timeline import TIMELINE_FILES, plot_missing

    files = {"trace.perfetto.json": write_perfetto(emulator.trace,
                                                   out_dir / "trace.perfetto.json")}
    missing = plot_missing()
    if missing is not None:
        return files, dict.fromkeys(TIMELINE_FILES, missing)
    from qsession.insight.timeline import draw_timeline

    png, svg = (out_dir / name for name in TIMELINE_FILES)
    draw_timeline(emulator.trace, png, svg, title="qsession run")
    return {**files, png.name: png, svg.name: svg}, {}


def skipped_lines(skipped: dict[str, str]) -> list[str]:
    """One line per reason: the files not written because of it."""
    by_reason: dict[str, list[str]] = {}
    for name, why in skipped.items():
        by_reason.setdefault(why, []).append(name)
    return [f"qsession: skipped {', '.join(names)}: {why}" for why, names in by_reason.items()]


def run_command(command: Sequence[str], *, out_dir: Path, host: str = DEFAULT_HOST,
                port: int = 0, echo: Callable[[str], None] = print,
                control_token: str | None = None, allow_hosts: Sequence[str] = (),
                force: bool = False, **emulator_options: Any) -> int:
    """``qsession run -- COMMAND``: serve, run COMMAND in the client's environment, report.

    COMMAND's requests for IBM's hosts reach the server through the intercepting proxy
    (``intercept.py``, ``runenv.py``); other hosts are refused unless in ``allow_hosts``.
    Returns COMMAND's exit status. On the virtual and fast clocks the jobs COMMAND left
    queued are run to their end before the report (every accepted job ends once).
    ``out_dir`` holding an earlier run's outputs, or a busy port, is a ``StartError``
    before anything starts (``force``: replace the outputs). A SIGTERM or SIGINT stops
    COMMAND first (``stopping.wait_for``); the report and the outputs are written after.
    """
    with interrupts() as received:
        return _run(command, received, out_dir=out_dir, host=host, port=port, echo=echo,
                    control_token=control_token, allow_hosts=allow_hosts, force=force,
                    **emulator_options)


def _run(command: Sequence[str], received: list[int], *, out_dir: Path, host: str, port: int,
         echo: Callable[[str], None], control_token: str | None, allow_hosts: Sequence[str],
         force: bool, **emulator_options: Any) -> int:
    from . import runreport
    from .intercept import Proxy, RunCA, run_folder
    from .runenv import PrivateHome, child_env, named_instances, roots_of

    sock = listening_socket(host, port)
    try:
        claim_outputs(out_dir, force=force)
    except BaseException:
        sock.close()
        raise
    # The output folder is the platform's state folder, started afresh: a run that crashed
    # leaves its trace, inputs and results there to inspect (or resume with serve --state).
    emulator = Emulator(state_dir=out_dir, fresh=True, fsync="off", **emulator_options)
    folder = run_folder()
    server = Server(emulator, host, port, control_token=control_token, sock=sock).start()
    echo(f"qsession: serving on {server.url}; the live page: {server.page_url}")
    proxy: Proxy | None = None
    watch: runreport.StderrWatch | None = None
    home: PrivateHome | None = None
    try:
        ca = RunCA(folder)
        bundle = ca.write_bundle(roots_of(os.environ))
        proxy = Proxy.serving(server, ca, allow=allow_hosts).start()
        default = next(iter(emulator.instances.values()))
        home = PrivateHome.make(Path(os.path.expanduser("~")), folder, default.crn)
        if not emulator.strict_accounts:
            for locator in [*home.instances, *named_instances(command, os.environ)]:
                emulator.add_tenant(locator)
        env = child_env(os.environ, proxy_url=proxy.url, bundle=bundle, ca_cert=ca.cert_path,
                        home=home.path)
        try:
            child = subprocess.Popen(list(command), env=env, stderr=subprocess.PIPE)
        except (FileNotFoundError, PermissionError) as err:
            echo(f"qsession: cannot run {command[0]!r}: {err.strerror}")
            status = 127
        else:
            assert child.stderr is not None
            watch = runreport.StderrWatch(child.stderr, _stderr_bytes())
            status = wait_for(child, received)
            watch.join()
        if emulator.clock_name != "wall":
            try:
                emulator.service.run_until_idle()
            except KeyboardInterrupt:  # stopped again: report what there is
                echo("qsession: interrupted before the jobs left queued ran to their end")
        summary = summarize(emulator)
    finally:
        if proxy is not None:
            proxy.stop()
        server.stop()
        if home is not None:
            home.give_back()
        shutil.rmtree(folder, ignore_errors=True)
    files, skipped = write_outputs(emulator, out_dir)
    echo(format_summary(summary))
    served = list(emulator.backends)
    echo(f"qsession: backends served: {', '.join(served)}")
    attempts = proxy.attempts if proxy is not None else []
    untrusted = proxy.untrusted if proxy is not None else []
    for line in [*runreport.traffic_lines(attempts, server.router.requests, untrusted),
                 *runreport.nothing_emulated(attempts, server.router.requests),
                 *runreport.backend_hint(watch, served, runreport.bundled_backends())]:
        echo(line)
    written = ", ".join(str(p) for p in [out_dir / "trace.jsonl", *files.values()])
    echo(f"qsession: wrote {written}")
    for line in skipped_lines(skipped):
        echo(line)
    return status


def _stderr_bytes() -> Any:
    """This process's standard error, binary where it can be (the child's bytes unchanged)."""
    import sys

    return getattr(sys.stderr, "buffer", sys.stderr)
