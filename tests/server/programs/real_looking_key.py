"""A program as it would run against IBM: a real-looking 44-character key, IBM's URL, a
CRN in eu-de (so the client calls eu-de.quantum.cloud.ibm.com), a job in job mode."""

from qiskit import QuantumCircuit
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2

service = QiskitRuntimeService(
    channel="ibm_quantum_platform",
    url="https://cloud.ibm.com",
    token="Xq7bK2mN9pR4sT6vW8yZ1aC3eG5iL7oQ0uD2fH4jM6nB",
    instance="crn:v1:bluemix:public:quantum-computing:eu-de:a/7c1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a:0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a::",
)
backend = service.backend("ibm_brisbane")
circuit = QuantumCircuit(1)
circuit.x(0)
circuit.measure_all()
isa = generate_preset_pass_manager(backend=backend, optimization_level=1).run(circuit)
job = SamplerV2(mode=backend).run([isa], shots=100)
print("job", job.job_id(), job.status(), sorted(job.result()[0].data.meas.get_counts()))
