"""Per-QPU settings, the instances and their plans, and parsing of ``max_time``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from .errors import IBMInputValueError, IBMRuntimeError
from .fairshare import DEFAULT_WINDOW_S

DAY_S = 86_400.0
DEFAULT_INSTANCE = "default"
Plan = Literal["premium", "open"]
OPEN_MAX_TIME_S = 600.0
"""The Open Plan's default and largest batch ``max_time`` (IBM: 10 minutes)."""
OPEN_QUOTA_S = 600.0
"""The Open Plan's QPU seconds per rolling window (IBM: 10 minutes per 28 days)."""
JOB_TIME_CAP_S = 10_800
"""IBM: the service-calculated job timeout "is capped at 3 hours" (guide "max execution time")."""
IDLE_CLOSE_S = 1800.0
"""IBM: "if you open a session but do not submit any jobs to it for 30 minutes, the session
automatically closes"."""

LONGEST_S = (datetime.max - datetime.min).total_seconds()
"""The longest duration a ``datetime`` can span: a longer ``max_time`` has no deadline instant."""

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
        try:
            seconds = float(value)
        except OverflowError:  # an int with hundreds of digits: no float holds it
            raise IBMInputValueError(f"{what}={value!r:.40}... is too large; {forms}") from None
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
    if seconds > LONGEST_S:
        raise IBMInputValueError(f"{what}={value!r} is longer than any clock can show "
                                 f"({LONGEST_S:.4g} s, year 1 to 9999); {forms}")
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
class Instance:
    """One instance (tenant): its fair-share allocation and its plan's limits.

    Timeouts left as None take the QPU's (or service's) value. On ``plan="open"``
    dedicated sessions are refused, a batch's ``max_time`` defaults to and is capped at
    600 s, and the instance may use ``quota`` QPU seconds (default 600) per fair-share
    window; past it its jobs wait QUEUED.
    """

    allocation: float = 1.0
    plan: Plan = "premium"
    interactive_timeout: float | None = None
    batch_interactive_timeout: float | None = None
    max_time: float | str | None = None
    max_time_limit: float | str | None = None
    quota: float | None = None

    def __post_init__(self) -> None:
        if self.plan not in ("premium", "open"):
            raise IBMInputValueError(f"plan={self.plan!r}: plans are 'premium' and 'open'")
        share = self.allocation
        if isinstance(share, bool) or not isinstance(share, int | float) or not (
                math.isfinite(share) and share > 0):
            raise IBMInputValueError(
                f"allocation {share!r}; allocations are positive numbers (shares of the QPU, "
                "e.g. {'a': 0.7, 'b': 0.3})")
        for name in ("interactive_timeout", "batch_interactive_timeout", "quota"):
            value = getattr(self, name)
            if value is not None and not _positive(value):
                raise IBMInputValueError(f"{name}={value!r} must be a positive number of seconds")
        for name in ("max_time", "max_time_limit"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_duration(value, name))
        if self.plan == "open":
            if self.max_time_limit is None:
                object.__setattr__(self, "max_time_limit", OPEN_MAX_TIME_S)
            if self.max_time is None:
                object.__setattr__(self, "max_time", min(OPEN_MAX_TIME_S, self.limit_s or 0))
            if self.quota is None:
                object.__setattr__(self, "quota", OPEN_QUOTA_S)
        default, limit = self.max_time_s, self.limit_s
        if default is not None and limit is not None and default > limit:
            raise IBMInputValueError(
                f"default max_time {default:g}s exceeds the plan's limit {limit:g}s")

    @property
    def max_time_s(self) -> float | None:
        """The plan's default max time in seconds (None: the QPU's)."""
        return None if self.max_time is None else float(self.max_time)

    @property
    def limit_s(self) -> float | None:
        """The plan's largest max time in seconds (None: the QPU's)."""
        return None if self.max_time_limit is None else float(self.max_time_limit)

    @classmethod
    def of(cls, spec: float | Instance | Mapping[str, Any], name: str) -> Instance:
        """An ``Instance`` from an allocation, an ``Instance`` or a mapping of its fields."""
        try:
            if isinstance(spec, Instance):
                return spec
            if isinstance(spec, Mapping):
                return cls(**spec)
            return cls(allocation=spec)
        except TypeError as err:
            raise IBMInputValueError(f"instance {name!r}: {err}") from None
        except IBMInputValueError as err:
            raise IBMInputValueError(f"instance {name!r} has {err}") from None


@dataclass(frozen=True)
class QPUSettings:
    """A QPU's defaults (timeouts, max-time cap, idle close), its instances and fair share.

    Defaults are IBM's Premium-plan values: session ITTL 60 s, batch ITTL 1 s, max time
    8 h, unused sessions closed after 1,800 s, a 28-day fair-share window, one instance.
    An instance's own plan values (``Instance``) override the QPU's.
    """

    interactive_timeout: float = 60.0
    batch_interactive_timeout: float = 1.0
    max_time: float = 8 * 3600.0
    max_time_limit: float | None = None
    instances: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({DEFAULT_INSTANCE: Instance()})
    )
    fair_share_window: float = DEFAULT_WINDOW_S
    idle_close_timeout: float | None = IDLE_CLOSE_S

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
        if self.idle_close_timeout is not None and not _positive(self.idle_close_timeout):
            raise IBMInputValueError(
                f"idle_close_timeout={self.idle_close_timeout!r} must be a positive number of "
                "seconds, or None to keep unused sessions open")
        if not self.instances:
            raise IBMInputValueError("instances must name at least one instance")
        instances = {name: Instance.of(spec, name) for name, spec in self.instances.items()}
        object.__setattr__(self, "instances", MappingProxyType(instances))

    def instance(self, name: str) -> Instance:
        """The instance called ``name`` (it must be one of this QPU's)."""
        found = self.instances[self.check_instance(name)]
        assert isinstance(found, Instance)
        return found

    @property
    def allocations(self) -> dict[str, float]:
        """Each instance's fair-share allocation."""
        return {name: i.allocation for name, i in self.instances.items()}

    def interactive_timeout_of(self, instance: str, mode: str) -> float:
        """The ITTL a new session (``dedicated``) or batch of ``instance`` gets."""
        i = self.instance(instance)
        if mode == "dedicated":
            return self.interactive_timeout if i.interactive_timeout is None \
                else i.interactive_timeout
        return self.batch_interactive_timeout if i.batch_interactive_timeout is None \
            else i.batch_interactive_timeout

    def check_mode(self, instance: str, mode: str) -> None:
        """Refuse a dedicated session on the Open Plan, as IBM does."""
        if mode == "dedicated" and self.instance(instance).plan == "open":
            raise IBMRuntimeError(
                f"Instance {instance!r} is on the Open Plan: Open Plan users cannot submit "
                "session jobs. Run the workload in job mode (pass the backend as the "
                "primitive's mode) or in a Batch.")

    def quota_of(self, instance: str) -> float | None:
        """QPU seconds ``instance`` may use per fair-share window (None: no quota)."""
        return self.instance(instance).quota

    @property
    def default_instance(self) -> str:
        """The instance used when none is named (the first one)."""
        return next(iter(self.instances))

    def session_max_time(self, requested: float | str | None,
                         instance: str | None = None) -> float:
        """The max time for a new session: ``requested`` checked against the plan, or default."""
        plan = self.instance(instance or self.default_instance)
        default = self.max_time if plan.max_time_s is None else plan.max_time_s
        limit = self.max_time_limit if plan.limit_s is None else plan.limit_s
        if requested is None:
            return default if limit is None else min(default, limit)
        seconds = parse_duration(requested, "max_time")
        if limit is not None and seconds > limit:
            where = "the Open Plan's" if plan.plan == "open" else "this QPU's plan"
            raise IBMInputValueError(
                f"max_time={requested!r} ({seconds:g}s) exceeds {where} limit of "
                f"{limit:g}s; ask for at most that"
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


def job_time_limit(requested: object, session_max_time_s: float | None) -> int:
    """A job's effective ``max_execution_time``: an int of QPU seconds, at most 10,800 s.

    In a session, asking for more than the session's ``max_time`` is refused.
    """
    if requested is None:
        return JOB_TIME_CAP_S
    if isinstance(requested, bool) or not isinstance(requested, int | float) or not (
            requested > 0 and (isinstance(requested, int)  # float() of a huge int overflows
                               or (math.isfinite(requested) and requested.is_integer()))):
        raise IBMInputValueError(
            f"max_execution_time={requested!r}: give a positive int of seconds (IBM's type), "
            f"at most {JOB_TIME_CAP_S}")
    seconds = int(requested)
    if session_max_time_s is not None and seconds > session_max_time_s:
        raise IBMInputValueError(
            f"max_execution_time={seconds} exceeds the session's max_time of "
            f"{session_max_time_s:g}s; ask for at most that, or open the session with a "
            "larger max_time")
    return min(seconds, JOB_TIME_CAP_S)


def _positive(value: object) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value) and value > 0)
