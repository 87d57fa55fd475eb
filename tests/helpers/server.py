"""Helpers for the server tests: a server with the tests' defaults, ISA circuits, exact times."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qsession.server import Connection, connect

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def at(seconds: float) -> str:
    """The REST timestamp of ``seconds`` after the virtual epoch."""
    when = EPOCH + timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def start(**options: Any) -> Connection:
    """A server with the tests' defaults (virtual clock, no noise, seed 7)."""
    options.setdefault("clock", "virtual")
    options.setdefault("noise", False)
    options.setdefault("seed", 7)
    return connect(**options)


def control(conn: Connection, route: str, body: dict[str, Any] | None = None) -> Any:
    """Call the server's ``/qsession/v1/ROUTE`` over HTTP: GET without a body, POST with
    one (``{}`` for a route that takes none); the answer as JSON (``trace``: as text)."""
    request = urllib.request.Request(
        f"{conn.server.url}/qsession/v1/{route}",
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
    return raw.decode() if route == "trace" else json.loads(raw)


_PM: dict[str, Any] = {}


def isa_bell(backend: Any, measure: bool = True) -> QuantumCircuit:
    """A Bell circuit made ISA for ``backend`` (the real client refuses non-ISA circuits)."""
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    if measure:
        qc.measure_all()
    pm = _PM.get(backend.name)
    if pm is None:
        pm = _PM[backend.name] = generate_preset_pass_manager(optimization_level=1,
                                                              backend=backend, seed_transpiler=1)
    return pm.run(qc)


def zz(isa: QuantumCircuit) -> SparsePauliOp:
    """The ZZ observable laid out like ``isa``."""
    return SparsePauliOp("ZZ").apply_layout(isa.layout)
