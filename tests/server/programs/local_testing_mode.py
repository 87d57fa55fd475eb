"""IBM's "Qiskit Runtime local testing mode" guide: a fake backend given to a primitive runs
in-process, so no request reaches any platform (IBM's or qsession's)."""

from qiskit import QuantumCircuit
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from qiskit_ibm_runtime import SamplerV2
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

backend = FakeManilaV2()
circuit = QuantumCircuit(2)
circuit.h(0)
circuit.cx(0, 1)
circuit.measure_all()
isa = generate_preset_pass_manager(backend=backend, optimization_level=1).run(circuit)
result = SamplerV2(mode=backend).run([isa], shots=50).result()
print("local counts", sum(result[0].data.meas.get_counts().values()))
