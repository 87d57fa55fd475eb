"""``qiskit_ibm_runtime.runtime_job_v2``'s name: ``RuntimeJobV2``."""

from .ibm.job import RuntimeJobV2

__all__ = ["RuntimeJobV2"]
