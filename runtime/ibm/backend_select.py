"""Finding QPUs: ``backend(name)`` with IBM's device names, and ``backends()`` filters.

Filters follow ``QiskitRuntimeService.backends`` (0.51) and qiskit's ``filter_backends``:
keyword filters match ``configuration()`` attributes when every QPU's configuration has
the key, otherwise ``status()`` attributes (so ``operational=True`` and
``simulator=False`` both work); ``filters`` is a callable applied last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engine import backend_info
from ..engine.errors import BackendNotFoundError, IBMInputValueError

if TYPE_CHECKING:
    from ..engine.platform import Platform
    from ..engine.qpu import QPU


def find_backend(service: Platform, name: str) -> QPU:
    """The QPU called ``name``, by its own name or an IBM device name of its fake backend."""
    qpus: dict[str, QPU] = service.qpus
    if not isinstance(name, str):
        raise IBMInputValueError(f"backend names are strings, not {name!r}")
    if name in qpus:
        return qpus[name]
    for qpu in qpus.values():
        if name in backend_info.ibm_names(qpu):
            return qpu
    if name.lower().startswith("fake"):
        # A fake backend asked for by name joins the service (README: backend("fake_manila")).
        return service.add_backend(name)
    raise BackendNotFoundError(
        f"No backend matches the criteria: no backend named {name!r}; this service has "
        f"{', '.join(qpus)}. Fix: use one of those names, or build the service with it, "
        f"e.g. LocalService(backends=['fake_brisbane']) for 'ibm_brisbane'")


def _match_all(obj: Any, criteria: dict[str, Any]) -> bool:
    return all(getattr(obj, key, None) == value for key, value in criteria.items())


def select_backends(service: Platform, *, name: str | None, min_num_qubits: int | None,
                    instance: str | None, dynamic_circuits: bool | None,
                    filters: Callable[[QPU], bool] | None, **kwargs: Any) -> list[QPU]:
    """The QPUs ``service.backends(...)`` returns, in the service's order."""
    qpus: list[QPU] = list(service.qpus.values())
    if name is not None:
        qpus = [q for q in qpus if q.name == name or name in backend_info.ibm_names(q)]
    if min_num_qubits is not None:
        qpus = [q for q in qpus if q.num_qubits >= min_num_qubits]
    if instance is not None:
        qpus = [q for q in qpus if instance in service.scheduler_of(q).settings.instances]
    if dynamic_circuits is not None:
        qpus = [q for q in qpus if ("dynamic_circuits" in getattr(
            q.configuration(), "supported_features", [])) == dynamic_circuits]
    kwargs.pop("use_fractional_gates", None)  # no fractional gates on an emulated QPU
    kwargs.pop("include_mocks", None)
    config_filters: dict[str, Any] = {}
    status_filters: dict[str, Any] = {}
    for key, value in kwargs.items():
        if qpus and all(key in q.configuration() for q in qpus):
            config_filters[key] = value
        else:
            status_filters[key] = value
    if config_filters:
        qpus = [q for q in qpus if _match_all(q.configuration(), config_filters)]
    if status_filters:
        qpus = [q for q in qpus if _match_all(q.status(), status_filters)]
    if filters is not None:
        qpus = [q for q in qpus if filters(q)]
    return qpus
