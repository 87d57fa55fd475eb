"""Expectation values of a parametrized circuit in a Batch, then the jobs listed by tag.

Nothing here knows about qsession: run it against IBM with your account, or locally with
``qsession run -- python batch_estimator.py`` (``qsession examples --copy DIR`` writes it
into DIR/unchanged).
"""

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import Batch, EstimatorV2, QiskitRuntimeService

service = QiskitRuntimeService()
backend = service.backend("ibm_brisbane")

theta = Parameter("theta")
circuit = QuantumCircuit(2)
circuit.ry(theta, 0)
circuit.cx(0, 1)
isa = generate_preset_pass_manager(optimization_level=1, backend=backend).run(circuit)
observable = SparsePauliOp("IZ").apply_layout(isa.layout)  # Z on qubit 0: cos(theta)
angles = np.linspace(0, np.pi, 5)

with Batch(backend=backend) as batch:
    estimator = EstimatorV2(mode=batch)
    estimator.options.default_precision = 0.05
    estimator.options.environment.job_tags = ["sweep"]
    jobs = [estimator.run([(isa, observable, [[a]])]) for a in angles]
    values = [float(job.result()[0].data.evs[0]) for job in jobs]

for angle, value in zip(angles, values, strict=True):
    print(f"theta={angle:.3f} <Z0>={value:+.3f}")
tagged = service.jobs(job_tags=["sweep"], limit=None)
print(f"{len(tagged)} jobs tagged 'sweep'; batch {batch.session_id}: {batch.details()['state']}")
