"""Hypothesis settings profiles, registered in one place: ``dev`` (default), ``ci``, ``deep``.

``ci`` extends Hypothesis' built-in ``ci`` profile (derandomized, no database), which
Hypothesis loads by itself when the ``CI`` environment variable is set. Choose another
with ``HYPOTHESIS_PROFILE=deep`` or ``qsession verify --profile deep``.
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


def load_profile(name: str | None = None) -> str:
    """Load profile ``name``, else ``$HYPOTHESIS_PROFILE``, else ``ci`` under CI, else ``dev``."""
    register_profiles()
    chosen = name or os.environ.get("HYPOTHESIS_PROFILE") or (
        "ci" if os.environ.get("CI") else "dev"
    )
    if chosen not in PROFILES:
        raise ValueError(f"unknown Hypothesis profile {chosen!r}; choose one of {PROFILES}")
    settings.load_profile(chosen)
    return chosen
