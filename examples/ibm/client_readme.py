"""Shape of the qiskit-ibm-runtime README's first examples: Sampler then Estimator."""

from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import EstimatorV2 as Estimator
from qsession.runtime import QiskitRuntimeService
from qsession.runtime import SamplerV2 as Sampler

service = QiskitRuntimeService(channel="ibm_quantum_platform")
backend = service.least_busy(operational=True, simulator=False)

# Sampler: a bell-ish circuit
circuit = real_amplitudes(num_qubits=2, reps=2)
circuit.measure_all()
pm = generate_preset_pass_manager(backend=backend, optimization_level=1)
isa_circuit = pm.run(circuit)
params = [0.1] * circuit.num_parameters

sampler = Sampler(mode=backend)
job = sampler.run([(isa_circuit, params)])
print(f">>> Job ID: {job.job_id()}")
print(f">>> Job Status: {job.status()}")
result = job.result()
print(f">>> Counts: {result[0].data.meas.get_counts()}")

# Estimator: an observable on the same ansatz, without measurements
ansatz = real_amplitudes(num_qubits=2, reps=2)
isa_ansatz = pm.run(ansatz)
observable = SparsePauliOp("ZZ").apply_layout(isa_ansatz.layout)
estimator = Estimator(mode=backend)
job = estimator.run([(isa_ansatz, observable, params)])
print(f">>> Expectation value: {job.result()[0].data.evs}")
print(f">>> Channel: {service.channel}")
