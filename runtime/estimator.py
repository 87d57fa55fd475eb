"""``qiskit_ibm_runtime.estimator``'s names: ``EstimatorV2`` (and ``Estimator``)."""

from .ibm.primitives import EstimatorV2

Estimator = EstimatorV2

__all__ = ["Estimator", "EstimatorV2"]
