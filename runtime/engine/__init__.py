"""The emulator's engine: the platform IBM runs, with nothing of IBM's client API.

Clocks (``clock``, ``inputs``), the per-QPU ``scheduler`` with its ``records``, ``settings``,
``fairshare`` ledger and ``ids``; the emulated ``qpu`` (``pubs``, ``circuits``, ``timing``,
``backend_info``); the ``trace`` every change is written to, and what reads it back into a
platform (``replay``, ``recovery``); ``platform.Platform`` ties one clock, its schedulers and
QPUs and the trace together. ``campaign`` says where a campaign's shards run. The engine
raises the exceptions of ``errors``, which carry IBM's class names because users catch
them. It never imports ``qsession.runtime.ibm`` or IBM's module paths above it (the
project's layout test fails on such an import).
"""
