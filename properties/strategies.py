"""Hypothesis strategies for session workloads, collected in one module for reuse.

Use them to test your own session code: draw a service configuration, background
traffic and think times, run your code on a ``LocalService``, then check the trace::

    from hypothesis import given
    from qsession.properties import strategies as qs
    from qsession.properties.invariants import check

    @given(qs.service_configs(), qs.think_times())
    def test_my_loop(config, think):
        service = LocalService(**config)
        my_loop(service, think)
        service.run_until_idle()
        assert check(service.trace, settled=True).ok
"""

from __future__ import annotations

from math import pi
from typing import Any

from hypothesis import strategies as st
from qiskit.circuit import Parameter, QuantumCircuit

from .conditions import Condition

# Few shots keep Aer cheap (its time grows with shots: ~1.3 ms for 100, ~7.7 for 4,500);
# the stateful QPU's slow (10 ms a shot), gridded timing model (``machines``) turns them
# into jobs of 0.5 s, 1 s, 2.5 s and 5 s, which tile the usual max times.
SHOTS = (10, 30, 200, 450)


# The circuits are written in the ideal QPU's instruction set (rz, sx, cx), exactly as its
# transpiler would lay them out, so that no example pays for transpilation: with h and ry
# each fresh QPU transpiled them again, a third of the stateful machine's time.
def _hadamard(qc: QuantumCircuit, qubit: int) -> None:
    qc.rz(pi / 2, qubit)
    qc.sx(qubit)
    qc.rz(pi / 2, qubit)


def _bell() -> QuantumCircuit:
    qc = QuantumCircuit(2, name="bell")
    _hadamard(qc, 0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


def _ghz3() -> QuantumCircuit:
    qc = QuantumCircuit(3, name="ghz3")
    _hadamard(qc, 0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    qc.measure_all()
    return qc


def _rotation() -> QuantumCircuit:
    # ry(theta) up to a global phase
    qc = QuantumCircuit(1, name="ry")
    qc.sx(0)
    qc.rz(pi + Parameter("theta"), 0)
    qc.sx(0)
    qc.rz(3 * pi, 0)
    qc.measure_all()
    return qc


CIRCUITS: dict[str, QuantumCircuit] = {c.name: c for c in (_bell(), _ghz3(), _rotation())}
"""A small family of circuits (built once, so the QPU's transpile cache serves them)."""


def circuits() -> st.SearchStrategy[QuantumCircuit]:
    """One of the circuit family (Bell, GHZ-3, a parameterised rotation)."""
    return st.sampled_from(list(CIRCUITS.values()))


def sampler_pubs() -> st.SearchStrategy[tuple[Any, ...]]:
    """A sampler pub: a circuit with parameter values when it needs them."""
    def pub(circuit: QuantumCircuit, theta: float) -> tuple[Any, ...]:
        return (circuit, [theta]) if circuit.num_parameters else (circuit,)

    return st.builds(pub, circuits(), st.floats(0, 3.14, allow_nan=False))


def shots() -> st.SearchStrategy[int]:
    """Shot counts spanning short and long jobs."""
    return st.sampled_from(SHOTS)


def _seconds(upto: float) -> st.SearchStrategy[float]:
    """Seconds in ``[0, upto]`` at the clocks' resolution (a microsecond): ``advance()``
    refuses a positive time below it."""
    return st.floats(0, upto, allow_nan=False, allow_infinity=False).map(lambda t: round(t, 6))


def think_times(ittl: float = 60.0) -> st.SearchStrategy[float]:
    """Classical think time between jobs, biased to just inside and just past ``ittl``."""
    return st.one_of(
        _seconds(ittl * 2),
        st.sampled_from([0.0, ittl - 1e-6, ittl, ittl + 1e-6]),
    )


def max_times() -> st.SearchStrategy[float]:
    """Session max times short enough that expiry happens within a test."""
    return st.sampled_from([5.0, 10.0, 20.0, 60.0])


def service_configs() -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for ``LocalService``: seed, timeouts and instance allocations."""
    return st.fixed_dictionaries({
        "seed": st.integers(0, 2**31 - 1),
        "interactive_timeout": st.sampled_from([1.0, 2.0, 10.0, 60.0]),
        "batch_interactive_timeout": st.sampled_from([0.5, 1.0]),
        "instances": st.sampled_from([{"default": 1.0}, {"a": 2.0, "b": 1.0},
                                      {"a": 1.0, "b": 1.0, "c": 1.0}]),
    })


def background_loads(max_jobs: int = 10, horizon: float = 60.0
                     ) -> st.SearchStrategy[list[tuple[float, int]]]:
    """Job-mode traffic from other tenants: sorted (arrival seconds, shots) pairs."""
    arrival = st.floats(0, horizon, allow_nan=False, allow_infinity=False)
    return st.lists(st.tuples(arrival, shots()), max_size=max_jobs).map(sorted)


def conditions(*, interactive_timeouts: tuple[float, ...] = (60.0, 10.0, 2.0),
               max_times: tuple[float, ...] = (28_800.0, 600.0, 60.0, 20.0),
               max_think: float = 120.0, max_tenants: int = 3,
               fault_rates: tuple[float, ...] = (0.0, 0.05, 0.2),
               plans: tuple[str, ...] = ("premium",)
               ) -> st.SearchStrategy[Condition]:
    """Conditions a session loop must survive: ITTL, max TTL, think time, tenants, QPU faults.

    ``plans=("premium", "open")`` adds the Open Plan, on which a dedicated ``Session`` is
    refused: for code that must also run there (in a ``Batch`` or job mode).

    Each choice is listed from mild to harsh and Hypothesis shrinks towards the first, so
    a failing example shrinks to the mildest condition that still breaks the code: the
    longest timeouts, the shortest think time, the fewest tenants and faults. The seed
    (of the service, the tenants and the faults) is drawn too, so the example replays.
    """
    return st.builds(
        Condition,
        seed=st.integers(0, 2**31 - 1),
        interactive_timeout=st.sampled_from(interactive_timeouts),
        max_time=st.sampled_from(max_times),
        think_time=_seconds(max_think),
        tenants=st.integers(0, max_tenants),
        fault_rate=st.sampled_from(fault_rates),
        plan=st.sampled_from(plans),
    )
