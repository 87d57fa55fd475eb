"""``qiskit_ibm_runtime.executor_estimator``'s names: the client-side ``Estimator`` (and
``EstimatorV2``)."""

from .ibm.client_side import Estimator

EstimatorV2 = Estimator

__all__ = ["Estimator", "EstimatorV2"]
