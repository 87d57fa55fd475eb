"""The invariants as code: one named check per id, over any qsession trace.

``qsession docs semantics "Invariants"`` states them all.

Each invariant is a small ``Checker`` that watches the records of a trace as they are
replayed (``properties.replay``) and reports the records that break it. ``check(trace)``
runs them all; ``Monitor`` runs them incrementally on a growing trace (the stateful
tests call it after every step). ``INVARIANTS`` is the registry: id, statement, checker.

Checks happen at three moments: at a record (e.g. a job start during an active
session), at the end of an instant (after every record at that time, when the scheduler
has settled: work conservation, drained sessions), and when time passes a deadline with
no record (a missed ITTL deactivation or max-TTL expiry).

The checkers are grouped by family: ``lifecycle`` (session and job events, timers),
``scheduling`` (who starts, in which order, no needless idling), ``accounting`` (billing
and fair-share charges), ``integrity`` (states, ids, time); ``base`` holds what they
share and ``monitor`` the registry and the runners. What other packages use is exported
here: the registry (``INVARIANTS``, ``CHECKERS``), the runners (``check``, ``Monitor``)
and what they return; a checker class is imported from its family's module.

They are a deliberately independent reading of the semantics: they
look only at the trace's records, keep their own ledgers and views of sessions and jobs,
and never call the rules the runtime and the explorer execute (the model's tables and
coupling rules, ``dispatch.select``, the runtime's fair-share ledger). A rule written
wrongly in one place is therefore caught here rather than repeated here.
"""

from __future__ import annotations

from .base import Checker, Violation
from .monitor import CHECKERS, INVARIANTS, Invariant, Monitor, Report, check, check_invariant

__all__ = ["CHECKERS", "INVARIANTS", "Checker", "Invariant", "Monitor", "Report", "Violation",
           "check", "check_invariant"]
