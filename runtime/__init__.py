"""The runtime: an emulated Qiskit Runtime whose sessions queue, hold, time out and expire.

``from qsession.runtime import LocalService, Session, Batch, SamplerV2, EstimatorV2``
gives the ``qiskit-ibm-runtime`` names; ``LocalService`` hands out QPUs and controls time.

The names are loaded on first use (PEP 562), so that ``qsession.runtime.engine.trace`` and
``qsession.runtime.engine.clock`` can be imported by trace readers without importing qiskit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine.clock import MeasuredClock, VirtualClock, WallClock
    from .engine.errors import (
        BackendNotFoundError,
        IBMBackendError,
        IBMBackendValueError,
        IBMError,
        IBMInputValueError,
        IBMRuntimeError,
        RuntimeInvalidStateError,
        RuntimeJobFailureError,
        RuntimeJobMaxTimeoutError,
        RuntimeJobNotFound,
        RuntimeJobTimeoutError,
    )
    from .engine.qpu import QPU
    from .engine.settings import QPUSettings
    from .engine.trace import Record, Trace
    from .ibm.executor import Executor
    from .ibm.job import RuntimeJobV2
    from .ibm.options import EstimatorOptions, OptionsV2, SamplerOptions
    from .ibm.primitives import EstimatorV2, SamplerV2
    from .ibm.programs import QuantumProgram, QuantumProgramResult
    from .ibm.results import EstimatorResult
    from .ibm.service import LocalService, QiskitRuntimeService
    from .ibm.session import Batch, Session, current_session

    Sampler = SamplerV2
    Estimator = EstimatorV2

_WHERE = {
    "MeasuredClock": "engine.clock",
    "VirtualClock": "engine.clock",
    "WallClock": "engine.clock",
    "BackendNotFoundError": "engine.errors",
    "IBMBackendError": "engine.errors",
    "IBMBackendValueError": "engine.errors",
    "IBMError": "engine.errors",
    "IBMInputValueError": "engine.errors",
    "IBMRuntimeError": "engine.errors",
    "RuntimeInvalidStateError": "engine.errors",
    "RuntimeJobFailureError": "engine.errors",
    "RuntimeJobMaxTimeoutError": "engine.errors",
    "RuntimeJobNotFound": "engine.errors",
    "RuntimeJobTimeoutError": "engine.errors",
    "Executor": "ibm.executor",
    "RuntimeJobV2": "ibm.job",
    "EstimatorOptions": "ibm.options",
    "OptionsV2": "ibm.options",
    "SamplerOptions": "ibm.options",
    "EstimatorV2": "ibm.primitives",
    "SamplerV2": "ibm.primitives",
    "QPU": "engine.qpu",
    "QuantumProgram": "ibm.programs",
    "QuantumProgramResult": "ibm.programs",
    "EstimatorResult": "ibm.results",
    "LocalService": "ibm.service",
    "QiskitRuntimeService": "ibm.service",
    "Batch": "ibm.session",
    "Session": "ibm.session",
    "current_session": "ibm.session",
    "QPUSettings": "engine.settings",
    "Record": "engine.trace",
    "Trace": "engine.trace",
}
_ALIASES = {"Sampler": "SamplerV2", "Estimator": "EstimatorV2"}

__all__ = [
    "QPU",
    "BackendNotFoundError",
    "Batch",
    "Estimator",
    "EstimatorOptions",
    "EstimatorResult",
    "EstimatorV2",
    "Executor",
    "IBMBackendError",
    "IBMBackendValueError",
    "IBMError",
    "IBMInputValueError",
    "IBMRuntimeError",
    "LocalService",
    "MeasuredClock",
    "OptionsV2",
    "QPUSettings",
    "QiskitRuntimeService",
    "QuantumProgram",
    "QuantumProgramResult",
    "Record",
    "RuntimeInvalidStateError",
    "RuntimeJobFailureError",
    "RuntimeJobMaxTimeoutError",
    "RuntimeJobNotFound",
    "RuntimeJobTimeoutError",
    "RuntimeJobV2",
    "Sampler",
    "SamplerOptions",
    "SamplerV2",
    "Session",
    "Trace",
    "VirtualClock",
    "WallClock",
    "current_session",
]


def __getattr__(name: str) -> Any:
    target = _ALIASES.get(name, name)
    module = _WHERE.get(target)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), target)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
