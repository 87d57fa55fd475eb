"""Per-QPU settings (timeouts, plan limits, instances) and parsing of ``max_time`` values."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import IBMInputValueError

DAY_S = 86_400.0
DEFAULT_INSTANCE = "default"

_UNIT_S = {"d": DAY_S, "h": 3600.0, "m": 60.0, "s": 1.0}
_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([dhms])", re.IGNORECASE)


def parse_duration(value: float | str, what: str = "max_time") -> float:
    """Seconds from a positive number or a string like ``"2h 30m 40s"`` (units d, h, m, s).

    Zero, negative, non-finite and unparsable values raise ``IBMInputValueError`` naming
    ``what`` and the accepted forms.
    """
    forms = f'{what} takes seconds (e.g. 3600) or a string like "2h 30m 40s" (units d/h/m/s)'
    if isinstance(value, bool):
        raise IBMInputValueError(f"{what}={value!r} is not a duration; {forms}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            seconds = _parse_units(text, what, forms)
    else:
        raise IBMInputValueError(f"{what}={value!r} is not a duration; {forms}")
    if not math.isfinite(seconds):
        raise IBMInputValueError(f"{what}={value!r} is not finite; {forms}")
    if seconds <= 0:
        raise IBMInputValueError(f"{what}={value!r} must be positive; {forms}")
    return seconds


def _parse_units(text: str, what: str, forms: str) -> float:
    total, pos, seen = 0.0, 0, set()
    for match in _TOKEN.finditer(text):
        if match.start() != pos:
            break
        unit = match.group(2).lower()
        if unit in seen:
            raise IBMInputValueError(f"{what}={text!r} repeats the unit {unit!r}; {forms}")
        seen.add(unit)
        total += float(match.group(1)) * _UNIT_S[unit]
        pos = match.end()
    if not seen or text[pos:].strip():
        raise IBMInputValueError(f"{what}={text!r} cannot be parsed; {forms}")
    return total


@dataclass(frozen=True)
class QPUSettings:
    """What a QPU's plan allows: timeouts, the max-time cap, instances and fair share.

    Defaults are IBM's last documented values: session ITTL 60 s, batch ITTL 1 s, max
    time 8 h, a 28-day fair-share window, one instance.
    """

    interactive_timeout: float = 60.0
    batch_interactive_timeout: float = 1.0
    max_time: float = 8 * 3600.0
    max_time_limit: float | None = None
    instances: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({DEFAULT_INSTANCE: 1.0})
    )
    fair_share_window: float = 28 * DAY_S

    def __post_init__(self) -> None:
        for name in ("interactive_timeout", "batch_interactive_timeout", "fair_share_window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and value > 0
            ):
                raise IBMInputValueError(f"{name}={value!r} must be a positive number of seconds")
        object.__setattr__(self, "max_time", parse_duration(self.max_time, "max_time"))
        if self.max_time_limit is not None:
            limit = parse_duration(self.max_time_limit, "max_time_limit")
            object.__setattr__(self, "max_time_limit", limit)
            if self.max_time > limit:
                raise IBMInputValueError(
                    f"default max_time {self.max_time:g}s exceeds the plan's limit {limit:g}s"
                )
        if not isinstance(self.instances, Mapping):
            raise IBMInputValueError(
                f"instances={self.instances!r} must map each instance name to its allocation. "
                "Fix: e.g. instances={'a': 0.7, 'b': 0.3}")
        if not self.instances:
            raise IBMInputValueError("instances must name at least one instance")
        for name, share in self.instances.items():
            if isinstance(share, bool) or not isinstance(share, int | float) or not (
                math.isfinite(share) and share > 0
            ):
                raise IBMInputValueError(
                    f"instance {name!r} has allocation {share!r}; allocations are positive "
                    "numbers (shares of the QPU, e.g. {'a': 0.7, 'b': 0.3})"
                )
        object.__setattr__(self, "instances", MappingProxyType(dict(self.instances)))

    @property
    def default_instance(self) -> str:
        """The instance used when none is named (the first one)."""
        return next(iter(self.instances))

    def session_max_time(self, requested: float | str | None) -> float:
        """The max time for a new session: ``requested`` checked against the plan, or default."""
        if requested is None:
            return self.max_time
        seconds = parse_duration(requested, "max_time")
        if self.max_time_limit is not None and seconds > self.max_time_limit:
            raise IBMInputValueError(
                f"max_time={requested!r} ({seconds:g}s) exceeds this QPU's plan limit of "
                f"{self.max_time_limit:g}s; ask for at most that"
            )
        return seconds

    def check_instance(self, instance: str | None) -> str:
        """``instance`` if this QPU knows it (default: the first instance)."""
        if instance is None:
            return self.default_instance
        if instance not in self.instances:
            raise IBMInputValueError(
                f"unknown instance {instance!r}; this QPU's instances are "
                f"{', '.join(map(repr, self.instances))}"
            )
        return instance
