"""The runtime: an emulated Qiskit Runtime whose sessions queue, hold, time out and expire.

``from qsession.runtime import LocalService, Session, Batch, SamplerV2, EstimatorV2``
gives the ``qiskit-ibm-runtime`` names; ``LocalService`` hands out QPUs and controls time.

The names are loaded on first use (PEP 562), so that ``qsession.runtime.trace`` and
``qsession.runtime.clock`` can be imported by trace readers without importing qiskit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import MeasuredClock, VirtualClock, WallClock
    from .errors import (
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
    from .executor import Executor
    from .job import RuntimeJobV2
    from .options import EstimatorOptions, OptionsV2, SamplerOptions
    from .primitives import EstimatorV2, SamplerV2
    from .programs import QuantumProgram, QuantumProgramResult
    from .qpu import QPU
    from .results import EstimatorResult
    from .service import LocalService, QiskitRuntimeService
    from .session import Batch, Session, current_session
    from .settings import QPUSettings
    from .trace import Record, Trace

    Sampler = SamplerV2
    Estimator = EstimatorV2

_WHERE = {
    "MeasuredClock": "clock",
    "VirtualClock": "clock",
    "WallClock": "clock",
    "BackendNotFoundError": "errors",
    "IBMBackendError": "errors",
    "IBMBackendValueError": "errors",
    "IBMError": "errors",
    "IBMInputValueError": "errors",
    "IBMRuntimeError": "errors",
    "RuntimeInvalidStateError": "errors",
    "RuntimeJobFailureError": "errors",
    "RuntimeJobMaxTimeoutError": "errors",
    "RuntimeJobNotFound": "errors",
    "RuntimeJobTimeoutError": "errors",
    "Executor": "executor",
    "RuntimeJobV2": "job",
    "EstimatorOptions": "options",
    "OptionsV2": "options",
    "SamplerOptions": "options",
    "EstimatorV2": "primitives",
    "SamplerV2": "primitives",
    "QPU": "qpu",
    "QuantumProgram": "programs",
    "QuantumProgramResult": "programs",
    "EstimatorResult": "results",
    "LocalService": "service",
    "QiskitRuntimeService": "service",
    "Batch": "session",
    "Session": "session",
    "current_session": "session",
    "QPUSettings": "settings",
    "Record": "trace",
    "Trace": "trace",
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
