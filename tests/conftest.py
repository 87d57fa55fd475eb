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


@pytest.fixture(autouse=True)
def server_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every qsession server this process ran during the test answered no request with a
    fault (a 500): bad input must be a 4xx. Torn down last, after the test's own servers
    stopped. A test that injects faults on purpose says how many with
    ``@pytest.mark.server_faults(n)``.
    """
    before = _faults_so_far()
    yield
    marker = request.node.get_closest_marker("server_faults")
    expected = int(marker.args[0]) if marker is not None else 0
    faults = _faults_so_far() - before
    assert faults == expected, (
        f"the qsession server answered {faults} request(s) with a server fault (500) during "
        f"this test, {expected} expected: see the 'server fault on' log lines above")
