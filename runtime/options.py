"""Primitive options with ``qiskit-ibm-runtime``'s names; unknown names are refused, not ignored.

Options take effect in the emulator: ``default_shots``, ``default_precision``,
``seed_simulator`` (also accepted as ``simulator={"seed_simulator": ...}`` as in
qiskit-ibm-runtime), ``max_execution_time`` and ``environment.job_tags``. Names that only
tune hardware execution (twirling, dynamical decoupling, resilience, execution) are
accepted so that IBM code runs unchanged, and recorded as ignored.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from .errors import IBMInputValueError

# Hardware-only option groups: accepted for compatibility, no effect on an emulated QPU.
_HARDWARE_ONLY = ("dynamical_decoupling", "twirling", "resilience", "resilience_level",
                  "execution", "experimental", "seed_estimator")


@dataclass
class _Options:
    """Options common to both primitives."""

    _primitive: ClassVar[str] = "primitive"

    seed_simulator: int | None = None
    max_execution_time: float | None = None
    job_tags: list[str] = field(default_factory=list)
    ignored: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, options: Mapping[str, Any] | _Options | None) -> Any:
        """Options from a dict (IBM style), an options object (copied) or None."""
        if options is None:
            return cls()
        if isinstance(options, cls):
            return cls(**{f.name: getattr(options, f.name) for f in fields(cls)})
        if not isinstance(options, Mapping):
            raise TypeError(f"Invalid 'options' type. It can only be a dictionary of "
                            f"{cls.__name__} options, not {type(options).__name__}")
        built = cls()
        for key, value in options.items():
            built.set(key, value)
        return built

    def set(self, key: str, value: Any) -> None:
        """Set one option by its IBM name, validating it."""
        if key == "shots":
            # The V1 primitives' name (the seed example uses it); IBM's V2 client refuses it.
            warnings.warn(
                f"{self._primitive} options: 'shots' is the V1 name; use 'default_shots' "
                "(qiskit-ibm-runtime 0.51 rejects 'shots')", FutureWarning, stacklevel=4)
            key = "default_shots"
        if key == "simulator" and isinstance(value, Mapping):
            for sub, subvalue in value.items():
                if sub != "seed_simulator":
                    self.ignored[f"simulator.{sub}"] = subvalue
                else:
                    self.set("seed_simulator", subvalue)
            return
        if key == "environment" and isinstance(value, Mapping):
            tags = value.get("job_tags")
            if tags is not None:
                self.set("job_tags", tags)
            self.ignored.update({f"environment.{k}": v for k, v in value.items()
                                 if k != "job_tags"})
            return
        if key in _HARDWARE_ONLY:
            self.ignored[key] = value
            return
        names = [f.name for f in fields(self) if f.name != "ignored"]
        if key not in names:
            known = ", ".join(sorted([*names, "simulator", "environment", *_HARDWARE_ONLY]))
            raise IBMInputValueError(
                f"{self._primitive} has no option {key!r}; known options: {known}")
        setattr(self, key, self._checked(key, value))

    def _checked(self, key: str, value: Any) -> Any:
        if value is None:
            return None
        if key == "seed_simulator":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise IBMInputValueError(f"seed_simulator must be an int >= 0, not {value!r}")
        elif key == "max_execution_time":
            _positive(key, value)
        elif key == "job_tags":
            if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
                raise IBMInputValueError(f"job_tags must be a list of strings, not {value!r}")
            return list(value)
        return value


@dataclass
class SamplerOptions(_Options):
    """Options of ``SamplerV2``: ``default_shots`` (4096, IBM's documented default) and the rest."""

    _primitive: ClassVar[str] = "SamplerV2"

    default_shots: int = 4096

    def _checked(self, key: str, value: Any) -> Any:
        if key == "default_shots":
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise IBMInputValueError(
                    f"default_shots must be a positive int, not {value!r}")
            return value
        return super()._checked(key, value)


@dataclass
class EstimatorOptions(_Options):
    """Options of ``EstimatorV2``: ``default_precision`` (0.015625) or ``default_shots``."""

    _primitive: ClassVar[str] = "EstimatorV2"

    default_precision: float = 0.015625
    default_shots: int | None = None

    def _checked(self, key: str, value: Any) -> Any:
        if key == "default_precision":
            _positive(key, value)
            return float(value)
        if key == "default_shots":
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise IBMInputValueError(f"default_shots must be a positive int, not {value!r}")
            return value
        return super()._checked(key, value)

    def precision(self) -> float:
        """The precision to use: from ``default_shots`` (1/√shots) if set, as IBM does."""
        if self.default_shots is not None:
            return 1 / math.sqrt(self.default_shots)
        return self.default_precision


def _positive(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
        math.isfinite(value) and value > 0
    ):
        raise IBMInputValueError(f"{key} must be a positive number, not {value!r}")
