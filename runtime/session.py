"""``qiskit_ibm_runtime.session``'s name: ``Session`` (``Batch`` too, as ``qsession.runtime``)."""

from .ibm.session import Batch, Session

__all__ = ["Batch", "Session"]
