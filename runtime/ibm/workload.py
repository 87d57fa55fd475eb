"""Seeded background tenants for a shared QPU: job-mode sampler jobs and other tenants' sessions.

``generate(seed, spec)`` draws a ``Workload`` — arrival instants, sizes and parameter values
— from ``random.Random(seed)`` alone, so the same seed always gives the same tenants.
``Background(service, workload).install()`` then submits each arrival through the public
primitives at its exact virtual instant: it sets one clock timer per arrival, so arrivals
happen while the foreground program waits on ``job.result()`` or ``service.advance()``,
never bunched at the foreground's next call.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ..engine.clock import Timer
from ..engine.errors import IBMRuntimeError
from .primitives import SamplerV2
from .session import Session

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

    from ..engine.qpu import QPU
    from .job import RuntimeJobV2
    from .service import LocalService

SHOTS_STEP = 100


@dataclass(frozen=True, slots=True)
class TenantJob:
    """One job-mode sampler job of a background tenant: when it arrives and its circuit size."""

    at: float
    tenant: str
    qubits: int
    shots: int
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class TenantSession:
    """Another tenant's ``Session``: opened at its first submission, closed after its last."""

    tenant: str
    submit_at: tuple[float, ...]
    qubits: int
    shots: int
    values: tuple[tuple[float, ...], ...]

    @property
    def open_at(self) -> float:
        """When the tenant opens the session and submits its first job."""
        return self.submit_at[0]


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """Knobs of the generator; times in virtual seconds since the service epoch."""

    horizon: float = 300.0
    """Job-mode arrivals are drawn in ``[0, horizon)``."""
    rate: float = 1 / 20
    """Mean job-mode arrivals per second (exponential gaps: a Poisson stream)."""
    backlog: int = 3
    """Job-mode jobs already arriving in the first second: the queue a newcomer finds."""
    tenants: int = 4
    """How many tenant names the job-mode jobs are spread over (``tenant-a``, ...)."""
    qubits: tuple[int, int] = (2, 4)
    """Circuit width range (inclusive)."""
    shots: tuple[int, int] = (1_600, 6_000)
    """Shots range (inclusive, rounded to 100); the timing model turns shots into seconds."""
    idle: float = 1e-3
    """Seconds each tenant circuit idles before its measurement (as a T1-style experiment
    does): with the repetition delay a shot then takes ~1.25 ms, so a job holds the QPU for
    seconds with a few thousand shots, which Aer (an ideal delay costs it nothing) samples
    in milliseconds."""
    session_starts: tuple[float, ...] = (60.0,)
    """When each tenant session opens (those at or after ``horizon`` are dropped)."""
    session_jobs: int = 3
    """Jobs per tenant session."""
    session_gap: float = 2.0
    """Seconds between a tenant session's submissions (open loop: it does not wait)."""

    def __post_init__(self) -> None:
        if not (self.horizon > 0 and self.rate >= 0 and self.backlog >= 0
                and self.tenants >= 1 and self.session_jobs >= 1 and self.session_gap >= 0
                and self.idle >= 0):
            raise ValueError(f"invalid workload spec: {self}")
        if not 1 <= self.qubits[0] <= self.qubits[1] or not 1 <= self.shots[0] <= self.shots[1]:
            raise ValueError(f"qubits and shots ranges must be increasing and >= 1: {self}")


@dataclass(frozen=True, slots=True)
class Workload:
    """A generated background workload: job-mode jobs and tenant sessions, by arrival time."""

    seed: int
    spec: WorkloadSpec
    jobs: tuple[TenantJob, ...]
    sessions: tuple[TenantSession, ...]

    @property
    def size(self) -> int:
        """Total number of background jobs."""
        return len(self.jobs) + sum(len(s.submit_at) for s in self.sessions)

    @property
    def last_arrival(self) -> float:
        """The instant of the last background submission (0 when there is none)."""
        times = [j.at for j in self.jobs] + [t for s in self.sessions for t in s.submit_at]
        return max(times, default=0.0)


def generate(seed: int, spec: WorkloadSpec | None = None) -> Workload:
    """Draw a background workload from ``random.Random(seed)`` (same seed, same workload)."""
    spec = spec or WorkloadSpec()
    rng = random.Random(seed)
    names = [_tenant_name(i) for i in range(spec.tenants)]
    times = sorted(round(rng.uniform(0.0, 1.0), 3) for _ in range(spec.backlog))
    t = 1.0
    while spec.rate > 0:
        t += rng.expovariate(spec.rate)
        if t >= spec.horizon:
            break
        times.append(round(t, 3))
    jobs = tuple(_tenant_job(rng, at, rng.choice(names), spec) for at in times)
    sessions = tuple(_tenant_session(rng, start, f"tenant-s{i + 1}", spec)
                     for i, start in enumerate(spec.session_starts) if start < spec.horizon)
    return Workload(seed, spec, jobs, sessions)


def _tenant_name(i: int) -> str:
    return f"tenant-{chr(ord('a') + i % 26)}{'' if i < 26 else i // 26}"


def _draw_shots(rng: random.Random, spec: WorkloadSpec) -> int:
    lo, hi = (math.ceil(spec.shots[0] / SHOTS_STEP), spec.shots[1] // SHOTS_STEP)
    return max(spec.shots[0], rng.randint(lo, max(lo, hi)) * SHOTS_STEP)


def _draw_values(rng: random.Random, qubits: int) -> tuple[float, ...]:
    return tuple(round(rng.uniform(0.0, math.pi), 6) for _ in range(qubits))


def _tenant_job(rng: random.Random, at: float, tenant: str, spec: WorkloadSpec) -> TenantJob:
    qubits = rng.randint(*spec.qubits)
    return TenantJob(at, tenant, qubits, _draw_shots(rng, spec), _draw_values(rng, qubits))


def _tenant_session(rng: random.Random, start: float, tenant: str,
                    spec: WorkloadSpec) -> TenantSession:
    qubits = rng.randint(*spec.qubits)
    submit_at = tuple(round(start + i * spec.session_gap, 3) for i in range(spec.session_jobs))
    values = tuple(_draw_values(rng, qubits) for _ in submit_at)
    return TenantSession(tenant, submit_at, qubits, _draw_shots(rng, spec), values)


def tenant_circuit(qubits: int, idle: float = 0.0, dt: float | None = None) -> QuantumCircuit:
    """The parametrised circuit tenant jobs of this width sample: RY layer, CX chain, idle.

    ``idle`` seconds of delay precede the measurement; given the target's ``dt`` the delay
    is a whole number of ``dt`` (a delay in seconds would be rounded, with a warning).
    """
    from qiskit.circuit import ParameterVector, QuantumCircuit

    theta = ParameterVector("theta", qubits)
    qc = QuantumCircuit(qubits, name=f"tenant_{qubits}q")
    for q in range(qubits):
        qc.ry(theta[q], q)
    for q in range(qubits - 1):
        qc.cx(q, q + 1)
    if idle > 0:
        if dt:
            qc.delay(round(idle / dt), unit="dt")
        else:
            qc.delay(idle, unit="s")
    qc.measure_all()
    return qc


@dataclass
class _Submitted:
    """What ``Background`` has submitted so far."""

    jobs: list[RuntimeJobV2] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)


class Background:
    """Submits a ``Workload`` on ``service`` at each arrival's virtual instant (via clock timers).

    Job-mode jobs go through ``SamplerV2(mode=qpu)``; a tenant session through
    ``Session`` and ``SamplerV2(mode=session)``; every job is tagged with its tenant's name.
    """

    def __init__(self, service: LocalService, workload: Workload,
                 backend: QPU | None = None) -> None:
        self.service = service
        self.workload = workload
        self.qpu = backend if backend is not None else service.backend()
        self.submitted = _Submitted()
        self.rejected = 0
        """Tenant-session submissions refused because the session had already ended."""
        # One circuit object per width: the QPU caches transpilation per circuit object.
        self._circuits: dict[int, QuantumCircuit] = {}
        self._timers: list[Timer] = []

    @property
    def job_ids(self) -> list[str]:
        """Ids of every background job submitted so far (job mode and tenant sessions)."""
        return [job.job_id() for job in self.submitted.jobs]

    @property
    def session_ids(self) -> list[str]:
        """Ids of the tenant sessions opened so far."""
        return [s.session_id for s in self.submitted.sessions]

    def install(self) -> None:
        """Set a clock timer for every arrival (an arrival already past is submitted at once)."""
        for job in self.workload.jobs:
            self._at(job.at, partial(self._submit_job, job), f"arrival {job.tenant}")
        for spec in self.workload.sessions:
            self._at(spec.open_at, partial(self._run_session, spec), f"arrival {spec.tenant}")

    def cancel(self) -> None:
        """Drop the arrivals that have not happened yet."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    # -- submission ------------------------------------------------------------------

    def _at(self, seconds: float, action: Callable[[], None], label: str) -> None:
        # Timers run in the context they were set in, so tenants never join the
        # foreground's ``with Session(...)``; an arrival already past happens now.
        now = self.service.clock.now() / 1e6
        self._timers.append(self.service.call_at(max(seconds, now), action, label=label))

    def _circuit(self, qubits: int) -> QuantumCircuit:
        if qubits not in self._circuits:
            from qiskit.transpiler import generate_preset_pass_manager

            # Tenants transpile, as IBM's guides do: the service refuses non-ISA circuits.
            pm = generate_preset_pass_manager(optimization_level=1, target=self.qpu.target,
                                              seed_transpiler=0)
            self._circuits[qubits] = pm.run(tenant_circuit(qubits, self.workload.spec.idle,
                                                           self.qpu.target.dt))
        return self._circuits[qubits]

    def _submit_job(self, job: TenantJob) -> None:
        sampler = SamplerV2(mode=self.qpu, options=_tagged(job.tenant))
        pub = (self._circuit(job.qubits), list(job.values))
        self.submitted.jobs.append(sampler.run([pub], shots=job.shots))

    def _run_session(self, spec: TenantSession) -> None:
        session = Session(backend=self.qpu)
        self.submitted.sessions.append(session)
        sampler = SamplerV2(mode=session, options=_tagged(spec.tenant))
        circuit = self._circuit(spec.qubits)
        for i, at in enumerate(spec.submit_at):
            last = i == len(spec.submit_at) - 1
            self._at(at, partial(self._session_job, session, sampler, circuit, spec.values[i],
                                 spec.shots, last), f"arrival {spec.tenant}")

    def _session_job(self, session: Session, sampler: SamplerV2, circuit: QuantumCircuit,
                     values: Sequence[float], shots: int, last: bool) -> None:
        try:
            self.submitted.jobs.append(sampler.run([(circuit, list(values))], shots=shots))
        except IBMRuntimeError:
            # The session ended (its max TTL) before the tenant was done: a real tenant
            # would see this error; it must not escape into the foreground's wait.
            self.rejected += 1
            return
        if last:  # done submitting: close, so it drains and ends without an ITTL wait
            session.close()


def _tagged(tenant: str) -> dict[str, Any]:
    return {"environment": {"job_tags": [tenant]}}
