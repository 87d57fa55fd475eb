"""Conditions a user's session code must survive, and the service that imposes one.

A ``Condition`` is one draw of the world around the code under test: the session's
interactive timeout and max TTL, the classical think time the code should spend between
jobs, how many background tenants share the QPU, how often the QPU fails a job, and the
instance's plan.
``Condition.build()`` returns a fresh ``LocalService`` (virtual time) that imposes it.
Everything random is seeded from ``Condition.seed``, so a condition Hypothesis drew, and
shrank, replays exactly from its ``repr``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qsession.runtime.engine.qpu import QPU, PreparedJob

if TYPE_CHECKING:
    from qiskit.primitives import PrimitiveResult

    from qsession.runtime import LocalService
    from qsession.runtime.ibm.workload import Background

FAULT_MESSAGE = "QPU fault (seeded by the test condition)"


class QPUFault(RuntimeError):
    """Raised by ``FaultyQPU.execute``: the scheduler fails that one job, as a real fault does."""


class FaultyQPU(QPU):
    """An ideal QPU whose executions fail at a seeded rate (a raising ``execute``, as Aer's).

    Whether a job fails depends only on ``fault_seed`` and the job's simulator seed (drawn
    from the service seed in submission order), not on which thread runs it or when.
    """

    def __init__(self, name: str, target: Any, *, fault_rate: float, fault_seed: int,
                 **kwargs: Any) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be within [0, 1], not {fault_rate!r}")
        super().__init__(name, target, **kwargs)
        self.fault_rate = fault_rate
        self.fault_seed = fault_seed

    def fails(self, seed: int | None) -> bool:
        """Whether the job with simulator seed ``seed`` meets a fault."""
        if self.fault_rate == 0.0:
            return False
        return random.Random(f"{self.fault_seed}:{seed}").random() < self.fault_rate

    def execute(self, prepared: PreparedJob, seed: int | None) -> PrimitiveResult:
        if self.fails(seed):
            raise QPUFault(f"{FAULT_MESSAGE}: rate {self.fault_rate:g}, seed {self.fault_seed}")
        return super().execute(prepared, seed)


@dataclass(frozen=True)
class Condition:
    """The world around the code under test; ``build()`` makes a service that imposes it.

    ``think_time`` is not imposed by the service: it is the classical time the code under
    test should spend between jobs (``service.advance(condition.think_time)``), as a slow
    optimiser step would.
    """

    seed: int = 0
    interactive_timeout: float = 60.0
    max_time: float = 8 * 3600.0
    think_time: float = 0.0
    tenants: int = 0
    fault_rate: float = 0.0
    plan: str = "premium"
    """The plan of the service's instance: on ``open`` a ``Session`` is refused
    and a batch lasts 600 s at most."""

    def __post_init__(self) -> None:
        if self.interactive_timeout <= 0 or self.max_time <= 0 or self.think_time < 0 \
                or self.tenants < 0 or not 0.0 <= self.fault_rate <= 1.0 \
                or self.plan not in ("premium", "open"):
            raise ValueError(f"invalid condition: {self}")

    def build(self, **service_kwargs: Any) -> tuple[LocalService, Background | None]:
        """A fresh virtual-time service under this condition, and its background tenants.

        ``service_kwargs`` go to ``LocalService`` (not ``seed``, ``backends``,
        ``interactive_timeout``, ``max_time`` or ``instances``, which the condition sets).
        The tenants' arrivals are installed; ``Background.cancel()`` drops those to come.
        """
        from qsession.runtime import LocalService
        from qsession.runtime.engine.settings import DEFAULT_INSTANCE
        from qsession.runtime.ibm.workload import Background, WorkloadSpec, generate

        taken = {"seed", "backends", "interactive_timeout", "max_time", "instances"} & set(
            service_kwargs)
        if taken:
            raise TypeError(f"the condition sets {sorted(taken)}; do not pass them to build()")
        base = QPU.ideal()
        qpu = FaultyQPU(base.name, base.target, fault_rate=self.fault_rate,
                        fault_seed=self.seed, description=base.description)
        service = LocalService(seed=self.seed, backends=[qpu],
                               interactive_timeout=self.interactive_timeout,
                               max_time=self.max_time,
                               instances={DEFAULT_INSTANCE: {"plan": self.plan}},
                               **service_kwargs)
        if not self.tenants:
            return service, None
        # A shared QPU: a backlog at the start, then a Poisson stream of one job every ~30 s
        # per tenant, and no tenant sessions. Small jobs (a second or so on the QPU) keep
        # Aer cheap, since Hypothesis runs hundreds of examples.
        spec = WorkloadSpec(horizon=3600.0, rate=self.tenants / 30.0,
                            backlog=2 * self.tenants, tenants=self.tenants, qubits=(2, 3),
                            shots=(200, 1000), session_starts=())
        background = Background(service, generate(self.seed, spec))
        background.install()
        return service, background
