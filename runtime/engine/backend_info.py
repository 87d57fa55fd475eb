"""What ``backend.configuration()``, ``properties()`` and ``status()`` return for an emulated QPU.

A QPU copied from a fake backend answers with the fake backend's own configuration and
calibration data (IBM's ``BackendConfiguration`` and ``BackendProperties``). An ideal QPU
has no calibration, so ``properties()`` is None (as IBM's simulators answer); its
configuration is built from its target with every key IBM's reference requires.
``status()`` reports the scheduler's queue: ``pending_jobs`` counts the QPU's queued jobs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from qiskit.transpiler import Target


class Described(Protocol):
    """What a description reads of a QPU (``qpu.QPU`` is one; the QPU asks this module,
    so this module names the QPU by what it reads, not by its class)."""

    @property
    def name(self) -> str: ...

    @property
    def backend_version(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    @property
    def fake_backend(self) -> Any: ...

    @property
    def service(self) -> Any: ...

    @property
    def target(self) -> Target: ...

MAX_SHOTS = 100_000
"""IBM QPUs' ``max_shots``."""
DEFAULT_REP_DELAY = 250e-6
"""IBM QPUs' default repetition delay, seconds."""
MAX_EXPERIMENTS = 300
"""IBM QPUs' ``max_experiments`` (circuits per job)."""
ONLINE_DATE = "2025-01-01T00:00:00.000Z"
"""When an ideal QPU "went online": the virtual clock's default epoch."""


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


def configuration(qpu: Described) -> Any:
    """The QPU's configuration: the fake backend's own, or one built from the target."""
    fake = qpu.fake_backend
    if fake is not None and hasattr(fake, "configuration"):
        return fake.configuration()
    return BackendRecord("BackendConfiguration", **_target_configuration(qpu))


def _target_configuration(qpu: Described) -> dict[str, Any]:
    """IBM's configuration keys for a QPU without a fake backend, from its target.

    Each gate lists the qubits it acts on (``gates[].coupling_map``): that is how IBM's
    client places instructions when a backend has no calibration data, so a client that
    rebuilds the target from this JSON gets the QPU's gates and connectivity. Each gate
    also has what IBM's ``GateConfig`` requires: ASCII parameter names and its definition
    in OpenQASM's ``U`` and ``CX``. ``coords`` places the qubits on a grid and
    ``u_channel_lo`` is empty (no pulse-level control channels), as IBM's configurations
    of QPUs without them have it.
    """
    from qiskit.circuit import Gate

    target = qpu.target
    coupling = target.build_coupling_map()
    edges = [list(e) for e in coupling.get_edges()] if coupling is not None else []
    instructions = sorted(target.operation_names)
    gates = [n for n in instructions if n not in ("measure", "reset", "delay", "barrier")
             and n not in _CONTROL_FLOW]
    gate_defs = []
    for name in gates:
        op = target.operation_from_name(name)
        if not isinstance(op, Gate):
            continue
        qargs = target.qargs_for_operation_name(name) or []
        parameters, definition = gate_definition(op)
        gate_defs.append({"name": name, "parameters": parameters, "qasm_def": definition,
                          "coupling_map": [list(q) for q in qargs]})
    return dict(
        backend_name=qpu.name,
        backend_version=qpu.backend_version,
        n_qubits=target.num_qubits,
        basis_gates=gates,
        gates=gate_defs,
        supported_instructions=instructions,
        coupling_map=edges,
        coords=grid_coords(target.num_qubits),
        u_channel_lo=[],
        local=False,  # it plays a remote IBM QPU
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
        processor_type={"family": IDEAL_FAMILY, "revision": "1.0"},
        description=qpu.description,
        online_date=ONLINE_DATE,
    )


IDEAL_FAMILY = "Ideal"
"""The processor family of a QPU built from a target (IBM's families are one ASCII word:
Falcon, Eagle, Heron)."""

_IBM_PARAMETERS = {"rz": ("theta",), "rx": ("theta",), "ry": ("theta",), "rzz": ("theta",),
                   "u1": ("lambda",), "u2": ("phi", "lambda"),
                   "u3": ("theta", "phi", "lambda")}
"""The parameter names IBM's configurations give these gates (all bundled ones agree)."""
_GREEK = {"θ": "theta", "ϴ": "theta", "φ": "phi", "ϕ": "phi", "λ": "lambda",
          "γ": "gamma", "β": "beta", "α": "alpha"}


def parameter_names(op: Any) -> list[str]:
    """ASCII names for a gate's parameters (IBM's ``GateConfig``: ``[a-zA-Z0-9]*``)."""
    known = _IBM_PARAMETERS.get(op.name)
    if known is not None and len(known) == len(op.params):
        return list(known)
    names: list[str] = []
    for i, param in enumerate(op.params):
        text = "".join(_GREEK.get(c, c) for c in str(getattr(param, "name", "")))
        text = "".join(c for c in text if c.isascii() and c.isalnum())
        if not text or text[0].isdigit() or text in names or text == "pi":
            text = f"p{i}"
        names.append(text)
    return names


def gate_definition(op: Any) -> tuple[list[str], str | None]:
    """A gate's ASCII parameter names and its OpenQASM 2 definition in ``U`` and ``CX``
    (IBM's ``qasm_def``, e.g. ``gate rz(theta) q { U(0, 0, theta) q; }``), from Qiskit's
    equivalence library; global phase is dropped, as in IBM's definitions. A gate Qiskit
    cannot express in ``U`` and ``CX`` (an opaque one) has None, as IBM's ``reset``."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
    from qiskit.circuit.tools import pi_check
    from qiskit.converters import circuit_to_dag, dag_to_circuit
    from qiskit.exceptions import QiskitError
    from qiskit.transpiler.passes import BasisTranslator, UnrollCustomDefinitions

    names = parameter_names(op)
    gate = op
    if names:
        gate = op.to_mutable() if getattr(op, "_singleton_lookup_key", None) else op.copy()
        gate.params = [Parameter(n) for n in names]
    wires = ["q"] if op.num_qubits == 1 else [f"q{i}" for i in range(op.num_qubits)]
    circuit = QuantumCircuit(op.num_qubits)
    circuit.append(gate, range(op.num_qubits))
    basis = ["u", "cx"]
    try:
        dag = UnrollCustomDefinitions(SessionEquivalenceLibrary, basis).run(
            circuit_to_dag(circuit))
        translated = dag_to_circuit(BasisTranslator(SessionEquivalenceLibrary, basis).run(dag))
    except QiskitError:  # no rule to express it (TranspilerError is one too)
        return names, None
    body = []
    for instruction in translated.data:
        on = ", ".join(wires[translated.find_bit(q).index] for q in instruction.qubits)
        if instruction.operation.name == "cx":
            body.append(f"CX {on};")
        else:
            angles = ", ".join(pi_check(a, output="qasm", eps=1e-12)
                               for a in instruction.operation.params)
            body.append(f"U({angles}) {on};")
    head = f"gate {op.name}({', '.join(names)})" if names else f"gate {op.name}"
    return names, f"{head} {', '.join(wires)} {{ {' '.join(body)} }}"


def grid_coords(n_qubits: int) -> list[list[int]]:
    """IBM's ``coords``: each qubit's [row, column] on the QPU's layout, from 1. A QPU
    built from a target has no layout of its own: its qubits fill a square grid."""
    width = math.isqrt(max(n_qubits, 1) - 1) + 1
    return [[q // width + 1, q % width + 1] for q in range(n_qubits)]


def configuration_json(qpu: Described) -> dict[str, Any]:
    """The configuration as IBM's REST API serves it (``GET /backends/{id}/configuration``).

    A fake backend's is its bundled JSON file, which is IBM's own answer recorded, renamed
    to the QPU's name; an ideal QPU's is built from its target with IBM's units (``dt``
    in nanoseconds, ``rep_delay_range`` and ``default_rep_delay`` in microseconds).
    """
    raw = _fake_file(qpu, "conf_filename")
    if raw is None:
        config = _target_configuration(qpu)
        dt = config["dt"]
        config["dt"] = None if dt is None else dt * 1e9
        config["rep_delay_range"] = [v * 1e6 for v in config["rep_delay_range"]]
        config["default_rep_delay"] = config["default_rep_delay"] * 1e6
        config["max_experiments"] = MAX_EXPERIMENTS
        version = str(config["backend_version"])
        config["backend_version"] = ".".join([*version.split("."), "0", "0"][:3])
        # IBM's backends list no `box` (Qiskit 2's boxed scope): the client has no
        # definition for it and warns on every backend() call; it drops it anyway.
        config["supported_instructions"] = [n for n in config["supported_instructions"]
                                            if n not in _NOT_ON_THE_WIRE]
        return config
    return recorded_configuration(raw, qpu.name)


def recorded_configuration(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """A fake backend's bundled configuration (IBM's answer, recorded) served as ``name``:
    renamed, ``simulator: false`` (so a Session really opens one), IBM's date format."""
    raw["backend_name"] = name
    raw["simulator"] = False
    raw["online_date"] = rest_timestamp(raw.get("online_date")) or ONLINE_DATE
    return raw


def properties_json(qpu: Described) -> dict[str, Any] | None:
    """Calibration data as IBM's REST API serves it, or None for a QPU without any."""
    raw = _fake_file(qpu, "props_filename")
    if raw is None:
        return None
    raw["backend_name"] = qpu.name
    raw["last_update_date"] = rest_timestamp(raw.get("last_update_date"))
    return raw


def defaults_json(qpu: Described) -> dict[str, Any] | None:
    """IBM's backend defaults (``qubit_freq_est``, ``meas_freq_est`` in GHz), or None.

    Pulse-level defaults left Qiskit 2 and the fake backends ship none; the estimated
    drive frequencies are the calibration data's qubit frequencies and the readout ones
    the middle of each qubit's measurement LO range. A QPU without calibration has none.
    """
    props = properties_json(qpu)
    config = _fake_file(qpu, "conf_filename")
    if props is None or config is None:
        return None
    freqs = [next((float(p["value"]) for p in qubit if p.get("name") == "frequency"), 0.0)
             for qubit in props.get("qubits", [])]
    meas = [sum(r) / 2 for r in config.get("meas_lo_range", [])]
    return {"qubit_freq_est": freqs, "meas_freq_est": meas, "buffer": 0,
            "pulse_library": [], "cmd_def": []}


def rest_timestamp(value: Any) -> str | None:
    """A timestamp as IBM's REST API writes dates: ``2023-01-23T05:00:00.000Z``."""
    from datetime import UTC, datetime

    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{when.microsecond // 1000:03d}Z"


def _fake_file(qpu: Described, attr: str) -> dict[str, Any] | None:
    """A fake backend's bundled JSON file (``conf_filename``, ``props_filename``), or None."""
    import json
    from pathlib import Path

    fake = qpu.fake_backend
    name = getattr(fake, attr, None) if fake is not None else None
    if not name:
        return None
    with open(Path(fake.dirname) / name, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def properties(qpu: Described, before: datetime | None = None) -> Any:
    """The fake backend's calibration data (``BackendProperties``), or None for an ideal QPU.

    ``before`` is IBM's ``properties(datetime=...)``: the data last updated before that
    instant (a naive one is local time, as IBM's client reads it). An emulated QPU has one
    calibration set, so before its ``last_update_date`` there is none (None, as IBM's
    client answers when the service has no properties to send).
    """
    fake = qpu.fake_backend
    if fake is None or not hasattr(fake, "properties"):
        return None
    found = fake.properties()
    if found is not None and before is not None and (
            found.last_update_date >= before.astimezone(UTC)):
        return None
    return found


def status(qpu: Described) -> BackendRecord:
    """IBM's ``BackendStatus`` fields; ``pending_jobs`` is the scheduler's queue length."""
    service = qpu.service
    pending = 0
    if service is not None:
        pending = service.scheduler_of(qpu).queued_count
    return BackendRecord("BackendStatus", backend_name=qpu.name,
                         backend_version=qpu.backend_version, operational=True,
                         pending_jobs=pending, status_msg="active")


def ibm_names(qpu: Described) -> list[str]:
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


_NOT_ON_THE_WIRE = frozenset({"box"})
"""Instructions an ideal QPU runs but IBM's REST configurations never list."""
_CONTROL_FLOW = frozenset({"if_else", "while_loop", "for_loop", "switch_case", "break",
                           "continue", "box"})
