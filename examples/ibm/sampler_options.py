"""Shape of IBM's guide "Specify options" for the Sampler: dicts, groups, seeds and noise."""

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer.noise import NoiseModel, depolarizing_error

from qsession.runtime import QiskitRuntimeService, SamplerOptions
from qsession.runtime import SamplerV2 as Sampler

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

circuit = QuantumCircuit(2)
circuit.h(0)
circuit.cx(0, 1)
circuit.measure_all()
isa_circuit = generate_preset_pass_manager(optimization_level=1, backend=backend).run(circuit)

# A dict of options when the primitive is built
sampler = Sampler(
    mode=backend,
    options={
        "default_shots": 1000,
        "dynamical_decoupling": {"enable": True, "sequence_type": "XY4"},
        "twirling": {"enable_gates": True, "enable_measure": True},
        "execution": {"rep_delay": 0.0002},
        "simulator": {"seed_simulator": 42},
    },
)
counts = sampler.run([isa_circuit]).result()[0].data.meas.get_counts()
print(f"Counts with seed 42: {counts}")

# The same seed gives the same counts; SamplerOptions is the same thing as an object
options = SamplerOptions(default_shots=1000, simulator={"seed_simulator": 42})
again = Sampler(mode=backend, options=options).run([isa_circuit]).result()[0]
print(f"Same counts again: {again.data.meas.get_counts() == counts}")

# A simulator noise model (honoured by the local simulation)
noise = NoiseModel()
noise.add_all_qubit_quantum_error(depolarizing_error(0.2, 2), ["cx"])
noisy = Sampler(mode=backend, options={"simulator": {"noise_model": noise, "seed_simulator": 1}})
noisy_counts = noisy.run([isa_circuit], shots=1000).result()[0].data.meas.get_counts()
print(f"Counts under noise: {noisy_counts}")

try:
    Sampler(mode=backend, options={"default_shot": 10})
except ValueError as err:
    print(f"Refused: {str(err).splitlines()[0]}")
