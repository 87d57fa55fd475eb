"""Checks of the times users give (seconds): finite, not negative, within the clock's range.

One place for the rule every time argument follows, so ``advance``, ``call_at``, timeouts
and waits refuse the same inputs with the same words: non-finite values, negative ones
(unless allowed), positive ones below the clock's one-microsecond resolution, and values
that would take the clock past the last instant a ``datetime`` can show.
"""

from __future__ import annotations

import math
from numbers import Real

from .clock import US_PER_S, Clock, to_us
from .errors import IBMInputValueError


def seconds_us(value: object, what: str, clock: Clock, *, fix: str,
               since_now: bool = True) -> int:
    """``value`` seconds as microseconds, or ``IBMInputValueError`` naming ``what`` and ``fix``.

    ``since_now``: the value is a span from now (else an instant since the epoch); either
    way the instant it reaches must be one a ``datetime`` can show.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise IBMInputValueError(f"{what}={value!r} is not a number of seconds. Fix: {fix}")
    try:
        seconds = float(value)
    except OverflowError:  # an int with hundreds of digits: no float holds it
        raise IBMInputValueError(f"{what}={value!r:.40} is too large a number of seconds. "
                                 f"Fix: {fix}") from None
    if not math.isfinite(seconds):
        raise IBMInputValueError(f"{what}={value!r} is not finite. Fix: {fix}")
    if seconds < 0:
        raise IBMInputValueError(f"{what}={value!r} is negative: time only moves forward. "
                                 f"Fix: {fix}")
    if 0 < seconds < 1 / US_PER_S:
        raise IBMInputValueError(
            f"{what}={value!r} is below the clock's resolution of one microsecond (1e-06 s). "
            f"Fix: {fix}")
    # Compared in seconds first: a huge float has no integer microseconds (it is inf).
    start_s = clock.now() / US_PER_S if since_now else 0.0
    if start_s + seconds > clock.limit_us / US_PER_S:
        raise IBMInputValueError(
            f"{what}={value!r} would take the clock to {start_s + seconds:.6g} s since the "
            f"epoch, past the last instant a datetime can show ({clock.limit_us / US_PER_S:.6g}"
            f" s, 9999-12-31). Fix: {fix}")
    us = to_us(seconds)
    reach = clock.now() + us if since_now else us
    if reach > clock.limit_us:  # the seconds fitted, but rounding to a µs did not
        raise IBMInputValueError(
            f"{what}={value!r} would take the clock past the last instant a datetime can "
            f"show ({clock.limit_us / US_PER_S:.6g} s since the epoch). Fix: {fix}")
    return us
