"""Result types: an estimator ``PrimitiveResult`` that also answers V1's ``.values``."""

from __future__ import annotations

import numpy as np
from qiskit.primitives import PrimitiveResult


class EstimatorResult(PrimitiveResult):
    """An estimator ``PrimitiveResult`` that also offers V1's ``.values`` (every pub's evs)."""

    @classmethod
    def wrap(cls, result: PrimitiveResult) -> EstimatorResult:
        """The same pub results and metadata, with ``.values``."""
        return cls(list(result), metadata=result.metadata)

    @property
    def values(self) -> np.ndarray:
        """Expectation values of all pubs, flattened and concatenated (V1's ``values``)."""
        return np.concatenate([np.ravel(np.asarray(pub.data.evs)) for pub in self])
