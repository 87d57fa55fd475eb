"""``qiskit_ibm_runtime.exceptions``'s names: ``from ...exceptions import IBMInputValueError``."""

from .errors import (
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
    "RuntimeInvalidStateError",
    "RuntimeJobFailureError",
    "RuntimeJobMaxTimeoutError",
    "RuntimeJobNotFound",
    "RuntimeJobTimeoutError",
]
