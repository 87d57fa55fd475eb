"""The HTTP door: IBM Quantum Platform's REST API on loopback for the unmodified client.

``qsession serve`` and ``qsession run -- COMMAND`` start it from the shell;
``connect()`` from Python returns a genuine ``qiskit_ibm_runtime.QiskitRuntimeService``
bound to a server running in the background. Nothing in the runtime imports this package.
"""

from .emulator import Emulator, Instance
from .launch import Connection, Server, client_env, connect, format_summary, summarize
from .stopping import StartError, claim_outputs, interrupts, listening_socket

__all__ = ["Connection", "Emulator", "Instance", "Server", "StartError", "claim_outputs",
           "client_env", "connect", "format_summary", "interrupts", "listening_socket",
           "summarize"]
