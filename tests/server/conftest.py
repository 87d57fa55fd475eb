"""Fixtures for the HTTP door: a real server on 127.0.0.1 (free port) and the real client.

Every test drives qiskit-ibm-runtime 0.51 unmodified; the server runs in this process on
a background thread (``qsession.server.connect``), on the virtual clock unless a test
says otherwise, so timestamps are exact. Backends are noiseless copies of the bundled
fake backends (same configuration, properties and target; Aer runs without noise) to
keep the suite fast and the counts deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.server import start

from qsession.server import Connection


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The 0.50+ client warns that its V2 primitives will move; the programs here use them."""
    for item in items:
        if "tests/server/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings(
                "ignore:The (Sampler|Estimator)V2 class is deprecated:DeprecationWarning"))


@pytest.fixture
def conn() -> Iterator[Connection]:
    """A fresh virtual-clock server with ibm_brisbane, and the real client's service."""
    connection = start()
    try:
        yield connection
    finally:
        connection.close()
