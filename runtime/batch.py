"""``qiskit_ibm_runtime.batch``'s name: ``from qsession.runtime.batch import Batch`` ports as is."""

from .ibm.session import Batch

__all__ = ["Batch"]
