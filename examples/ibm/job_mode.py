"""Shape of IBM's "job mode" examples: a primitive given a backend, the job retrieved by id."""

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import QiskitRuntimeService, SamplerV2

service = QiskitRuntimeService()
backend = service.backend(service.backends()[0].name)

circuit = QuantumCircuit(2)
circuit.h(0)
circuit.cx(0, 1)
circuit.measure_all()
pm = generate_preset_pass_manager(backend=backend, optimization_level=1)
isa_circuit = pm.run(circuit)

sampler = SamplerV2(mode=backend)
job = sampler.run([isa_circuit], shots=1024)
job_id = job.job_id()
print(f">>> Job ID: {job_id}")
print(f">>> Job status: {job.status()}")

# Later, possibly in another program: retrieve the job by its id.
retrieved = service.job(job_id)
result = retrieved.result()
counts = result[0].data.meas.get_counts()
print(f">>> Counts: {counts}")
print(f">>> Backend: {retrieved.backend().name}, primitive: {retrieved.primitive_id}")
