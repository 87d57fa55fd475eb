"""IBM's client-side ``Sampler`` (``qiskit_ibm_runtime.executor_sampler``) on emulated QPUs.

``Sampler(mode=None, options=None)`` and ``run(pubs, *, shots=None, dry_run=False)`` are
IBM's. The pubs become a ``QuantumProgram`` through the client's own ``prepare`` (boxing
and twirling when ``options.twirling`` asks for it), the program runs as an ``executor``
job, and ``job.result()`` is the client's post-processed ``PrimitiveResult``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qiskit.primitives.base import BaseSamplerV2
from qiskit_ibm_runtime.executor_sampler import Sampler as _IBMSampler
from qiskit_ibm_runtime.executor_sampler.prepare import prepare
from qiskit_ibm_runtime.options_models import SamplerOptions

from .client_side import ClientSidePrimitive
from .job import RuntimeJobV2
from .qpu import QPU
from .session import Session

__all__ = ["Sampler", "SamplerV2"]


class Sampler(ClientSidePrimitive, _IBMSampler):
    """Samples circuits through IBM's client-side processing and an emulated QPU."""

    _kind = "sampler"
    _role = "sampler_v2"
    _prepare = staticmethod(prepare)

    def __init__(self, mode: Session | QPU | None = None,
                 options: SamplerOptions | dict[str, Any] | None = None) -> None:
        BaseSamplerV2.__init__(self)  # IBM's own __init__ resolves IBM's modes only
        self._init_mode(mode)
        self.options = options if options is not None else SamplerOptions()

    def run(self, pubs: Iterable[Any], *, shots: int | None = None,
            dry_run: bool = False) -> RuntimeJobV2:
        """Submit sampler pubs (``circuit`` or ``(circuit, values[, shots])``); returns a job."""
        return self._submit(pubs, shots, dry_run)


SamplerV2 = Sampler
