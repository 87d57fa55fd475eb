"""Fixtures: scheduler rigs on a virtual clock and, for the same scenarios, a fast wall clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers.rig import Rig, RigFactory, make_clock


def _factory(kind: str) -> Iterator[RigFactory]:
    rigs: list[Rig] = []

    def make(**settings: Any) -> Rig:
        rig = Rig(make_clock(kind), **settings)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


@pytest.fixture(params=["virtual", pytest.param("wall", marks=pytest.mark.wall)])
def make_rig(request: pytest.FixtureRequest) -> Iterator[RigFactory]:
    """Build rigs on the parametrized clock (every scenario runs on both)."""
    yield from _factory(request.param)


@pytest.fixture
def make_virtual_rig() -> Iterator[RigFactory]:
    """Build rigs on a virtual clock (scenarios that need exact instants)."""
    yield from _factory("virtual")
