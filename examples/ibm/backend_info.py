"""Shape of IBM's guide "Get backend information": list, filter, inspect."""

from qsession.runtime import QiskitRuntimeService

service = QiskitRuntimeService()

print(f"Backends: {[b.name for b in service.backends()]}")
devices = service.backends(simulator=False, operational=True)
print(f"Operational real devices: {[b.name for b in devices]}")
print(f"With at least 10 qubits: {[b.name for b in service.backends(min_num_qubits=10)]}")

backend = service.least_busy(operational=True, simulator=False)
print(f"Least busy: {backend.name}, {backend.num_qubits} qubits")

status = backend.status()
print(f"Operational: {status.operational}, pending jobs: {status.pending_jobs}")

config = backend.configuration()
print(f"Basis gates: {config.basis_gates}")
print(f"Max shots: {config.max_shots}, default rep delay: {config.default_rep_delay}")

target = backend.target
print(f"Instructions in the target: {sorted(target.operation_names)}")
print(f"Coupled to qubit 0: {sorted(q for (a, q) in target['cx'] if a == 0)}")
print(f"Calibration data: {backend.properties()}")
