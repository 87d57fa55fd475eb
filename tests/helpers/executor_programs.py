"""IBM's executor primitives, written once and run through both doors.

Each program takes ``api`` (the names of ``qiskit_ibm_runtime`` for the HTTP door, or of
``qsession.runtime`` in process: ``Session``, ``Batch``, ``Executor``, ``QuantumProgram``,
``Sampler``, ``Estimator``), a backend and ``settle`` (advance virtual time until no job is
queued or running), and returns what the tests check. Timestamps are read as seconds since
the virtual epoch whichever form the door gives (ISO strings over HTTP, datetimes in
process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from .circuits import logical_bell as bell  # in h and cx: the programs transpile it
from .server import EPOCH

_PM: dict[str, Any] = {}


@dataclass(frozen=True)
class Api:
    """The names a program imports from one package."""

    Session: Any
    Batch: Any
    Executor: Any
    QuantumProgram: Any
    Sampler: Any
    Estimator: Any


def api_of(package: str) -> Api:
    """The executor-primitive names of ``qiskit_ibm_runtime`` or ``qsession.runtime``."""
    import importlib

    top = importlib.import_module(package)
    sampler = importlib.import_module(f"{package}.executor_sampler")
    estimator = importlib.import_module(f"{package}.executor_estimator")
    return Api(top.Session, top.Batch, top.Executor, top.QuantumProgram, sampler.Sampler,
               estimator.Estimator)


def seconds(value: Any) -> float | None:
    """A job timestamp as seconds since the virtual epoch (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return round((value.astimezone(UTC) - EPOCH).total_seconds(), 6)


def times(job: Any) -> tuple[float | None, float | None, float | None]:
    """(created, running, finished) of a job, in seconds since the epoch."""
    stamps = job.metrics()["timestamps"]  # over HTTP, an instant not reached is omitted
    return (seconds(stamps["created"]), seconds(stamps.get("running")),
            seconds(stamps.get("finished")))


def duration(job: Any) -> float:
    """The job's modeled QPU seconds, announced at submission."""
    return float(job.usage_estimation["quantum_seconds"])


def isa(backend: Any, circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` made ISA for ``backend`` as IBM's guides do (preset pass manager)."""
    pm = _PM.get(backend.name)
    if pm is None:
        pm = _PM[backend.name] = generate_preset_pass_manager(
            optimization_level=1, backend=backend, seed_transpiler=1)
    return pm.run(circuit)


def zz_of(isa_circuit: QuantumCircuit) -> Any:
    """ZZ laid out like the ISA circuit."""
    from qiskit.quantum_info import SparsePauliOp

    return SparsePauliOp("ZZ").apply_layout(isa_circuit.layout)


def primitives_in(api: Api, backend: Any, settle: Callable[[], None], mode: str,
                  twirl: bool) -> dict[str, Any]:
    """A Sampler and an Estimator job in a Session, a Batch or job mode, twirling on or off."""
    circuit = isa(backend, bell())
    unmeasured = isa(backend, bell(measure=False))

    def run(target: Any) -> tuple[Any, Any]:
        sampler = api.Sampler(mode=target)
        sampler.options.default_shots = 100
        sampler.options.twirling.enable_gates = twirl
        sampler.options.twirling.enable_measure = twirl
        estimator = api.Estimator(mode=target)
        estimator.options.default_precision = 0.1
        estimator.options.twirling.enable_gates = twirl
        estimator.options.twirling.enable_measure = twirl
        if not twirl:
            estimator.options.resilience_level = 0  # level 1 turns measurement twirling on
        return sampler.run([circuit]), estimator.run([(unmeasured, zz_of(unmeasured))])

    holder: Any = None
    if mode == "session":
        with api.Session(backend=backend) as holder:
            jobs = run(holder)
    elif mode == "batch":
        with api.Batch(backend=backend) as holder:
            jobs = run(holder)
    else:
        jobs = run(backend)
    settle()
    sampled, estimated = (job.result() for job in jobs)
    return {"jobs": jobs, "holder": holder, "counts": sampled[0].data.meas.get_counts(),
            "evs": float(estimated[0].data.evs), "sampler_metadata": sampled.metadata}


def hand_built_program(api: Api, backend: Any, settle: Callable[[], None]) -> dict[str, Any]:
    """``Executor`` with a ``QuantumProgram`` of two items built by hand, in job mode."""
    theta = Parameter("theta")
    rotation = QuantumCircuit(1)
    rotation.rx(theta, 0)
    rotation.measure_all()
    program = api.QuantumProgram(shots=40)
    program.append_circuit_item(isa(backend, rotation),
                                circuit_arguments=np.array([[0.0], [np.pi]]))
    program.append_circuit_item(isa(backend, bell()))
    executor = api.Executor(backend)
    executor.options.environment.job_tags = ["hand-built"]
    job = executor.run(program)
    settle()
    return {"job": job, "result": job.result()}


def expiry_and_cancel(api: Api, backend: Any, advance: Callable[[float], None]) -> dict[str, Any]:
    """A session whose max TTL fails its queued executor job; a queued job cancelled."""
    circuit = isa(backend, bell())
    with api.Session(backend=backend, max_time=2) as session:
        sampler = api.Sampler(mode=session)
        sampler.options.twirling.enable_gates = False
        sampler.options.twirling.enable_measure = False
        long = sampler.run([circuit], shots=10_000)  # runs past the 2 s max TTL
        queued = sampler.run([circuit], shots=10)
        cancelled = sampler.run([circuit], shots=10)
        advance(0.5)
        cancelled.cancel()
        advance(6.0)  # past the long job's end
    return {"session": session, "long": long, "queued": queued, "cancelled": cancelled}
