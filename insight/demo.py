"""The demo (``qsession demo``): a VQE session on a QPU shared with other tenants.

IBM's session guide workload — SciPy COBYLA minimising an estimator's energy inside a
``Session`` — runs in virtual time on a QPU that seeded background tenants
(``qsession.runtime.ibm.workload``) also use. The scenario is laid out so that every session rule of
the session lifecycle shows: the first job queues behind tenants; later jobs jump the queue; a slow
classical step lets the ITTL expire (the QPU is held idle meanwhile, then the session
deactivates and its next job reactivates it through the normal queue); another tenant's
session waits for the QPU; and final evaluations submitted just before the max TTL are
failed by the expiry while the running one completes.

``simulate`` runs the scenario and returns its trace; ``story.read_story`` reads the
behaviours back from the trace alone; ``run_demo`` does both, writes the output files and prints the
narrative and tables on a rich ``Console``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from qsession.runtime import IBMRuntimeError, RuntimeJobFailureError, Trace
from qsession.runtime.engine.clock import to_seconds
from qsession.runtime.ibm.workload import Background, WorkloadSpec, generate

from .metrics import Metrics, compute
from .report import print_report, print_skipped
from .story import Story, figures, read_story

if TYPE_CHECKING:
    from rich.console import Console

    from qsession.runtime import EstimatorV2, LocalService, RuntimeJobV2, Session

Progress = Callable[[str, float], None]
"""Called as ``progress(phase description, virtual seconds now)`` while the demo runs."""

VQE_TAG = "vqe"
OUTPUT_FILES = ("timeline.png", "timeline.svg", "trace.jsonl", "trace.perfetto.json",
                "session-lifecycle.svg")

# The H2 molecule's 2-qubit Hamiltonian, as in examples/seed_vqe.py.
H2_TERMS = (("II", -1.052373245772859), ("IZ", 0.39793742484318045),
            ("ZI", -0.39793742484318045), ("ZZ", -0.01128010425623538),
            ("XX", 0.18093119978423156))


@dataclass(frozen=True)
class DemoConfig:
    """The scenario's knobs (virtual seconds); the defaults make every behaviour visible."""

    seed: int = 7
    interactive_timeout: float = 30.0
    """The QPU's session ITTL (IBM's default is 60 s; shorter keeps the picture compact)."""
    max_time: float = 240.0
    """The VQE session's max TTL: short, so the run ends with its expiry."""
    shots: int = 4096
    setup: float = 3.0
    """Classical set-up before the first job (the tenants' backlog arrives meanwhile)."""
    think: float = 1.5
    """The classical optimiser's step between two evaluations (shorter than the ITTL)."""
    slow_step: float = 50.0
    """The deliberately slow classical step, a re-initialisation longer than the ITTL."""
    phase1_evals: int = 12
    """Phase 1 evaluations (each job holds the QPU ~4 s: 2 s of overhead per pub, IBM's
    estimate, plus 2 bases × 4,096 shots)."""
    phase2_evals: int = 80
    """An upper bound: the approaching max TTL stops the second phase first."""
    final_jobs: int = 5
    final_window: float = 2.5
    """The final batch goes out when this many jobs' QPU time is left before the max TTL."""
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)


# -- the scenario --------------------------------------------------------------------------


@dataclass
class Energies:
    """What the optimiser reached, per phase, and the exact ground-state energy."""

    exact: float
    phase1: list[float] = field(default_factory=list)
    phase2: list[float] = field(default_factory=list)
    final: list[float] = field(default_factory=list)
    final_failed: int = 0


@dataclass
class DemoRun:
    """A finished scenario: its trace, who is who in it, and the energies reached."""

    config: DemoConfig
    trace: Trace
    session_id: str
    tenant_sessions: list[str]
    energies: Energies
    background_jobs: int


class _StopOptimiser(Exception):
    """Raised inside the cost function to end a COBYLA run early (deadline or failed job)."""


def h2_problem() -> tuple[Any, Any]:
    """The H2 Hamiltonian of the seed_vqe.py example and a 4-parameter RY ansatz for it.

    The guide leaves the ansatz open; ``real_amplitudes(2, reps=1)`` reaches the ground
    state within the demo's few dozen COBYLA evaluations, where ``efficient_su2``'s eight
    parameters would still be far off.
    """
    from qiskit.circuit.library import real_amplitudes
    from qiskit.quantum_info import SparsePauliOp

    return real_amplitudes(2, reps=1), SparsePauliOp.from_list(list(H2_TERMS))


def isa_problem(ansatz: Any, hamiltonian: Any, backend: Any) -> tuple[Any, Any]:
    """The ansatz transpiled for ``backend`` and the Hamiltonian laid out like it.

    As IBM's guides do: the service refuses circuits that are not ISA circuits.
    """
    from qiskit.transpiler import generate_preset_pass_manager

    pm = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0)
    isa = pm.run(ansatz)
    return isa, hamiltonian.apply_layout(isa.layout)


def cost_func(params: Any, ansatz: Any, hamiltonian: Any, estimator: EstimatorV2) -> float:
    """The session guide's cost function, unchanged: one estimator job per evaluation."""
    energy = estimator.run(ansatz, hamiltonian, parameter_values=params).result().values[0]
    return float(energy)


class _VQE:
    """The foreground user: COBYLA in a Session, with a classical cost between evaluations."""

    def __init__(self, service: LocalService, config: DemoConfig, progress: Progress) -> None:
        import numpy as np

        from qsession.runtime import EstimatorV2, Session

        self.service = service
        self.config = config
        self.progress = progress
        ansatz, hamiltonian = h2_problem()
        exact = float(np.linalg.eigvalsh(hamiltonian.to_matrix()).min())
        self.ansatz, self.hamiltonian = isa_problem(ansatz, hamiltonian, service.backend())
        self.energies = Energies(exact)
        self.x0 = 2 * np.pi * np.random.default_rng(config.seed).random(
            self.ansatz.num_parameters)
        self.session: Session = Session(backend=service.backend(), max_time=config.max_time)
        self.estimator = EstimatorV2(mode=self.session, options={
            "default_shots": config.shots, "environment": {"job_tags": [VQE_TAG]}})
        self.best: tuple[float, Any] = (math.inf, self.x0)
        self.job_seconds = 0.0
        self.phase = ""
        self.log: list[float] = self.energies.phase1

    def now(self) -> float:
        return to_seconds(self.service.clock.now())

    def objective(self, params: Any) -> float:
        """The classical step, a deadline check in phase 2, then the guide's cost function."""
        if self.log:  # the optimiser's own classical work between two evaluations
            self.service.advance(self.config.think)
        if self.log is self.energies.phase2 and self._too_late():
            raise _StopOptimiser
        try:
            energy = cost_func(params, self.ansatz, self.hamiltonian, self.estimator)
        except (RuntimeJobFailureError, IBMRuntimeError) as err:  # expired meanwhile
            raise _StopOptimiser from err
        self.log.append(energy)
        if energy < self.best[0]:
            self.best = (energy, params.copy())
        self.progress(f"{self.phase} · evaluation {len(self.log)}", self.now())
        return energy

    def _remaining(self) -> float:
        return float(self.session.details()["active_timeout"])

    def _too_late(self) -> bool:
        """True when one more evaluation would leave less than the final batch's window."""
        if self.job_seconds == 0.0:
            self.job_seconds = _estimated_seconds(self.service, self.session.session_id)
        window = self.config.final_window * self.job_seconds
        return self._remaining() - self.config.think - self.job_seconds < window

    def minimise(self, x0: Any, evals: int, rhobeg: float) -> None:
        from scipy.optimize import minimize

        with contextlib.suppress(_StopOptimiser):
            minimize(self.objective, x0, method="COBYLA",
                     options={"maxiter": evals, "rhobeg": rhobeg})

    def run(self) -> None:
        """Set-up, phase 1, the slow step, phase 2, then the final batch near the max TTL."""
        cfg = self.config
        self.phase = "set-up"
        self.service.advance(cfg.setup)
        self.progress(self.phase, self.now())
        self.phase = "phase 1: COBYLA"
        self.minimise(self.x0, cfg.phase1_evals, 1.0)
        self.phase = "slow step: re-initialising"
        self.progress(self.phase, self.now())
        self.service.advance(cfg.slow_step)
        self.phase, self.log = "phase 2: COBYLA", self.energies.phase2
        self.minimise(self.best[1], cfg.phase2_evals, 0.3)
        self.final_batch()

    def final_batch(self) -> None:
        """Submit the final evaluations at once, just before the max TTL, and collect them."""
        self.phase = "final evaluations"
        if not self.session.details()["accepting_jobs"]:
            return
        if self.job_seconds == 0.0:
            self.job_seconds = _estimated_seconds(self.service, self.session.session_id)
        wait = self._remaining() - self.config.final_window * self.job_seconds
        if wait > 0:  # post-processing until the final batch's moment
            self.service.advance(wait)
        try:
            jobs = [self.estimator.run(self.ansatz, self.hamiltonian,
                                       parameter_values=self.best[1])
                    for _ in range(self.config.final_jobs)]
        except IBMRuntimeError:
            return
        for job in jobs:
            self._collect(job)
        self.progress(self.phase, self.now())
        self.session.close()

    def _collect(self, job: RuntimeJobV2) -> None:
        try:
            self.energies.final.append(float(job.result().values[0]))
        except RuntimeJobFailureError:
            self.energies.final_failed += 1


def _estimated_seconds(service: LocalService, session_id: str) -> float:
    jobs = service.jobs(limit=1, session_id=session_id)
    return float(jobs[0].usage_estimation["quantum_seconds"]) if jobs else 0.0


def simulate(config: DemoConfig | None = None, progress: Progress | None = None) -> DemoRun:
    """Run the scenario in virtual time and return its trace (same seed, same trace)."""
    from qsession.runtime import LocalService

    config = config or DemoConfig()
    report: Progress = progress or (lambda _phase, _now: None)
    service = LocalService(seed=config.seed, interactive_timeout=config.interactive_timeout)
    background = Background(service, generate(config.seed, config.workload))
    background.install()
    vqe = _VQE(service, config, report)
    vqe.run()
    vqe.session.close()
    # Let the tenants finish: every arrival up to the horizon, then until the QPU is idle.
    left = config.workload.horizon - to_seconds(service.clock.now())
    if left > 0:
        service.advance(left)
    service.run_until_idle()
    background.cancel()
    report("done", to_seconds(service.clock.now()))
    return DemoRun(config, service.trace, vqe.session.session_id, background.session_ids,
                   vqe.energies, len(background.job_ids))


# -- output --------------------------------------------------------------------------------


class Skipped(NamedTuple):
    """Why a file was not written (or was written in another form), and which of qsession's
    extras would write it (None when installing one would not help)."""

    why: str
    extra: str | None = None


@dataclass
class DemoResult:
    """What ``run_demo`` produced: the run, its story, metrics, figures and files."""

    run: DemoRun
    story: Story
    metrics: Metrics
    figures: dict[str, float]
    files: dict[str, Path]
    skipped: dict[str, Skipped] = field(default_factory=dict)
    """Files not written (or written in another form), by name, and why: a missing extra."""


def run_demo(output_dir: str | Path = "qsession-out", config: DemoConfig | None = None, *,
             console: Console | None = None, quiet: bool = False) -> DemoResult:
    """Run the demo, write its files into ``output_dir`` and print what it showed."""
    from rich.console import Console

    config = config or DemoConfig()
    console = console or Console()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not quiet:
        console.print(_header(config))
    run = _simulate_with_progress(config, console, quiet)
    metrics = compute(run.trace)
    story = read_story(run.trace, run.session_id)
    numbers = figures(metrics, run.session_id)
    skipped: dict[str, Skipped] = {}
    files = write_outputs(run, out, skipped)
    result = DemoResult(run, story, metrics, numbers, files, skipped)
    if quiet:
        console.print(f"qsession demo (seed {config.seed}): wrote {len(files)} files to {out}")
        print_skipped(skipped, console)
    else:
        print_report(result, console)
    return result


def _header(config: DemoConfig) -> str:
    w = config.workload
    return (f"[bold]qsession demo[/] — seed {config.seed}, virtual time. A VQE loop as in "
            f"IBM's session guide (SciPy COBYLA, EstimatorV2 in a Session, max_time "
            f"{config.max_time:g} s) on one QPU (ITTL {config.interactive_timeout:g} s) "
            f"shared with background tenants "
            f"(job-mode samplers, ~{w.rate * 60:.0f}/min, {w.backlog} already queued; "
            f"{len(w.session_starts)} other session).")


def _simulate_with_progress(config: DemoConfig, console: Console, quiet: bool) -> DemoRun:
    if quiet:
        return simulate(config)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    total = config.workload.horizon
    columns = (TextColumn("{task.description:<40}"), BarColumn(),
               TextColumn("virtual {task.completed:>5.1f} s"), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("starting", total=total)

        def report(phase: str, now: float) -> None:
            bar.update(task, description=phase, completed=min(now, total))

        run = simulate(config, report)
        bar.update(task, completed=total)
    return run


def write_outputs(run: DemoRun, out: Path, skipped: dict[str, Skipped] | None = None,
                  ) -> dict[str, Path]:
    """Write the trace, its Perfetto export, the timeline and the lifecycle diagram.

    What a missing extra prevents is not written; ``skipped`` gets each such file and why.
    """
    from .perfetto import write_perfetto
    from .timeline import PLOT_MISSING, TIMELINE_FILES, draw_timeline, plot_missing

    skipped = {} if skipped is None else skipped
    files = {"trace.jsonl": run.trace.write(out / "trace.jsonl"),
             "trace.perfetto.json": write_perfetto(run.trace, out / "trace.perfetto.json")}
    title = (f"qsession demo (seed {run.config.seed}): VQE session {run.session_id} on a "
             f"shared QPU — ITTL {run.config.interactive_timeout:g} s, max TTL "
             f"{run.config.max_time:g} s")
    missing = plot_missing()
    if missing is None:
        png, svg = (out / name for name in TIMELINE_FILES)
        draw_timeline(run.trace, png, svg, title=title)
        files.update({png.name: png, svg.name: svg})
    else:
        skipped.update(dict.fromkeys(TIMELINE_FILES, Skipped(PLOT_MISSING, "plot")))
    files.update(write_lifecycle(out, skipped))
    return files


def write_lifecycle(out: Path, skipped: dict[str, Skipped] | None = None) -> dict[str, Path]:
    """The session lifecycle as SVG; without pygraphviz, its Mermaid source and a note.

    When it falls back to Mermaid, ``skipped`` gets the SVG's name and why.
    """
    from qsession.diagrams import DiagramError, render

    try:
        path = out / "session-lifecycle.svg"
        path.write_bytes(render("session", "svg"))
    except DiagramError as err:
        path = out / "session-lifecycle.mmd"
        path.write_text(f"%% {err}\n{render('session', 'mermaid').decode()}")
        if skipped is not None:
            extra = "diagrams" if find_spec("pygraphviz") is None else None
            why = "SVG needs pygraphviz" if extra else str(err)
            skipped["session-lifecycle.svg"] = Skipped(
                f"{why}; its Mermaid source is in {path.name}", extra)
        return {"session-lifecycle.mmd": path}
    return {"session-lifecycle.svg": path}
