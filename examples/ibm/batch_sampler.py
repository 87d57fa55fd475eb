"""Shape of IBM's guide "Run jobs in a batch": independent circuits split across a Batch."""

from qiskit.circuit.random import random_circuit
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import Batch, QiskitRuntimeService
from qsession.runtime import SamplerV2 as Sampler

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

circuits = []
for seed in range(6):
    circuit = random_circuit(3, depth=3, measure=True, seed=seed)
    circuits.append(circuit)
pm = generate_preset_pass_manager(optimization_level=1, backend=backend)
isa_circuits = pm.run(circuits)

# Split the circuits into two partitions, one job each, submitted in one batch.
partitions = [isa_circuits[:3], isa_circuits[3:]]
jobs = []
with Batch(backend=backend) as batch:
    sampler = Sampler(mode=batch)
    for partition in partitions:
        job = sampler.run(partition, shots=256)
        jobs.append(job)
        print(f"Submitted job {job.job_id()} in batch {job.session_id}")

results = [job.result() for job in jobs]
for job, result in zip(jobs, results, strict=True):
    totals = [sum(pub.join_data().get_counts().values()) for pub in result]
    print(f"{job.job_id()}: {job.status()}, shots per pub {totals}")
print(f"Batch details: {batch.details()['mode']}, {batch.details()['state']}")
