"""Hypothesis as the rest of the suite expects it, after a library that patches it.

Schemathesis, when its strategy builder is first imported (by its pytest plugin, or when it
builds its first strategy), swaps Hypothesis' failing-example printer for one that prints
nothing and shrinks Hypothesis' buffer sizes, for the whole process
(``schemathesis.generation.hypothesis.setup``). Every later Hypothesis test then reported
``Failing test case: f(condition=,)`` and generated under other limits. The suite does not
load Schemathesis' pytest plugin (``-p no:schemathesis`` in pyproject's addopts, and in the
plugin tests' inner runs); ``restored()`` puts back what the contract test's use changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _patched_places() -> list[tuple[Any, str]]:
    from hypothesis import core as root_core
    from hypothesis.internal import entropy
    from hypothesis.internal.conjecture import engine
    from hypothesis.strategies._internal import collections, core

    return [(root_core, "RepresentationPrinter"), (root_core, "BUFFER_SIZE"),
            (engine, "BUFFER_SIZE"), (collections, "BUFFER_SIZE"),
            (core, "is_first_param_referenced_in_function"), (entropy, "register_random")]


@contextmanager
def restored() -> Iterator[None]:
    """Run the block, then give Hypothesis back the attributes Schemathesis' setup replaces."""
    places = _patched_places()
    saved = [getattr(owner, name) for owner, name in places]
    try:
        yield
    finally:
        for (owner, name), value in zip(places, saved, strict=True):
            setattr(owner, name, value)
        try:  # let a later Schemathesis test patch (and this restore) again
            from schemathesis.generation import hypothesis as schemathesis_hypothesis
        except ImportError:
            return
        setup: Any = schemathesis_hypothesis.setup
        if getattr(setup, "_is_patched", False):
            setup._is_patched = False
