"""``qiskit_ibm_runtime.fake_provider``'s fake backends (``FakeManilaV2``, ...), re-exported.

They come from ``qiskit-ibm-runtime`` itself (the ``qsession[ibm]`` extra): a fake backend
passed as ``mode=`` or ``Session(backend=...)`` runs on a noisy emulated QPU copied from it.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError as exc:
        raise ImportError(
            f"{name} comes from qiskit-ibm-runtime, an optional extra: "
            "pip install 'qsession[ibm]'") from exc
    return getattr(fake_provider, name)
