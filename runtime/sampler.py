"""``qiskit_ibm_runtime.sampler``'s names: ``SamplerV2`` (and ``Sampler``)."""

from .ibm.primitives import SamplerV2

Sampler = SamplerV2

__all__ = ["Sampler", "SamplerV2"]
