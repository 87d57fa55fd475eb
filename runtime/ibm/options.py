"""Primitive options as ``qiskit-ibm-runtime`` 0.51 has them: nested groups, IBM's names and checks.

``SamplerOptions`` and ``EstimatorOptions`` take constructor keywords, dicts for groups
(``EstimatorOptions(resilience={"zne_mitigation": True})``), attribute assignment
(``options.twirling.enable_gates = True``) and ``update(**kwargs)``. An unknown name or an
ill-typed value raises ``IBMInputValueError`` (a ``ValueError``, as IBM's pydantic
``ValidationError`` is) whose first lines are IBM's message. Unset fields hold ``Unset``.

What the emulator does with them: ``default_shots``, ``default_precision``,
``simulator.seed_simulator``, ``simulator.noise_model``, ``max_execution_time`` and
``environment.job_tags`` take effect. ``execution.rep_delay`` changes the job's
modeled QPU time. Options only hardware can honour (twirling, dynamical decoupling,
resilience, ``execution.init_qubits``, ...) are validated, kept in the job's
inputs and named by ``not_emulated()``; the primitive reports them once per service.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from numbers import Real
from typing import Any, ClassVar

from ..engine.errors import IBMInputValueError


class UnsetType:
    """The value of an option nobody set (IBM's ``Unset``): falsy, printed ``Unset``."""

    _instance: ClassVar[UnsetType | None] = None

    def __new__(cls) -> UnsetType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Unset"

    def __bool__(self) -> bool:
        return False

    def __deepcopy__(self, memo: dict[int, Any]) -> UnsetType:
        return self


Unset = UnsetType()


class _Invalid(Exception):
    """A field check's refusal: pydantic's error type and message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _refusal(owner: str, name: str, value: Any, kind: str, message: str,
             hint: str = "") -> IBMInputValueError:
    """IBM's (pydantic's) validation message for one field, plus a line saying how to fix it."""
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:40] + "..." + shown[-15:]
    text = (f"1 validation error for {owner}\n{name}\n  {message} [type={kind}, "
            f"input_value={shown}, input_type={type(value).__name__}]")
    return IBMInputValueError(text + (f"\n{hint}" if hint else ""))


# -- field checks: each returns the stored value or raises _Invalid -------------------

Check = Callable[[str, str, Any], Any]


def _is_number(value: Any) -> bool:
    """A real number that is not a bool (numpy scalars included)."""
    return not isinstance(value, bool) and isinstance(value, Real)


def _bool(owner: str, name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    raise _Invalid("bool_type", "Input should be a valid boolean")


def _int(owner: str, name: str, value: Any) -> Any:
    if not _is_number(value):
        raise _Invalid("int_type", "Input should be a valid integer")
    if isinstance(value, int):  # float() of an int with hundreds of digits overflows
        return value
    if not float(value).is_integer():
        raise _Invalid("int_from_float",
                       "Input should be a valid integer, got a number with a fractional part")
    return int(value)


def _float(owner: str, name: str, value: Any) -> Any:
    if not _is_number(value):
        raise _Invalid("float_type", "Input should be a valid number")
    return float(value)


def _literal(*choices: str) -> Check:
    listed = " or ".join([", ".join(repr(c) for c in choices[:-1]), repr(choices[-1])]
                         if len(choices) > 1 else [repr(choices[0])])

    def check(owner: str, name: str, value: Any) -> Any:
        if value in choices and isinstance(value, str):
            return value
        raise _Invalid("literal_error", f"Input should be {listed}")
    return check


def _either(*checks: Check) -> Check:
    """The first check that accepts the value; the last one's refusal otherwise."""
    def check(owner: str, name: str, value: Any) -> Any:
        error: _Invalid | None = None
        for one in checks:
            try:
                return one(owner, name, value)
            except _Invalid as exc:
                error = exc
        assert error is not None
        raise error
    return check


def _none(owner: str, name: str, value: Any) -> Any:
    if value is None:
        return None
    raise _Invalid("none_required", "Input should be None")


def _bound(check: Check, *, ge: float | None = None, gt: float | None = None,
           le: float | None = None) -> Check:
    """IBM's ``make_constraint_validator``: a numeric value must satisfy the bound."""
    def bounded(owner: str, name: str, value: Any) -> Any:
        value = check(owner, name, value)
        if _is_number(value):
            shown = value
            if ge is not None and value < ge:
                raise _Invalid("value_error",
                               f"Value error, {owner}.{name} must be >={ge}, but is =={shown}.")
            if gt is not None and value <= gt:
                raise _Invalid("value_error",
                               f"Value error, {owner}.{name} must be >{gt}, but is =={shown}.")
            if le is not None and value > le:
                raise _Invalid("value_error",
                               f"Value error, {owner}.{name} must be <={le}, but is =={shown}.")
        return value
    return bounded


def _list_of(item: Check, *, least: float | None = None, message: str = "") -> Check:
    def check(owner: str, name: str, value: Any) -> Any:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise _Invalid("list_type", "Input should be a valid list")
        items = [item(owner, name, v) for v in value]
        if least is not None and any(float(v) < least for v in items):
            raise _Invalid("value_error", f"Value error, {message}")
        return list(items)
    return check


def _str(owner: str, name: str, value: Any) -> Any:
    if isinstance(value, str):
        return value
    raise _Invalid("string_type", "Input should be a valid string")


def _dict(owner: str, name: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise _Invalid("dict_type", "Input should be a valid dictionary")


def _noise_model(owner: str, name: str, value: Any) -> Any:
    from qiskit_aer.noise import NoiseModel

    if isinstance(value, dict | NoiseModel) or value is None:
        return value
    raise _Invalid("value_error", "Value error, 'noise_model' can only be a dictionary or "
                   "qiskit_aer.noise.NoiseModel.")


def _coupling_map(owner: str, name: str, value: Any) -> Any:
    from qiskit.transpiler import CouplingMap

    if isinstance(value, CouplingMap):
        return value
    return _list_of(_list_of(_int))(owner, name, value)


def _anything(owner: str, name: str, value: Any) -> Any:
    return value


_AUTO = _literal("auto")
_INT_OR_AUTO = _either(_int, _AUTO)


# -- groups ------------------------------------------------------------------------------


class OptionGroup:
    """One of IBM's option dataclasses: named fields with checks, and nested groups."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {}
    """Field name -> (default, check); the default is ``Unset`` unless IBM gives one."""
    _groups: ClassVar[dict[str, type[OptionGroup]]] = {}
    _emulated: ClassVar[frozenset[str]] = frozenset()
    """Fields (and groups) the emulator honours; set fields outside it are "not emulated"."""

    def __init__(self, **kwargs: Any) -> None:
        for name, (default, _) in self._fields.items():
            object.__setattr__(self, name, copy.copy(default))
        for name, group in self._groups.items():
            object.__setattr__(self, name, group())
        self._assign_all(kwargs)

    def _assign_all(self, values: Mapping[str, Any]) -> None:
        # Checks across fields run once all are set, as pydantic's model validators do.
        object.__setattr__(self, "_building", True)
        try:
            for name, value in values.items():
                if name not in self._fields and name not in self._groups:
                    raise self._unknown(name, value, "unexpected_keyword_argument",
                                        "Unexpected keyword argument")
                setattr(self, name, value)
        finally:
            object.__setattr__(self, "_building", False)
        self._validate()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._groups:
            group = self._groups[name]
            if isinstance(value, group):
                object.__setattr__(self, name, copy.deepcopy(value))
            elif isinstance(value, Mapping):
                built = group()
                built._assign_all(value)
                object.__setattr__(self, name, built)
            else:
                raise _refusal(type(self).__name__, name, value, "is_instance_of",
                               f"Input should be a {group.__name__} or a dict",
                               f"Fix: assign a dict, e.g. options.{name} = {{...}}, or set "
                               f"its fields, e.g. options.{name}.<field> = ...")
            return
        if name not in self._fields:
            raise self._unknown(name, value, "no_such_attribute",
                                f"Object has no attribute '{name}'")
        if isinstance(value, UnsetType):
            object.__setattr__(self, name, value)
            return
        try:
            checked = self._fields[name][1](type(self).__name__, name, value)
        except _Invalid as exc:
            raise _refusal(type(self).__name__, name, value, exc.kind, exc.message) from None
        object.__setattr__(self, name, checked)
        if not self.__dict__.get("_building"):
            self._validate()

    def _unknown(self, name: str, value: Any, kind: str, message: str) -> IBMInputValueError:
        known = ", ".join([*self._fields, *self._groups])
        return _refusal(type(self).__name__, name, value, kind, message,
                        f"Fix: {type(self).__name__} has the options {known}")

    def _validate(self) -> None:
        """Checks across fields (IBM's model validators); none by default."""

    # -- reading -------------------------------------------------------------------

    def to_dict(self, *, unset: bool = True) -> dict[str, Any]:
        """The options as nested dicts (as ``dataclasses.asdict`` gives IBM's); without Unset."""
        out: dict[str, Any] = {}
        for name in self._fields:
            value = getattr(self, name)
            if unset or not isinstance(value, UnsetType):
                out[name] = copy.deepcopy(value)
        for name in self._groups:
            sub = getattr(self, name).to_dict(unset=unset)
            if unset or sub:
                out[name] = sub
        return out

    def not_emulated(self, prefix: str = "") -> list[str]:
        """Dotted names of set options that the emulator accepts without emulating."""
        names: list[str] = []
        for name, (default, _) in self._fields.items():
            value = getattr(self, name)
            if (name not in self._emulated and not isinstance(value, UnsetType)
                    and value != default):
                names.append(prefix + name)
        for name in self._groups:
            if name not in self._emulated:
                names.extend(getattr(self, name).not_emulated(f"{prefix}{name}."))
        return names

    def __iter__(self) -> Iterator[str]:
        yield from self._fields
        yield from self._groups

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OptionGroup) and type(other) is type(self) and (
            self.to_dict() == other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [f"{name}={getattr(self, name)!r}" for name in self]
        return f"{type(self).__name__}({', '.join(parts)})"


class EnvironmentOptions(OptionGroup):
    """``environment``: log level, job tags, privacy."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "log_level": ("WARNING", _literal("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
        "job_tags": (None, _either(_none, _list_of(_str))),
        "private": (False, _either(_none, _bool)),
    }
    _emulated = frozenset({"job_tags", "log_level"})

    job_tags: Any


class ExecutionOptionsV2(OptionGroup):
    """``execution``: qubit initialisation and repetition delay (which the timing model uses)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "init_qubits": (Unset, _bool),
        "rep_delay": (Unset, _float),
    }
    _emulated = frozenset({"rep_delay"})


class SamplerExecutionOptionsV2(ExecutionOptionsV2):
    """The sampler's ``execution``: also ``meas_type``."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        **ExecutionOptionsV2._fields,
        "meas_type": (Unset, _literal("classified", "kerneled", "avg_kerneled")),
    }


class DynamicalDecouplingOptions(OptionGroup):
    """``dynamical_decoupling``: pulse sequences in idle periods (hardware only)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "enable": (Unset, _bool),
        "sequence_type": (Unset, _literal("XX", "XpXm", "XY4")),
        "extra_slack_distribution": (Unset, _literal("middle", "edges")),
        "scheduling_method": (Unset, _literal("alap", "asap")),
        "skip_reset_qubits": (Unset, _bool),
    }


class TwirlingOptions(OptionGroup):
    """``twirling``: Pauli twirling of gates and measurements (not emulated; the sampler takes
    ``num_randomizations × shots_per_randomization`` as its default shots, as IBM's)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "enable_gates": (Unset, _bool),
        "enable_measure": (Unset, _bool),
        "num_randomizations": (Unset, _bound(_INT_OR_AUTO, ge=1)),
        "shots_per_randomization": (Unset, _bound(_INT_OR_AUTO, ge=1)),
        "strategy": (Unset, _literal("active", "active-accum", "active-circuit", "all")),
    }

    enable_gates: Any
    enable_measure: Any
    num_randomizations: Any
    shots_per_randomization: Any


class SimulatorOptions(OptionGroup):
    """``simulator``: seed and noise model of the simulation (both honoured by Aer)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "noise_model": (Unset, _noise_model),
        "seed_simulator": (Unset, _int),
        "coupling_map": (Unset, _coupling_map),
        "basis_gates": (Unset, _list_of(_str)),
    }
    _emulated = frozenset({"noise_model", "seed_simulator"})

    noise_model: Any
    seed_simulator: Any

    def set_backend(self, backend: Any) -> None:
        """Copy a backend's noise model, coupling map and basis gates (as IBM's)."""
        from qiskit_aer.noise import NoiseModel

        self.noise_model = NoiseModel.from_backend(backend)
        self.coupling_map = backend.coupling_map
        self.basis_gates = list(backend.operation_names)


class MeasureNoiseLearningOptions(OptionGroup):
    """``resilience.measure_noise_learning`` (hardware only)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "num_randomizations": (Unset, _bound(_int, ge=1)),
        "shots_per_randomization": (Unset, _bound(_INT_OR_AUTO, ge=1)),
    }


_EXTRAPOLATORS = ("linear", "exponential", "double_exponential", *(
    f"polynomial_degree_{d}" for d in range(1, 8)), "fallback")
_EXTRAPOLATOR = _literal(*_EXTRAPOLATORS)
_NEEDED_FACTORS = {"linear": 2, "exponential": 2, "double_exponential": 4, "fallback": 2,
                   **{f"polynomial_degree_{d}": d + 1 for d in range(1, 8)}}


class ZneOptions(OptionGroup):
    """``resilience.zne``: zero-noise extrapolation settings (hardware only)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "amplifier": (Unset, _literal("gate_folding", "gate_folding_front",
                                      "gate_folding_back", "pea")),
        "noise_factors": (Unset, _list_of(_float, least=1, message=(
            "noise_factors` option value must all be >= 1"))),
        "extrapolator": (Unset, _either(_EXTRAPOLATOR, _list_of(_EXTRAPOLATOR))),
        "extrapolated_noise_factors": (Unset, _list_of(_float)),
    }

    def _validate(self) -> None:
        factors = self.noise_factors if not isinstance(self.noise_factors, UnsetType) else (
            1, 3, 5)
        extrapolator = self.extrapolator if not isinstance(
            self.extrapolator, UnsetType) else ("exponential", "linear")
        for name in [extrapolator] if isinstance(extrapolator, str) else extrapolator:
            if len(factors) < _NEEDED_FACTORS[name]:
                raise IBMInputValueError(
                    f"1 validation error for ZneOptions\n  Value error, {name} requires at "
                    f"least {_NEEDED_FACTORS[name]} noise_factors")

    noise_factors: Any
    extrapolator: Any


class PecOptions(OptionGroup):
    """``resilience.pec``: probabilistic error cancellation (hardware only)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "max_overhead": (Unset, _bound(_either(_none, _float), gt=0)),
        "noise_gain": (Unset, _bound(_either(_float, _AUTO), ge=0)),
    }


class LayerNoiseLearningOptions(OptionGroup):
    """``resilience.layer_noise_learning`` (hardware only)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "max_layers_to_learn": (Unset, _bound(_either(_none, _int), ge=0)),
        "shots_per_randomization": (Unset, _bound(_int, ge=1)),
        "num_randomizations": (Unset, _bound(_int, ge=1)),
        "layer_pair_depths": (Unset, _list_of(_int, least=0, message=(
            "`LayerNoiseLearningOptions.layer_pair_depths` option value must all be >= 0"))),
    }


class ResilienceOptionsV2(OptionGroup):
    """``resilience``: error mitigation (hardware only: an emulated QPU has no noise to learn)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "measure_mitigation": (Unset, _bool),
        "zne_mitigation": (Unset, _bool),
        "pec_mitigation": (Unset, _bool),
        "layer_noise_model": (Unset, _anything),
    }
    _groups: ClassVar[dict[str, type[OptionGroup]]] = {
        "measure_noise_learning": MeasureNoiseLearningOptions,
        "zne": ZneOptions,
        "pec": PecOptions,
        "layer_noise_learning": LayerNoiseLearningOptions,
    }

    def _validate(self) -> None:
        learning = getattr(self, "measure_noise_learning", None)
        if (learning is not None and not self.measure_mitigation
                and learning.to_dict(unset=False)):
            raise IBMInputValueError(
                "1 validation error for ResilienceOptionsV2\n  Value error, "
                "'measure_noise_learning' options are set, but 'measure_mitigation' is not "
                "set to True.")
        if self.pec_mitigation is True and self.zne_mitigation is True:
            raise IBMInputValueError(
                "1 validation error for ResilienceOptionsV2\n  Value error, 'pec_mitigation' "
                "and 'zne_mitigation' options cannot be simultaneously enabled. Set one of "
                "them to False.")

    measure_mitigation: Any
    pec_mitigation: Any
    zne_mitigation: Any


class PrimitiveOptions(OptionGroup):
    """What both primitives' options share (IBM's ``OptionsV2``): ``update``, the runtime part."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "max_execution_time": (Unset, _int),
        "experimental": (Unset, _dict),
    }
    _groups: ClassVar[dict[str, type[OptionGroup]]] = {
        "environment": EnvironmentOptions,
        "simulator": SimulatorOptions,
    }
    _emulated = frozenset({"max_execution_time", "environment", "simulator"})

    environment: EnvironmentOptions
    simulator: SimulatorOptions
    max_execution_time: Any

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_v1_names(kwargs, type(self).__name__))

    def update(self, **kwargs: Any) -> None:
        """Set several options at once; a dict for a group updates only the fields it names."""
        for name, value in _v1_names(kwargs, type(self).__name__).items():
            if name in self._groups and isinstance(value, Mapping):
                merged = _merge(getattr(self, name).to_dict(), value)
                setattr(self, name, merged)
            else:
                setattr(self, name, value)

    @classmethod
    def build(cls, options: Mapping[str, Any] | PrimitiveOptions | None) -> Any:
        """The primitive's options from a dict, an options object (copied) or None."""
        if options is None:
            return cls()
        if isinstance(options, cls):
            return copy.deepcopy(options)
        if not isinstance(options, Mapping):
            raise TypeError(f"Invalid 'options' type. It can only be a dictionary of "
                            f"{cls.__name__} options, not {type(options).__name__}")
        return cls(**options)

    # -- what the emulator reads ------------------------------------------------------

    @property
    def job_tags(self) -> list[str]:
        """``environment.job_tags`` as a list (empty when unset)."""
        return list(self.environment.job_tags or [])

    @property
    def seed(self) -> int | None:
        """``simulator.seed_simulator`` (None when unset)."""
        seed = self.simulator.seed_simulator
        return None if isinstance(seed, UnsetType) else int(seed)

    @property
    def time_limit(self) -> int | None:
        """``max_execution_time`` in seconds (None when unset)."""
        value = self.max_execution_time
        return None if isinstance(value, UnsetType) or value is None else int(value)


def _v1_names(kwargs: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """Accept the V1 name ``shots`` (IBM's session guide uses it) as ``default_shots``."""
    out = dict(kwargs)
    if "shots" in out:
        warnings.warn(
            f"{owner}: 'shots' is the V1 name; use 'default_shots' (qiskit-ibm-runtime 0.51 "
            "rejects 'shots')", FutureWarning, stacklevel=4)
        out["default_shots"] = out.pop("shots")
    return out


def _merge(old: dict[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class SamplerOptions(PrimitiveOptions):
    """Options of ``SamplerV2``; ``default_shots`` unset means 4096, IBM's documented default."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "max_execution_time": PrimitiveOptions._fields["max_execution_time"],
        "default_shots": (Unset, _bound(_int, ge=1)),
        "experimental": PrimitiveOptions._fields["experimental"],
    }
    _groups: ClassVar[dict[str, type[OptionGroup]]] = {
        **PrimitiveOptions._groups,
        "dynamical_decoupling": DynamicalDecouplingOptions,
        "execution": SamplerExecutionOptionsV2,
        "twirling": TwirlingOptions,
    }
    _emulated = PrimitiveOptions._emulated | {"default_shots"}

    default_shots: Any

    @property
    def shots(self) -> int:
        """The shots a pub without its own gets (when ``run()`` names none).

        With twirling on and both ``num_randomizations`` and ``shots_per_randomization``
        given as numbers, their product: IBM's TwirlingOptions say it "takes precedence
        over ``default_shots``" (shots given to ``run()`` or in a pub are always obeyed).
        """
        twirling: TwirlingOptions = self.twirling  # type: ignore[attr-defined]
        count, each = twirling.num_randomizations, twirling.shots_per_randomization
        if ((twirling.enable_gates is True or twirling.enable_measure is True)
                and isinstance(count, int) and isinstance(each, int)):
            return count * each
        return 4096 if isinstance(self.default_shots, UnsetType) else int(self.default_shots)


class EstimatorOptions(PrimitiveOptions):
    """Options of ``EstimatorV2``; precision 0.015625 unless set (or given by ``default_shots``)."""

    _fields: ClassVar[dict[str, tuple[Any, Check]]] = {
        "max_execution_time": PrimitiveOptions._fields["max_execution_time"],
        "default_precision": (Unset, _bound(_float, gt=0)),
        "default_shots": (Unset, _bound(_either(_none, _int), ge=0)),
        "resilience_level": (Unset, _bound(_int, ge=0, le=2)),
        "seed_estimator": (Unset, _int),
        "experimental": PrimitiveOptions._fields["experimental"],
    }
    _groups: ClassVar[dict[str, type[OptionGroup]]] = {
        **PrimitiveOptions._groups,
        "dynamical_decoupling": DynamicalDecouplingOptions,
        "resilience": ResilienceOptionsV2,
        "execution": ExecutionOptionsV2,
        "twirling": TwirlingOptions,
    }
    _emulated = PrimitiveOptions._emulated | {"default_precision", "default_shots"}

    default_precision: Any
    default_shots: Any
    resilience_level: Any

    def precision(self) -> float:
        """The precision to use: 1/√``default_shots`` if set (IBM: it wins), else the default."""
        shots = self.default_shots
        if not isinstance(shots, UnsetType) and shots:
            # Capped so that an int no float holds gives a (refused) tiny precision.
            return 1 / math.sqrt(min(shots, 10**300))
        if not isinstance(self.default_precision, UnsetType):
            return float(self.default_precision)
        return 0.015625


OptionsV2 = PrimitiveOptions
"""IBM's name for the options both primitives share."""
