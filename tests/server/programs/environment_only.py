"""A program that takes its account from the environment alone (QISKIT_IBM_TOKEN,
QISKIT_IBM_INSTANCE set by its user), as the client reads them (accounts/management.py)."""

from qiskit import QuantumCircuit
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2

service = QiskitRuntimeService()
print("instance", service.active_instance())
backend = service.backend("qsession_ideal")
circuit = QuantumCircuit(1)
circuit.x(0)
circuit.measure_all()
job = SamplerV2(mode=backend).run([circuit], shots=10)
print("job", job.status(), job.result()[0].data.meas.get_counts())
