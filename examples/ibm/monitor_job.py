"""Shape of IBM's guide "Monitor or cancel a job": status, metrics, listing, cancel."""

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import QiskitRuntimeService, SamplerV2

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

circuit = QuantumCircuit(3)
circuit.h(0)
circuit.cx(0, 1)
circuit.cx(1, 2)
circuit.measure_all()
isa_circuit = generate_preset_pass_manager(optimization_level=1, backend=backend).run(circuit)

sampler = SamplerV2(mode=backend)
job = sampler.run([isa_circuit], shots=500)
unwanted = sampler.run([isa_circuit], shots=500)
print(f"Job {job.job_id()} status: {job.status()}")
print(f"Estimated usage: {job.usage_estimation}")
print(f"Pending jobs: {[j.job_id() for j in service.jobs(pending=True)]}")

unwanted.cancel()
print(f"Job {unwanted.job_id()} status after cancel: {unwanted.status()}")

job.wait_for_final_state()
print(f"Job {job.job_id()} status: {job.status()}, done: {job.done()}")
metrics = job.metrics()
print(f"Created {metrics['timestamps']['created']}, finished {metrics['timestamps']['finished']}")
print(f"Usage: {job.usage()} s")
print(f"Recent jobs: {[j.job_id() for j in service.jobs(limit=5)]}")
