"""Test-wide setup: the Hypothesis profile (``ci`` under CI, ``dev`` otherwise), pytester,
and the server-fault check every test gets.

``pytester`` (pytest's own plugin for testing plugins) runs the user test files of
tests/pytest_plugin; pytest accepts ``pytest_plugins`` only in this top-level conftest.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from qsession.properties.profiles import load_profile

pytest_plugins = ["pytester"]

load_profile()


def _faults_so_far() -> int:
    # Read without importing: a test that started no server must not pay for the import.
    module = sys.modules.get("qsession.server.emulator")
    return 0 if module is None else int(module.Emulator.faults_in_process)


class _Charged:
    """Faults so far that a test was charged with (expected by its marker, or failed it)."""

    faults = 0


def _account(what: str) -> None:
    """Charge the faults counted since the last look to ``what``: they must be none."""
    now = _faults_so_far()
    unseen, _Charged.faults = now - _Charged.faults, now
    assert unseen == 0, (
        f"the qsession server answered {unseen} request(s) with a server fault (500) {what}: "
        "see the 'server fault on' log lines above")


@pytest.fixture(scope="session", autouse=True)
def server_faults_outside_tests() -> Iterator[None]:
    """No fault in a fixture's setup or teardown after the last test (a module's server
    torn down at the end): checked when the session's fixtures are torn down."""
    yield
    _account("in a fixture's teardown after the last test")


@pytest.fixture(autouse=True)
def server_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every qsession server this process ran during the test answered no request with a
    fault (a 500): bad input must be a 4xx. Torn down last, after the test's own servers
    stopped. A test that injects faults on purpose says how many with
    ``@pytest.mark.server_faults(n)``. Faults between tests (a module or session fixture's
    setup or teardown) fail the next test's setup, or the session's end.
    """
    _account("outside any test (a fixture's setup or teardown before this test)")
    yield
    marker = request.node.get_closest_marker("server_faults")
    expected = int(marker.args[0]) if marker is not None else 0
    faults = _faults_so_far() - _Charged.faults
    _Charged.faults += faults
    assert faults == expected, (
        f"the qsession server answered {faults} request(s) with a server fault (500) during "
        f"this test, {expected} expected: see the 'server fault on' log lines above")
