"""Asks for a QPU the run does not serve (IBM's guide programs name ibm_kyiv, ibm_torino...)."""

from qiskit_ibm_runtime import QiskitRuntimeService

service = QiskitRuntimeService()
backend = service.backend("ibm_kyiv")
print(backend.name)
