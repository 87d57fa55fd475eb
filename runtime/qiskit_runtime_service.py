"""``qiskit_ibm_runtime.qiskit_runtime_service``'s name: ``QiskitRuntimeService``."""

from .ibm.service import QiskitRuntimeService

__all__ = ["QiskitRuntimeService"]
