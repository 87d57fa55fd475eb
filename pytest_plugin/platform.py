"""``qsession_platform``: the HTTP server for a test module, for unmodified client code.

One server per test module (starting one costs a uvicorn thread and the client's fake
backends), with the client's environment (``QISKIT_IBM_URL``, ``IAM_URL``, ...) set for
the module, so ``QiskitRuntimeService()`` in the code under test connects with nothing
changed. Each test gets a ``Platform`` handle to steer time and read the trace; when the
test returns, the plugin checks it as it does ``qsession_service``'s, judging only what
happened during that test (the server's trace spans the module).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .hooks import PLATFORM_RUN
from .run import Run
from .settings import MarkerError, derive_seed, did_you_mean, seed_option

if TYPE_CHECKING:
    from qsession.runtime import LocalService, Trace
    from qsession.server import Server

MARKER = "qsession_platform"
DEFAULT_CLOCK = "fast"
"""Virtual time that jumps while the client waits on a job, with the time the client spends
between requests measured: exact enough for tests, and nothing to steer."""


@dataclass
class Platform:
    """A handle on the module's server: its address and environment, its time, its trace."""

    server: Server

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.server.url

    @property
    def env(self) -> dict[str, str]:
        """The variables the client reads (set in ``os.environ`` for the module)."""
        return self.server.env()

    @property
    def service(self) -> LocalService:
        """The ``LocalService`` behind the server (for ``sessions()`` and the like)."""
        return self.server.emulator.service

    @property
    def trace(self) -> Trace:
        """The server's trace (the whole module's)."""
        return self.server.emulator.trace

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of the server's time pass."""
        self.server.advance(seconds)

    def run_until_idle(self) -> None:
        """Advance until no job is queued or running."""
        self.server.run_until_idle()

    def now(self) -> float:
        """The server's time in seconds since its epoch."""
        return self.server.now_seconds()


def _settings(node: pytest.Module | pytest.Item, nodeid: str, base: int) -> dict[str, Any]:
    from qsession.server import Emulator

    settings: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers(MARKER))):
        if mark.args:
            raise MarkerError("@pytest.mark.qsession_platform takes keywords only, not "
                              f"{mark.args!r}")
        settings.update(mark.kwargs)
    accepted = set(inspect.signature(Emulator).parameters) - {"trace_path", "token"}
    unknown = sorted(set(settings) - accepted)
    if unknown:
        raise MarkerError(f"@pytest.mark.qsession_platform got unknown keyword(s) {unknown}; "
                          f"it takes {', '.join(sorted(accepted))}"
                          f"{did_you_mean(unknown, accepted)}")
    settings.setdefault("clock", DEFAULT_CLOCK)
    settings.setdefault("seed", derive_seed(base, nodeid))
    return settings


@pytest.fixture(scope="module")
def qsession_platform_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The module's server, its client environment set in ``os.environ`` while it runs."""
    from qsession.server import Emulator, Server

    node = request.node
    assert isinstance(node, pytest.Module | pytest.Item)
    settings = _settings(node, node.nodeid, seed_option(request.config))
    server = Server(Emulator(**settings)).start()
    patch = pytest.MonkeyPatch()
    try:
        for key, value in server.env().items():
            patch.setenv(key, value)
        yield server
    finally:
        patch.undo()
        server.stop()


@pytest.fixture
def qsession_platform(qsession_platform_server: Server,
                      request: pytest.FixtureRequest) -> Platform:
    """The module's HTTP server for this test: ``QiskitRuntimeService()`` reaches it.

    When the test returns, the plugin runs the server's service until idle (not on the
    wall clock) and fails the test if an invariant broke during it or a session it opened
    was left open.
    """
    server = qsession_platform_server
    emulator = server.emulator
    item = request.node
    assert isinstance(item, pytest.Item)
    trace = emulator.trace
    start = trace.records[-1].seq + 1 if trace.records else 0
    item.stash[PLATFORM_RUN] = Run(
        emulator.service, f"server {server.url}, clock {emulator.clock_name}, seed "
        f"{emulator.service.seed} (one per module)", "platform", first_seq=start)
    return Platform(server)
