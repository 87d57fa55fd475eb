"""``perturbed(condition)``: a service under a Hypothesis-drawn condition, checked per example.

Hypothesis runs a test's body once per example, but a function-scoped fixture once per
test; so a ``@given`` test builds its service inside the body::

    @given(condition=conditions())
    def test_my_loop_survives(condition):
        with perturbed(condition) as service:
            my_loop(service.backend(), think_time=condition.think_time)

When the block ends without an exception, the service is settled and judged as the
fixture's is; a problem raises ``SessionCheckFailed``, an ``AssertionError`` Hypothesis
shrinks like any other failure. The last example's trace (the shrunk one, which
Hypothesis replays last) is written out if the test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .hooks import EXAMPLE_RUN, current_item
from .run import Run, verify

if TYPE_CHECKING:
    from qsession.properties.conditions import Condition
    from qsession.runtime import LocalService


@contextmanager
def perturbed(condition: Condition, *, allow_open_sessions: bool = False,
              **service_kwargs: Any) -> Iterator[LocalService]:
    """A fresh service under ``condition``; settled and checked when the block ends."""
    service, background = condition.build(**service_kwargs)
    run = Run(service, repr(condition), "last example", background=background,
              allow_open_sessions=allow_open_sessions)
    item = current_item()
    if item is not None:
        item.stash[EXAMPLE_RUN] = run
    try:
        yield service
        verify(run)
    finally:
        service.close()
