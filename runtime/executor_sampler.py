"""``qiskit_ibm_runtime.executor_sampler``'s names: the client-side ``Sampler`` (``SamplerV2``)."""

from .ibm.client_side import Sampler

SamplerV2 = Sampler

__all__ = ["Sampler", "SamplerV2"]
