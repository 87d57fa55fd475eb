"""``qiskit_ibm_runtime.executor``'s name: ``Executor``."""

from .ibm.executor import Executor

__all__ = ["Executor"]
