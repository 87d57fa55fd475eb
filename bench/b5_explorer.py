"""B5: the bounded explorer over the whole abstract state space at its default bound.

Uses the public ``qsession.properties.explorer.explore()`` with its default bound; when
the explorer is missing or fails, the row says so and is "not measurable".
"""

from __future__ import annotations

import inspect
import time
import traceback
from typing import Any

from .common import Result, fmt_rate, verdict

TARGET_S = 30.0


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B5 (``quick``: a 1-session, 2-job bound)."""
    figure = "explorer, whole space at the default bound"
    try:
        from qsession.properties.explorer import explore
    except Exception as err:  # missing or broken: not measurable, say why
        return Result("B5", figure, "—", "—", "—", f"≤ {TARGET_S:g} s; report states/s",
                      "not measurable", notes=[f"cannot import explore(): {err!r}"])
    params = inspect.signature(explore).parameters
    bound = {name: p.default for name, p in params.items()
             if p.default is not inspect.Parameter.empty and name.startswith("max_")}
    kwargs: dict[str, Any] = {"max_sessions": 1, "max_jobs": 2} if quick else {}
    began = time.perf_counter()
    try:
        result = explore(**kwargs)
    except Exception:
        return Result("B5", figure, "—", "—", "—", f"≤ {TARGET_S:g} s; report states/s",
                      "not measurable",
                      notes=["explore() raised:", traceback.format_exc(limit=3)])
    seconds = time.perf_counter() - began
    states = int(result.states)
    rate = states / seconds
    shown = kwargs or bound
    where = " × ".join(f"{v} {k.removeprefix('max_')}" for k, v in shown.items())
    if quick:
        figure = "explorer, whole space at a small bound (quick)"
    ok = bool(getattr(result, "ok", True))
    return Result(
        id="B5",
        figure=f"{figure} ({where})",
        subject=f"{seconds:.1f} s; {states:,} states, {result.transitions:,} transitions; "
                f"{fmt_rate(rate, 'states')}",
        baseline="—",
        ratio="—",
        target=f"≤ {TARGET_S:g} s; report states/s",
        verdict=verdict(seconds <= TARGET_S and ok),
        notes=[f"one run; depth {result.depth}; invariants checked: {len(result.checks)}; "
               f"violations: {len(result.violations)}"],
        raw={"seconds": seconds, "states": states, "transitions": result.transitions},
    )
