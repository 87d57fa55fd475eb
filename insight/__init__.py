"""Readers of what the emulator recorded: metrics, timeline, Perfetto, workloads, demo, what-if.

Everything here works from a trace (``qsession.runtime.engine.trace``): a live run's, a recorded
file's or a hand-written one. The trace readers (``metrics``, ``spans``, ``timeline``,
``perfetto``, ``story``, ``workloads``) import neither qiskit nor the scheduler; ``demo``
and ``whatif`` also drive the emulator to produce the traces they read.
"""
