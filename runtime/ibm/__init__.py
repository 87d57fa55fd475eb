"""IBM's client API on the engine: the service, sessions, jobs, primitives, options, executor.

Each class here has ``qiskit-ibm-runtime``'s name, arguments and errors, and drives the
engine (``qsession.runtime.engine``) beneath it: ``service.LocalService`` is the engine's
``Platform`` with ``QiskitRuntimeService``'s lookups; ``session``, ``job``, ``primitives``,
``client_side``, ``executor`` and ``programs`` submit through the one door of
``submission``. ``workload`` draws seeded background tenants that submit through these
same classes. Users import these names from ``qsession.runtime`` or from IBM's module
paths mirrored beside this package (``qsession.runtime.sampler``, ``.batch``, ...).
"""
