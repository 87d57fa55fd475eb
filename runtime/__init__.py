"""The runtime: an emulated Qiskit Runtime whose sessions queue, hold, time out and expire.

``from qsession.runtime import LocalService, Session, Batch, SamplerV2, EstimatorV2``
gives the ``qiskit-ibm-runtime`` names; ``LocalService`` hands out QPUs and controls time.
"""

from .clock import MeasuredClock, VirtualClock, WallClock
from .errors import (
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
from .job import RuntimeJobV2
from .options import EstimatorOptions, SamplerOptions
from .primitives import EstimatorV2, SamplerV2
from .qpu import QPU
from .results import EstimatorResult
from .service import LocalService, QiskitRuntimeService
from .session import Batch, Session, current_session
from .settings import QPUSettings
from .trace import Record, Trace

Sampler = SamplerV2
Estimator = EstimatorV2

__all__ = [
    "QPU",
    "Batch",
    "Estimator",
    "EstimatorOptions",
    "EstimatorResult",
    "EstimatorV2",
    "IBMBackendValueError",
    "IBMError",
    "IBMInputValueError",
    "IBMRuntimeError",
    "LocalService",
    "MeasuredClock",
    "QPUSettings",
    "QiskitRuntimeService",
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
