"""Hypothesis settings profiles, registered in one place: ``dev`` (default), ``ci``, ``deep``.

``ci`` extends Hypothesis' built-in ``ci`` profile (derandomized, no database), which
Hypothesis loads by itself when the ``CI`` environment variable is set. Choose another
with ``HYPOTHESIS_PROFILE=deep`` or ``qsession verify --profile deep``.

Loading a profile also freezes Hypothesis' pool of "local constants": Hypothesis mixes into
its draws the literals of every non-installed module loaded in the process, so a
derandomized run explored differently depending on which modules earlier tests (or a
campaign's other parts) had imported. Frozen, the same seed gives the same runs in any
process, on one machine or many.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = ("dev", "ci", "deep")
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]


def register_profiles() -> None:
    """Register the three profiles (idempotent)."""
    settings.register_profile(
        "dev", max_examples=60, deadline=None, suppress_health_check=_SLOW_OK
    )
    settings.register_profile(
        "ci",
        settings.get_profile("ci"),
        max_examples=150,
        deadline=None,
        suppress_health_check=_SLOW_OK,
        print_blob=True,
    )
    settings.register_profile(
        "deep",
        max_examples=5_000,
        stateful_step_count=80,
        deadline=None,
        suppress_health_check=_SLOW_OK,
    )


def freeze_local_constants() -> bool:
    """Make Hypothesis draw no constants from loaded modules; False if this Hypothesis has none.

    The pool is private to Hypothesis (``providers._get_local_constants``, since 6.131), so
    this checks that the hook exists and leaves Hypothesis alone when it does not.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the providers module
        return False
    pool = getattr(providers, "_local_constants", None)
    if pool is None or not callable(getattr(providers, "_get_local_constants", None)):
        return False
    empty = type(pool)()
    providers._get_local_constants = lambda: empty
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if cache is not None:
        cache.cache.clear()
    return True


def load_profile(name: str | None = None) -> str:
    """Load profile ``name``, else ``$HYPOTHESIS_PROFILE``, else ``ci`` under CI, else ``dev``."""
    register_profiles()
    chosen = name or os.environ.get("HYPOTHESIS_PROFILE") or (
        "ci" if os.environ.get("CI") else "dev"
    )
    if chosen not in PROFILES:
        raise ValueError(f"unknown Hypothesis profile {chosen!r}; choose one of {PROFILES}")
    settings.load_profile(chosen)
    freeze_local_constants()
    return chosen
