"""Exceptions named and based as in ``qiskit-ibm-runtime``, so ``except`` clauses carry over."""

from __future__ import annotations

from qiskit.exceptions import QiskitError
from qiskit.providers.exceptions import JobError, JobTimeoutError, QiskitBackendNotFoundError


class _PlainMessage:
    """Print the message itself: ``QiskitError`` prints its repr (quotes, escaped quotes)."""

    message: str

    def __str__(self) -> str:
        return str(self.message)


class IBMError(_PlainMessage, QiskitError):
    """Base of qsession's runtime errors (as in ``qiskit-ibm-runtime``)."""


class IBMInputValueError(IBMError, ValueError):
    """Bad input: a malformed pub, shots, precision, ``max_time`` or option value."""


class IBMBackendError(IBMError):
    """Base of backend errors (as in ``qiskit-ibm-runtime``)."""


class IBMBackendValueError(IBMBackendError, ValueError):
    """An unknown backend name, or a backend of another service."""


class BackendNotFoundError(IBMBackendValueError, QiskitBackendNotFoundError):
    """No backend matches a name or filters: IBM raises ``QiskitBackendNotFoundError``.

    Both ``except QiskitBackendNotFoundError`` (IBM code) and ``except IBMBackendValueError``
    (earlier qsession code) catch it.
    """


class IBMRuntimeError(IBMError):
    """A runtime request cannot be honoured (e.g. submitting to a closed session)."""


class RuntimeJobNotFound(IBMRuntimeError):
    """No job has the given id."""


class RuntimeInvalidStateError(IBMRuntimeError):
    """The job is in a state that does not allow the request (cancel a final job, …)."""


class RuntimeJobMaxTimeoutError(IBMRuntimeError):
    """A job ran past the QPU's maximum execution time and was stopped."""


class RuntimeJobFailureError(_PlainMessage, JobError):
    """The job ended in ERROR; the message carries its error message."""


class RuntimeJobTimeoutError(_PlainMessage, JobTimeoutError):
    """``result(timeout=...)`` waited longer than the timeout."""
