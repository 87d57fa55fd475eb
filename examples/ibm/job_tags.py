"""Shape of IBM's job-tags examples: tag jobs, find them by tag, update the tags."""

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import QiskitRuntimeService, SamplerV2

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

circuit = QuantumCircuit(1)
circuit.h(0)
circuit.measure_all()
isa_circuit = generate_preset_pass_manager(optimization_level=1, backend=backend).run(circuit)

sampler = SamplerV2(mode=backend)
sampler.options.environment.job_tags = ["experiment-a", "calibration"]
first = sampler.run([isa_circuit], shots=100)
sampler.options.environment.job_tags = ["experiment-b"]
second = sampler.run([isa_circuit], shots=100)
first.result()
second.result()

tagged = service.jobs(job_tags=["experiment-a"])
print(f"Jobs tagged experiment-a: {[job.job_id() for job in tagged]}")
print(f"Tags of {first.job_id()}: {first.tags}")

second.update_tags(["experiment-a", "rerun"])
print(f"Tags of {second.job_id()} after update: {second.tags}")
now_tagged = service.jobs(job_tags=["experiment-a"])
print(f"Jobs tagged experiment-a now: {[job.job_id() for job in now_tagged]}")
