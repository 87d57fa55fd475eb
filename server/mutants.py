"""Seeded bugs in the HTTP door's wire mapping, for ``qsession verify --mutants``.

Each patches one entry or one function of ``server/wire.py`` (the one mapping between the
runtime and IBM's JSON) for the duration of ``with mutant.applied():``; the doors part
(``server/doors.py``) must see the HTTP door disagree with the in-process one.
"""

from __future__ import annotations

from unittest import mock

from qsession.properties.mutants import Mutant

from . import wire


def _float_seconds(value: float | int | None) -> float | int | None:
    return None if value is None else float(value)  # BUG: IBM sends ints for whole seconds


WIRE_MUTANTS: tuple[Mutant, ...] = (
    Mutant("wire-pending-as-active", "a session that never ran a job is reported active",
           frozenset({"INV-DOORS"}),
           lambda: [mock.patch.dict(wire.SESSION_STATE, {"pending": "active",
                                                                 "open": "active"})]),
    Mutant("wire-ttl-as-float", "whole seconds (TTLs) go over the wire as floats",
           frozenset({"INV-DOORS"}),
           lambda: [mock.patch.object(wire, "seconds_out", _float_seconds)]),
    Mutant("wire-cancelled-as-failed", "a cancelled job is reported Failed",
           frozenset({"INV-DOORS"}),
           lambda: [mock.patch.dict(wire.JOB_STATUS, {"CANCELLED": "Failed"})]),
)
"""The wire-mapping catalogue (the doors part kills each)."""

