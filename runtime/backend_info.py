"""What ``backend.configuration()``, ``properties()`` and ``status()`` return for an emulated QPU.

A QPU copied from a fake backend answers with the fake backend's own configuration and
calibration data (IBM's ``BackendConfiguration`` and ``BackendProperties``). An ideal QPU
has no calibration, so ``properties()`` is None (as IBM's simulators answer); its
configuration is built from its target with IBM's keys. ``status()`` reports the
scheduler's queue: ``pending_jobs`` counts the QPU's queued jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .qpu import QPU

MAX_SHOTS = 100_000
"""IBM QPUs' ``max_shots``."""
DEFAULT_REP_DELAY = 250e-6
"""IBM QPUs' default repetition delay, seconds."""


class BackendRecord:
    """An attribute bag with IBM's model interface: attributes, ``in``, ``to_dict()``."""

    def __init__(self, kind: str, **fields: Any) -> None:
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_fields", dict(fields))

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_fields"][name]
        except KeyError:
            raise AttributeError(
                f"{self.__dict__['_kind']} has no attribute {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__["_fields"]

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__["_fields"])

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (as IBM's models' ``to_dict``)."""
        return dict(self.__dict__["_fields"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BackendRecord) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__["_fields"].items())
        return f"{self.__dict__['_kind']}({fields})"


def configuration(qpu: QPU) -> Any:
    """The QPU's configuration: the fake backend's own, or one built from the target."""
    fake = qpu.fake_backend
    if fake is not None and hasattr(fake, "configuration"):
        return fake.configuration()
    target = qpu.target
    coupling = target.build_coupling_map()
    edges = [list(e) for e in coupling.get_edges()] if coupling is not None else []
    instructions = sorted(target.operation_names)
    gates = [n for n in instructions if n not in ("measure", "reset", "delay", "barrier")
             and n not in _CONTROL_FLOW]
    return BackendRecord(
        "BackendConfiguration",
        backend_name=qpu.name,
        backend_version=qpu.backend_version,
        n_qubits=target.num_qubits,
        basis_gates=gates,
        supported_instructions=instructions,
        coupling_map=edges,
        local=True,
        simulator=False,  # it plays a QPU: IBM's guides filter on simulator=False
        conditional=True,
        open_pulse=False,
        memory=True,
        max_shots=MAX_SHOTS,
        max_experiments=None,
        dt=target.dt,
        rep_delay_range=[0.0, 500e-6],
        default_rep_delay=DEFAULT_REP_DELAY,
        dynamic_reprate_enabled=True,
        supported_features=["qasm3", "dynamic_circuits"] if set(instructions) & _CONTROL_FLOW
        else ["qasm3"],
        processor_type={"family": "qsession ideal", "revision": 1},
        description=qpu.description,
    )


def properties(qpu: QPU) -> Any:
    """The fake backend's calibration data (``BackendProperties``), or None for an ideal QPU."""
    fake = qpu.fake_backend
    if fake is not None and hasattr(fake, "properties"):
        return fake.properties()
    return None


def status(qpu: QPU) -> BackendRecord:
    """IBM's ``BackendStatus`` fields; ``pending_jobs`` is the scheduler's queue length."""
    service = qpu.service
    pending = 0
    if service is not None:
        pending = service.scheduler_of(qpu).queued_count
    return BackendRecord("BackendStatus", backend_name=qpu.name,
                         backend_version=qpu.backend_version, operational=True,
                         pending_jobs=pending, status_msg="active")


def ibm_names(qpu: QPU) -> list[str]:
    """Names IBM code uses for a fake backend's device: ``ibm_brisbane`` for ``fake_brisbane``."""
    fake = qpu.fake_backend
    names: list[str] = []
    if fake is None:
        return names
    props = properties(qpu)
    real = getattr(props, "backend_name", None) if props is not None else None
    if isinstance(real, str) and real != qpu.name:
        names.append(real)
    base = qpu.name.removeprefix("fake_").removesuffix("_v2")
    for candidate in (f"ibm_{base}", f"ibmq_{base}"):
        if candidate not in names and candidate != qpu.name:
            names.append(candidate)
    return names


_CONTROL_FLOW = frozenset({"if_else", "while_loop", "for_loop", "switch_case", "break",
                           "continue", "box"})
