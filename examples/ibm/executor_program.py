"""Shape of IBM's ``Executor`` guide: a ``QuantumProgram`` built by hand, in job mode.

Each item is an ISA circuit with its parameter values; the result holds, per item, the
measured bits as boolean arrays shaped (parameter sets, shots, bits).
"""

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import Executor, QiskitRuntimeService, QuantumProgram

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

theta = Parameter("theta")
circuit = QuantumCircuit(1)
circuit.rx(theta, 0)
circuit.measure_all()
pm = generate_preset_pass_manager(optimization_level=1, backend=backend)
isa_circuit = pm.run(circuit)

program = QuantumProgram(shots=100)
program.append_circuit_item(isa_circuit, circuit_arguments=np.array([[0.0], [np.pi]]))

executor = Executor(backend)
executor.options.environment.job_tags = ["executor-guide"]
job = executor.run(program)
result = job.result()

bits = result[0]["meas"]
print(f"job {job.job_id()}: item 0 bits shaped {bits.shape}")
print(f"fraction of 1s for theta = 0 and pi: {bits.mean(axis=(1, 2)).round(1).tolist()}")
span = result.metadata.chunk_timing[0]
print(f"ran in {len(result.metadata.chunk_timing)} chunk(s); tags {job.tags}")
print(f"chunk within the job: {span.start <= span.stop}")
