"""Shape of IBM's guides for the client-side Estimator (qiskit-ibm-runtime 0.50+) in a Batch.

``executor_estimator.Estimator`` runs TREX (measurement twirling and noise learning) on the
client at resilience level 1; a parameter sweep and a second observable go in one batch.
"""

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import Batch, QiskitRuntimeService
from qsession.runtime.executor_estimator import Estimator

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

theta = Parameter("θ")
circuit = QuantumCircuit(2)
circuit.ry(theta, 0)
circuit.cx(0, 1)
pm = generate_preset_pass_manager(optimization_level=1, backend=backend)
isa_circuit = pm.run(circuit)
observables = [SparsePauliOp(label).apply_layout(isa_circuit.layout) for label in ("ZZ", "ZI")]
angles = np.linspace(0, np.pi, 3).reshape(-1, 1)

with Batch(backend=backend) as batch:
    estimator = Estimator(mode=batch)
    estimator.options.resilience_level = 1
    estimator.options.default_precision = 0.05
    jobs = [estimator.run([(isa_circuit, observable, angles)]) for observable in observables]
    for job in jobs:
        print(f"submitted {job.job_id()} in batch {job.session_id}")

for label, job in zip(("ZZ", "ZI"), jobs, strict=True):
    values = job.result()[0].data.evs
    # Rounded to integers: the middle value is 0 within shot noise (precision 0.05).
    print(f"<{label}> over θ = 0, π/2, π, rounded: {[int(v) for v in np.rint(values)]}")
print(f"batch after close: {batch.details()['state']}")
