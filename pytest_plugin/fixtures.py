"""The fixtures: ``qsession_service``, a fresh in-process service for each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .hooks import FIXTURE_RUN

if TYPE_CHECKING:
    from qsession.runtime import LocalService


@pytest.fixture
def qsession_service(request: pytest.FixtureRequest) -> Iterator[LocalService]:
    """A fresh ``LocalService`` for this test, configured by ``@pytest.mark.qsession``.

    Virtual time unless ``--qsession-clock`` or the marker's ``clock=`` says otherwise;
    seeded from ``--qsession-seed`` and the test's node id. When the test function returns,
    the plugin runs the service until idle and fails the test if an invariant broke or a
    session was left open.
    """
    from .run import start
    from .settings import resolve, service_parameters

    item = request.node
    assert isinstance(item, pytest.Item)
    run = start(resolve(item, service_parameters()))
    item.stash[FIXTURE_RUN] = run
    try:
        yield run.service
    finally:
        run.service.close()
