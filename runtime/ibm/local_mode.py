"""IBM's local mode: a fake backend object given as ``mode=`` or ``Session(backend=...)``.

qiskit-ibm-runtime runs such code on the fake backend's simulator. Here each fake backend
object gets a noisy emulated QPU copied from it, on one process-wide ``LocalService``
(virtual clock), so sessions, batches and jobs behave as on any other QPU.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from qiskit.providers import BackendV2

from ..engine.errors import IBMInputValueError

if TYPE_CHECKING:
    from ..engine.qpu import QPU
    from .service import LocalService

_lock = threading.Lock()
_services: list[LocalService] = []  # at most one; a list so no global statement is needed
_qpus: weakref.WeakKeyDictionary[Any, QPU] = weakref.WeakKeyDictionary()


def local_service() -> LocalService:
    """The service that hosts fake backends passed directly (created on first use)."""
    with _lock:
        if not _services:
            from .service import LocalService

            _services.append(LocalService(seed=0, backends=[]))
        return _services[0]


def qpu_for(backend: Any) -> QPU:
    """The emulated QPU standing in for a fake backend object (the same one each time)."""
    from ..engine.qpu import QPU

    if isinstance(backend, QPU):
        return backend
    if not isinstance(backend, BackendV2) or not hasattr(backend, "properties"):
        raise IBMInputValueError(
            f"mode/backend must be a QPU from a LocalService, a Session or Batch, or a "
            f"qiskit-ibm-runtime fake backend (e.g. FakeManilaV2()), not "
            f"{type(backend).__name__}")
    service = local_service()
    with _lock:
        qpu = _qpus.get(backend)
        if qpu is None:
            qpu = QPU.from_fake_backend(backend)
            name = qpu.name
            if name in service.qpus:  # another instance of the same fake backend
                qpu = service.qpus[name]
            else:
                service.add_backend(qpu)
            _qpus[backend] = qpu
        return qpu
