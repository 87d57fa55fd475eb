"""IBM's client-side ``Estimator`` (``qiskit_ibm_runtime.executor_estimator``) on emulated QPUs.

``Estimator(mode=None, options=None)`` and ``run(pubs, *, precision=None, dry_run=False)``
are IBM's. The pubs become a ``QuantumProgram`` through the client's own ``prepare``
(measurement bases, twirling and measurement-noise learning at resilience level 1), the
program runs as an ``executor`` job, and ``job.result()`` is the client's post-processed
``PrimitiveResult`` (TREX rescaling included).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qiskit.primitives.base import BaseEstimatorV2
from qiskit_ibm_runtime.executor_estimator import Estimator as _IBMEstimator
from qiskit_ibm_runtime.executor_estimator.prepare import prepare
from qiskit_ibm_runtime.options_models import EstimatorOptions

from .client_side import ClientSidePrimitive
from .job import RuntimeJobV2
from .qpu import QPU
from .session import Session

__all__ = ["Estimator", "EstimatorV2"]


class Estimator(ClientSidePrimitive, _IBMEstimator):
    """Estimates expectation values through IBM's client-side processing and an emulated QPU."""

    _kind = "estimator"
    _role = "estimator_v2"
    _prepare = staticmethod(prepare)

    def __init__(self, mode: Session | QPU | None = None,
                 options: EstimatorOptions | dict[str, Any] | None = None) -> None:
        BaseEstimatorV2.__init__(self)  # IBM's own __init__ resolves IBM's modes only
        self._init_mode(mode)
        self.options = options if options is not None else EstimatorOptions()

    def run(self, pubs: Iterable[Any], *, precision: float | None = None,
            dry_run: bool = False) -> RuntimeJobV2:
        """Submit estimator pubs ``(circuit, observables[, values[, precision]])``."""
        return self._submit(pubs, precision, dry_run)


EstimatorV2 = Estimator
