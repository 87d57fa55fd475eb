"""``qiskit_ibm_runtime.exceptions``'s names: ``from ...exceptions import IBMInputValueError``."""

from qiskit.exceptions import QiskitError
from qiskit.providers.exceptions import JobError, JobTimeoutError

from .engine.errors import (
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

__all__ = [
    "IBMBackendError",
    "IBMBackendValueError",
    "IBMError",
    "IBMInputValueError",
    "IBMRuntimeError",
    "JobError",
    "JobTimeoutError",
    "QiskitError",
    "RuntimeInvalidStateError",
    "RuntimeJobFailureError",
    "RuntimeJobMaxTimeoutError",
    "RuntimeJobNotFound",
    "RuntimeJobTimeoutError",
]
