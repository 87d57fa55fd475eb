"""Shape of IBM's QAOA tutorial, small: max-cut of a 4-node ring in one Session."""

import numpy as np
from qiskit.circuit.library import qaoa_ansatz
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from scipy.optimize import minimize

from qsession.runtime import EstimatorV2 as Estimator
from qsession.runtime import QiskitRuntimeService, Session
from qsession.runtime import SamplerV2 as Sampler

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

# Step 1: map the problem (a ring of 4 nodes) to a cost Hamiltonian
edges = [(0, 1), (1, 2), (2, 3), (3, 0)]
n = 4
pauli_list = []
for i, j in edges:
    label = ["I"] * n
    label[i], label[j] = "Z", "Z"
    pauli_list.append(("".join(label)[::-1], 1.0))
cost_hamiltonian = SparsePauliOp.from_list(pauli_list)
circuit = qaoa_ansatz(cost_hamiltonian, reps=1)
circuit.measure_all()

# Step 2: optimize for the target hardware
pm = generate_preset_pass_manager(optimization_level=3, backend=backend)
candidate_circuit = pm.run(circuit)


def cost_func_estimator(params, ansatz, hamiltonian, estimator):
    isa_hamiltonian = hamiltonian.apply_layout(ansatz.layout)
    pub = (ansatz, isa_hamiltonian, params)
    job = estimator.run([pub])
    results = job.result()[0]
    cost = results.data.evs
    objective_func_vals.append(cost)
    return cost


# Step 3: execute in a session (estimator to optimize, sampler to read the cut)
objective_func_vals = []
initial_gamma, initial_beta = np.pi, np.pi / 2
init_params = [initial_beta, initial_gamma]
with Session(backend=backend) as session:
    estimator = Estimator(mode=session)
    estimator.options.default_shots = 1000
    result = minimize(cost_func_estimator, init_params,
                      args=(candidate_circuit, cost_hamiltonian, estimator),
                      method="COBYLA", tol=1e-2, options={"maxiter": 25})
    optimized_circuit = candidate_circuit.assign_parameters(result.x)
    sampler = Sampler(mode=session)
    sampler.options.default_shots = 2000
    sampler.options.simulator.seed_simulator = 1
    counts = sampler.run([optimized_circuit]).result()[0].data.meas.get_counts()

# Step 4: post-process: the most likely bitstring is the cut
best = max(counts, key=counts.get)
cut = sum(1 for i, j in edges if best[::-1][i] != best[::-1][j])
print(f"Cost after {result.nfev} evaluations: {result.fun:.3f}")
print(f"Most likely bitstring {best} cuts {cut} of {len(edges)} edges")
