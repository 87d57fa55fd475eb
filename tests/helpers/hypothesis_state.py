"""Hypothesis as the rest of the suite expects it, after a library that patches it.

Schemathesis, when its strategy builder is first imported (by its pytest plugin, or when it
builds its first strategy), swaps Hypothesis' failing-example printer for one that prints
nothing and shrinks Hypothesis' buffer sizes, for the whole process
(``schemathesis.generation.hypothesis.setup``). Every later Hypothesis test then reported
``Failing test case: f(condition=,)`` and generated under other limits. The suite does not
load Schemathesis' pytest plugin (``-p no:schemathesis`` in pyproject's addopts, and in the
plugin tests' inner runs); ``restored()`` puts back what the contract test's use changes.
It is the server's own ``hypothesis_kept`` (verify's REST part needs the same), so the
list of what Schemathesis patches is written once.
"""

from __future__ import annotations

from qsession.server.rest_properties import hypothesis_kept as restored

__all__ = ["restored"]
