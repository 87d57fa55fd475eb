"""QAOA for Max-Cut in the style of IBM's tutorial: EstimatorV2 and SamplerV2 in one Session.

The cost Hamiltonian is optimised with the estimator, then the optimised circuit is
sampled with the sampler, both inside ``with Session(...)``; circuits are transpiled for
the QPU with a preset pass manager, as the tutorial does.
"""

import numpy as np
from qiskit.circuit.library import qaoa_ansatz
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from scipy.optimize import minimize

from qsession.runtime import EstimatorV2, LocalService, SamplerV2, Session

service = LocalService(seed=7)
backend = service.backend()

# A 5-node ring with one chord (a triangle inside): its maximum cut has 5 of 6 edges.
edges = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)]
n = 5
cost = SparsePauliOp.from_sparse_list([("ZZ", list(e), 1.0) for e in edges], num_qubits=n)
circuit = qaoa_ansatz(cost, reps=2)
circuit.measure_all()

pm = generate_preset_pass_manager(optimization_level=3, backend=backend)
isa_circuit = pm.run(circuit)
isa_cost = cost.apply_layout(isa_circuit.layout)
history: list[float] = []


def cost_func(params, ansatz, hamiltonian, estimator):
    pub = (ansatz, [hamiltonian], [params])
    value = estimator.run(pubs=[pub]).result()[0].data.evs[0]
    history.append(float(value))
    return value


with Session(backend=backend) as session:
    # The default precision (1/64, about 4,096 shots a circuit): with 1,000 shots the
    # shot noise stalled COBYLA near its start point and the sampled cut was not maximal.
    estimator = EstimatorV2(mode=session)
    init = np.array([np.pi / 2] * 2 + [np.pi] * 2)
    result = minimize(cost_func, init, args=(isa_circuit, isa_cost, estimator),
                      method="COBYLA", options={"maxiter": 150})

    sampler = SamplerV2(mode=session)
    sampler.options.default_shots = 10_000
    counts = sampler.run([(isa_circuit, result.x)]).result()[0].data.meas.get_int_counts()


def cut_size(bits: int) -> int:
    """Edges cut by the partition encoded in ``bits`` (bit i = side of node i)."""
    return sum(((bits >> a) & 1) != ((bits >> b) & 1) for a, b in edges)


best = max(counts, key=counts.get)
optimum = max(cut_size(bits) for bits in range(2**n))

if __name__ == "__main__":
    print(f"{len(history)} estimator jobs, final cost {history[-1]:.3f}")
    print(f"most likely cut {best:0{n}b} cuts {cut_size(best)} of {len(edges)} edges "
          f"(the maximum cut has {optimum})")
    print(session.details())
