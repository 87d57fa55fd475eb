"""B9: wall seconds per modeled QPU hour on the server's ``fast`` clock (report).

Long jobs (many shots each) through the unmodified client in a ``Session`` against
``qsession.server.connect(clock="fast")``: the client polls, the clock jumps to each
job's end, so hours of modeled QPU time take seconds. The figure is wall time over
modeled QPU time, per hour.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from .common import Result, fmt_s

SHOTS = 200_000
"""Shots per job: about 50 s of modeled QPU time each on ibm_brisbane."""


def run(quick: bool = False, **_options: Any) -> Result:
    """Measure B9 (``quick``: 2 jobs)."""
    jobs = 2 if quick else 72
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from qiskit import QuantumCircuit
        from qiskit.transpiler import generate_preset_pass_manager
        from qiskit_ibm_runtime import SamplerV2, Session

        from qsession.server import connect

        connection = connect(clock="fast", noise=False, seed=1)
        try:
            backend = connection.service.backend("ibm_brisbane")
            bell = QuantumCircuit(2)
            bell.h(0)
            bell.cx(0, 1)
            bell.measure_all()
            isa = generate_preset_pass_manager(optimization_level=1,
                                               backend=backend).run(bell)
            began = time.perf_counter()
            modeled = 0.0
            with Session(backend=backend) as session:
                sampler = SamplerV2(mode=session)
                for _ in range(jobs):
                    job = sampler.run([isa], shots=SHOTS)
                    job.result()
                    modeled += float(job.usage())
            wall = time.perf_counter() - began
        finally:
            connection.close()
    per_hour = wall / (modeled / 3600)
    return Result(
        id="B9",
        figure=f"wall time per modeled QPU hour, fast clock over HTTP ({jobs} jobs of "
               f"{SHOTS:,} shots in a Session)",
        subject=f"{fmt_s(per_hour)} per QPU hour",
        baseline=f"{modeled / 3600:.2f} QPU h modeled in {fmt_s(wall)}",
        ratio=f"{3600 / per_hour:,.0f}× faster than real time",
        target="report",
        verdict="report",
        notes=["Aer simulates every shot, so the figure grows with shots per modeled second"],
        raw={"wall_s": wall, "modeled_s": modeled, "per_hour_s": per_hour},
    )
