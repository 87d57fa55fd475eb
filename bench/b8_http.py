"""B8: the session guide's VQE over HTTP with the unmodified client, against its local mode.

The same ``qiskit-ibm-runtime`` calls (``Session``, ``EstimatorV2``, ``result()``) twice:
once against ``qsession serve --clock fast --no-noise`` on loopback (its own process, as
``qsession run`` starts it; a noiseless ``ibm_brisbane``), once in the client's own local
testing mode (a ``Session`` on an ``AerSimulator``, which ignores sessions). Both run the
ISA ansatz for ibm_brisbane, so Aer does the same work; the ratio is the price of the
REST round trips, the client's checks against a real backend, and real sessions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .b1_vqe import CALLS, PRECISION, Workload, workload
from .common import Result, fmt_s, interleaved, median, spread, verdict

TARGET = 1.25


def isa_workload(work: Workload, target: Any) -> tuple[Any, Any]:
    """The ansatz made ISA for ``target`` and the Hamiltonian laid out like it."""
    from qiskit.transpiler import generate_preset_pass_manager

    isa = generate_preset_pass_manager(optimization_level=1, target=target,
                                       seed_transpiler=1).run(work.ansatz)
    return isa, work.hamiltonian.apply_layout(isa.layout)


def vqe(backend: Any, isa: Any, observable: Any, params: list[Any]) -> float:
    """Seconds for the loop through the client's Session and EstimatorV2 on ``backend``."""
    from qiskit_ibm_runtime import EstimatorV2, Session

    began = time.perf_counter()
    with Session(backend=backend) as session:
        estimator = EstimatorV2(mode=session)
        estimator.options.default_precision = PRECISION
        for p in params:
            estimator.run([(isa, observable, p)]).result()
    return time.perf_counter() - began


@contextmanager
def served() -> Iterator[Any]:
    """``qsession serve`` in a subprocess; yields the real client's service bound to it."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    from qsession.server.launch import ENV_KEYS, environment

    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    outputs = tempfile.TemporaryDirectory(prefix="qsession-b8-")  # its trace and outputs
    command = [str(Path(sys.executable).parent / "qsession"), "serve", "--clock", "fast",
               "--no-noise", "--seed", "1", "-o", outputs.name]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        exports = {}
        for _ in ENV_KEYS:
            key, _sep, value = proc.stdout.readline()[len("export "):].strip().partition("=")
            exports[key] = value.strip("'")
        with environment(exports):
            yield QiskitRuntimeService()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        outputs.cleanup()


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B8 (``quick``: 5 calls, one repetition)."""
    figure = "seed VQE through the unmodified client over HTTP vs its local mode"
    calls, repeats = (5, 1) if quick else (CALLS, 3)
    work = workload(calls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from qiskit_aer import AerSimulator

        with served() as service:
            remote = service.backend("ibm_brisbane")
            isa, observable = isa_workload(work, remote.target)
            local = AerSimulator()
            times = interleaved({
                "local": lambda: vqe(local, isa, observable, work.params),
                "http": lambda: vqe(remote, isa, observable, work.params)}, repeats)
    local_s, http_s = median(times["local"]), median(times["http"])
    ratio = http_s / local_s
    return Result(
        id="B8",
        figure=f"{calls}-job {figure}",
        subject=f"{fmt_s(http_s)} ({fmt_s(http_s / calls)}/job) over HTTP",
        baseline=f"{fmt_s(local_s)} client local mode (Session on AerSimulator)",
        ratio=f"{ratio:.3f}×",
        target=f"≤ {TARGET}×",
        verdict=verdict(ratio <= TARGET),
        notes=[f"medians of {repeats} interleaved repetitions; HTTP {spread(times['http'])}, "
               f"local {spread(times['local'])}",
               f"per job: HTTP {fmt_s(http_s / calls)}, local mode {fmt_s(local_s / calls)}. "
               "Each HTTP run() is POST /jobs plus the client's own GET /instances/usage and "
               "backend status, then GET /jobs/{id} and /results, and the client checks the "
               "circuit against the 127-qubit target (local mode skips that for a "
               "simulator); the server simulates in its own process, so on two cores the "
               "client's and the server's work overlap"],
        raw={"http_s": times["http"], "local_s": times["local"], "ratio": ratio},
    )
