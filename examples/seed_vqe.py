"""IBM's session guide example (SciPy COBYLA over an estimator in a Session), run locally.

Only the imports and the backend lines differ from the guide; the guide leaves the
ansatz and Hamiltonian to the reader, so a small pair is defined here. Run it with
``python seed_vqe.py`` (``qsession examples --copy DIR`` writes it into DIR): it takes a
few seconds of wall time and a few minutes of virtual QPU time.
"""

import numpy as np
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from scipy.optimize import minimize

from qsession.runtime import Estimator, LocalService, Session

service = LocalService(seed=2024)  # backend lines: a local service and its QPU
backend = service.backend()

# A small problem: the H2 molecule's 2-qubit Hamiltonian and a hardware-efficient ansatz.
hamiltonian = SparsePauliOp.from_list(
    [("II", -1.052373245772859), ("IZ", 0.39793742484318045), ("ZI", -0.39793742484318045),
     ("ZZ", -0.01128010425623538), ("XX", 0.18093119978423156)]
)
# Transpiled for the backend and the Hamiltonian laid out like it, as IBM's guides do:
# the service refuses circuits that are not ISA circuits of the QPU.
pm = generate_preset_pass_manager(optimization_level=1, backend=backend)
ansatz = pm.run(efficient_su2(2, reps=1))
hamiltonian = hamiltonian.apply_layout(ansatz.layout)
num_params = ansatz.num_parameters


def cost_func(params, ansatz, hamiltonian, estimator):
    # Return estimate of energy from estimator
    energy = estimator.run(ansatz, hamiltonian, parameter_values=params).result().values[0]
    return energy


x0 = 2 * np.pi * np.random.random(num_params)
session = Session(backend=backend)
# If using qiskit-ibm-runtime earlier than 0.24.0, change `mode=` to `session=`
estimator = Estimator(mode=session, options={"shots": int(1e4)})
res = minimize(cost_func, x0, args=(ansatz, hamiltonian, estimator), method="cobyla")
# Close the session because we didn't use a context manager.
session.close()

if __name__ == "__main__":
    details = session.details()
    print(f"energy {res.fun:.6f} after {res.nfev} evaluations")
    print(f"session {details['id']}: {details['state']}, usage {details['usage_time']:.1f} s, "
          f"started {details['started_at']}, closed {details['closed_at']}")
