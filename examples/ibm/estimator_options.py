"""Shape of IBM's guide "Specify options" for the Estimator: every form of setting options."""

from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qsession.runtime import EstimatorOptions, QiskitRuntimeService
from qsession.runtime import EstimatorV2 as Estimator

service = QiskitRuntimeService()
backend = service.least_busy(operational=True, simulator=False)

circuit = efficient_su2(2, reps=1)
isa_circuit = generate_preset_pass_manager(optimization_level=1, backend=backend).run(circuit)
observable = SparsePauliOp("XZ").apply_layout(isa_circuit.layout)
values = [0.3] * circuit.num_parameters

# Options as an object, then passed to the primitive
options = EstimatorOptions()
options.resilience_level = 1
options.default_shots = 4000
estimator = Estimator(mode=backend, options=options)

# ... or set after the primitive is built, attribute by attribute
estimator.options.dynamical_decoupling.enable = True
estimator.options.dynamical_decoupling.sequence_type = "XpXm"
estimator.options.twirling.enable_gates = True
estimator.options.twirling.num_randomizations = 32

# ... or several at once with update(), or as a dict
estimator.options.update(default_precision=0.02, resilience={"measure_mitigation": True})
other = Estimator(mode=backend,
                  options={"resilience_level": 2, "simulator": {"seed_simulator": 1}})

print(f">>> DD sequence type: {estimator.options.dynamical_decoupling.sequence_type}")
print(f">>> Resilience level: {estimator.options.resilience_level}")
print(f">>> default shots: {estimator.options.default_shots}")

job = estimator.run([(isa_circuit, observable, values)])
print(f">>> Expectation value: {float(job.result()[0].data.evs):.4f}")
print(f">>> Options recorded with the job: {sorted(job.inputs['options'])}")
other_job = other.run([(isa_circuit, observable, values)])
print(f">>> Other estimator: {float(other_job.result()[0].data.evs):.4f}")

try:
    estimator.options.resilience_level = 5
except ValueError as err:
    print(f">>> Refused: {str(err).splitlines()[0]}")
