"""The demo (``qsession demo``): the seed's VQE session on a QPU shared with other tenants.

The seed document's workload — SciPy COBYLA minimising an estimator's energy inside a
``Session`` — runs in virtual time on a QPU that seeded background tenants
(``runtime.workload``) also use. The scenario is laid out so that every session rule of
SPEC §2 shows: the first job queues behind tenants; later jobs jump the queue; a slow
classical step lets the ITTL expire (the QPU is held idle meanwhile, then the session
deactivates and its next job reactivates it through the normal queue); another tenant's
session waits for the QPU; and final evaluations submitted just before the max TTL are
failed by the expiry while the running one completes.

``simulate`` runs the scenario and returns its trace; ``read_story`` reads the behaviours
back from the trace alone; ``run_demo`` does both, writes the output files and prints the
narrative and tables on a rich ``Console``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clock import to_seconds
from .errors import IBMRuntimeError, RuntimeJobFailureError
from .metrics import Metrics, compute
from .trace import Record, Trace
from .workload import Background, WorkloadSpec, generate

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from .job import RuntimeJobV2
    from .primitives import EstimatorV2
    from .service import LocalService
    from .session import Session

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
    phase1_evals: int = 20
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
    """The H2 Hamiltonian of examples/seed_vqe.py and a 4-parameter RY ansatz for it.

    The seed leaves the ansatz open; ``real_amplitudes(2, reps=1)`` reaches the ground
    state within the demo's few dozen COBYLA evaluations, where ``efficient_su2``'s eight
    parameters would still be far off.
    """
    from qiskit.circuit.library import real_amplitudes
    from qiskit.quantum_info import SparsePauliOp

    return real_amplitudes(2, reps=1), SparsePauliOp.from_list(list(H2_TERMS))


def cost_func(params: Any, ansatz: Any, hamiltonian: Any, estimator: EstimatorV2) -> float:
    """The seed document's cost function, unchanged: one estimator job per evaluation."""
    energy = estimator.run(ansatz, hamiltonian, parameter_values=params).result().values[0]
    return float(energy)


class _VQE:
    """The foreground user: COBYLA in a Session, with a classical cost between evaluations."""

    def __init__(self, service: LocalService, config: DemoConfig, progress: Progress) -> None:
        import numpy as np

        from .primitives import EstimatorV2
        from .session import Session

        self.service = service
        self.config = config
        self.progress = progress
        self.ansatz, self.hamiltonian = h2_problem()
        exact = float(np.linalg.eigvalsh(self.hamiltonian.to_matrix()).min())
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
        """The classical step, a deadline check in phase 2, then the seed's cost function."""
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
    jobs = service.jobs(session_id=session_id)
    return float(jobs[-1].usage_estimation["quantum_seconds"]) if jobs else 0.0


def simulate(config: DemoConfig | None = None, progress: Progress | None = None) -> DemoRun:
    """Run the scenario in virtual time and return its trace (same seed, same trace)."""
    from .service import LocalService

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


# -- reading the behaviours back from the trace ----------------------------------------------


@dataclass
class JobFacts:
    """One job as the trace tells it: who, when (seconds and record order), how it ended."""

    id: str
    session: str | None
    owner: str
    created: float
    created_seq: int
    started: float | None = None
    started_seq: int | None = None
    ended: float | None = None
    ended_seq: int | None = None
    status: str = "QUEUED"
    via: str | None = None

    @property
    def wait(self) -> float | None:
        """Seconds queued before it started (None if it never started)."""
        return None if self.started is None else self.started - self.created

    def queued_at(self, seq: int) -> bool:
        """True if the job was queued just before record ``seq``."""
        return (self.created_seq < seq and (self.started_seq is None or self.started_seq > seq)
                and (self.ended_seq is None or self.ended_seq > seq))


@dataclass
class Story:
    """The session behaviours of SPEC §2 as they happened in one demo trace."""

    session: str
    jobs: dict[str, JobFacts]
    first_job: str
    ahead_of_first: list[str]
    activated_at: float | None
    jumps: list[tuple[str, int]]
    """Session jobs dispatched via the session's priority, with the tenant jobs waiting then."""
    deactivations: list[tuple[float, float]]
    """(ITTL window start, ITTL elapsed) per deactivation."""
    reactivations: list[tuple[str, list[str]]]
    """(job that reactivated the session, tenant jobs that started while it queued)."""
    expiry: float | None
    expired: list[str]
    running_at_expiry: str | None
    tenant_sessions: dict[str, tuple[float, float | None]]
    """Tenant session id: (its first submission, its activation)."""

    def session_jobs(self) -> list[JobFacts]:
        """The VQE session's jobs in submission order."""
        return [j for j in self.jobs.values() if j.session == self.session]

    def tenant_jobs(self) -> list[JobFacts]:
        """Every other job (job mode and tenant sessions)."""
        return [j for j in self.jobs.values() if j.session != self.session]


def read_story(trace: Trace | Iterable[Record], session_id: str) -> Story:
    """Read the demo's behaviours for session ``session_id`` from the trace records alone."""
    records = list(trace)
    jobs = _job_facts(records)
    mine = [j for j in jobs.values() if j.session == session_id]
    first = mine[0]
    others = [j for j in jobs.values() if j.session != session_id]
    ahead = [j.id for j in others if first.started_seq is not None and j.started_seq is not None
             and first.created_seq < j.started_seq < first.started_seq]
    session_records = [r for r in records if r.entity == "session" and r.id == session_id]
    activated = next((to_seconds(r.t) for r in session_records if r.dest == "active"), None)
    jumps = [(str(r.data["job"]), sum(j.queued_at(r.seq) for j in others)) for r in records
             if r.event == "dispatch" and r.session == session_id
             and r.data.get("via") == "session"]
    ittl = _session_ittl(records, session_id)
    deactivations = [(to_seconds(r.t) - ittl, to_seconds(r.t)) for r in session_records
                     if r.event == "ittl_elapsed"]
    reactivations = []
    for r in session_records:
        if r.event == "job_started" and r.source == "inactive":
            job = next(j for j in mine if j.started_seq is not None and j.started_seq < r.seq
                       and j.started == to_seconds(r.t))
            behind = [o.id for o in others if o.started_seq is not None
                      and job.created_seq < o.started_seq < r.seq]
            reactivations.append((job.id, behind))
    expiry_rec = next((r for r in session_records if r.event == "max_time_reached"), None)
    expiry = None if expiry_rec is None else to_seconds(expiry_rec.t)
    expired = [j.id for j in mine if j.status == "ERROR" and j.started is None
               and j.ended == expiry]
    running = None
    if expiry_rec is not None:
        running = next((j.id for j in mine if j.started_seq is not None
                        and j.started_seq < expiry_rec.seq
                        and (j.ended_seq is None or j.ended_seq > expiry_rec.seq)), None)
    return Story(session_id, jobs, first.id, ahead, activated, jumps, deactivations,
                 reactivations, expiry, expired, running, _tenant_sessions(records, session_id))


def _job_facts(records: list[Record]) -> dict[str, JobFacts]:
    jobs: dict[str, JobFacts] = {}
    for r in records:
        if r.entity == "job" and r.event == "create":
            owner = str(r.data.get("tags") or "?")
            jobs[r.id] = JobFacts(r.id, r.session, owner, to_seconds(r.t), r.seq)
        elif r.entity == "job" and r.id in jobs:
            job = jobs[r.id]
            if r.event == "start":
                job.started, job.started_seq = to_seconds(r.t), r.seq
            if r.dest is not None:
                job.status = r.dest
            if r.event in ("finish", "fail", "expire", "cancel"):
                job.ended, job.ended_seq = to_seconds(r.t), r.seq
        elif r.event == "dispatch" and r.data.get("job") in jobs:
            jobs[str(r.data["job"])].via = str(r.data.get("via"))
    return jobs


def _session_ittl(records: list[Record], session_id: str) -> float:
    for r in records:
        if r.entity == "session" and r.id == session_id and r.event == "create":
            return to_seconds(int(r.data.get("interactive_timeout_us") or 0))
    return 0.0


def _tenant_sessions(records: list[Record], session_id: str) -> dict[str, tuple[float,
                                                                             float | None]]:
    out: dict[str, tuple[float, float | None]] = {}
    for r in records:
        if r.entity != "session" or r.id == session_id:
            continue
        if r.event == "submit" and r.id not in out:
            out[r.id] = (to_seconds(r.t), None)
        elif r.dest == "active" and r.source == "pending" and r.id in out:
            out[r.id] = (out[r.id][0], to_seconds(r.t))
    return out


# -- headline figures: what the terminal prints, all from metrics.compute(trace) -------------


def figures(metrics: Metrics, session_id: str) -> dict[str, float]:
    """The headline numbers the demo prints, from the metrics of its trace."""
    session = metrics.sessions[session_id]
    qpu = metrics.qpus[session.qpu]
    mine = [j for j in metrics.jobs.values() if j.session == session_id]
    others = [j for j in metrics.jobs.values() if j.session != session_id]
    waits = [j.wait for j in others if j.wait is not None]
    return {
        "qpu_utilisation": qpu.utilisation,
        "qpu_reserved_idle_fraction": qpu.reserved_idle_fraction,
        "qpu_reserved_idle_s": qpu.reserved_idle,
        "qpu_busy_s": qpu.busy,
        "qpu_span_s": qpu.span,
        "session_usage_s": session.usage_time,
        "session_quantum_s": session.job_usage,
        "session_reserved_idle_s": session.reserved_idle,
        "session_activations": float(session.activations),
        "session_deactivations": float(session.deactivations),
        "session_mean_wait_s": metrics.mean_wait(mine),
        "tenant_mean_wait_s": metrics.mean_wait(others),
        "tenant_max_wait_s": max(waits, default=0.0),
    }


# -- output --------------------------------------------------------------------------------


@dataclass
class DemoResult:
    """What ``run_demo`` produced: the run, its story, metrics, figures and files."""

    run: DemoRun
    story: Story
    metrics: Metrics
    figures: dict[str, float]
    files: dict[str, Path]


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
    files = write_outputs(run, out)
    result = DemoResult(run, story, metrics, numbers, files)
    if quiet:
        console.print(f"qsession demo (seed {config.seed}): wrote {len(files)} files to {out}")
    else:
        print_report(result, console)
    return result


def _header(config: DemoConfig) -> str:
    w = config.workload
    return (f"[bold]qsession demo[/] — seed {config.seed}, virtual time. The seed's VQE "
            f"(SciPy COBYLA, EstimatorV2 in a Session, max_time {config.max_time:g} s) on one "
            f"QPU (ITTL {config.interactive_timeout:g} s) shared with background tenants "
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


def write_outputs(run: DemoRun, out: Path) -> dict[str, Path]:
    """Write the trace, its Perfetto export, the timeline and the lifecycle diagram."""
    from .perfetto import write_perfetto
    from .timeline import draw_timeline

    files = {"trace.jsonl": run.trace.write(out / "trace.jsonl"),
             "trace.perfetto.json": write_perfetto(run.trace, out / "trace.perfetto.json")}
    title = (f"qsession demo (seed {run.config.seed}): VQE session {run.session_id} on a "
             f"shared QPU — ITTL {run.config.interactive_timeout:g} s, max TTL "
             f"{run.config.max_time:g} s")
    draw_timeline(run.trace, out / "timeline.png", out / "timeline.svg", title=title)
    files["timeline.png"] = out / "timeline.png"
    files["timeline.svg"] = out / "timeline.svg"
    files.update(write_lifecycle(out))
    return files


def write_lifecycle(out: Path) -> dict[str, Path]:
    """The session lifecycle as SVG; without pygraphviz, its Mermaid source and a note."""
    from qsession.diagrams import DiagramError, render

    try:
        path = out / "session-lifecycle.svg"
        path.write_bytes(render("session", "svg"))
    except DiagramError as err:
        path = out / "session-lifecycle.mmd"
        path.write_text(f"%% {err}\n{render('session', 'mermaid').decode()}")
        return {"session-lifecycle.mmd": path}
    return {"session-lifecycle.svg": path}


def narrative(result: DemoResult) -> list[str]:
    """One sentence per behaviour the demo shows, with its instants (read from the trace)."""
    s, run = result.story, result.run
    first = s.jobs[s.first_job]
    lines = []
    if first.started is not None:
        lines.append(
            f"First job {first.id} submitted at {first.created:.1f} s queued "
            f"{first.wait or 0:.1f} s behind {_n(len(s.ahead_of_first), 'tenant job')} "
            f"({_ids(s.ahead_of_first)}): a session gives no head start. It started at "
            f"{first.started:.1f} s; the session became active and its max TTL clock started "
            f"(expires at {first.started + run.config.max_time:.1f} s).")
    jumped = [(job, waiting) for job, waiting in s.jumps if waiting > 0]
    if jumped:
        most = max(waiting for _, waiting in jumped)
        lines.append(
            f"Later jobs jumped the queue: {_n(len(jumped), 'session job')} started ahead of "
            "waiting "
            f"tenant jobs (up to {most} waiting). Mean wait: session jobs "
            f"{result.figures['session_mean_wait_s']:.1f} s, other tenants "
            f"{result.figures['tenant_mean_wait_s']:.1f} s.")
    for start, end in s.deactivations:
        lines.append(
            f"Slow classical step ({run.config.slow_step:g} s re-initialisation): the QPU was "
            f"held idle for the session from {start:.1f} s, then ITTL expired at {end:.1f} s "
            "— session inactive, normal job selection resumed.")
    for sid, (submitted, activated) in s.tenant_sessions.items():
        if activated is not None and activated > submitted:
            lines.append(
                f"Tenant session {sid} submitted its first job at {submitted:.1f} s; it became "
                f"active only at {activated:.1f} s (one active session per QPU).")
    for job_id, behind in s.reactivations:
        job = s.jobs[job_id]
        assert job.started is not None
        lines.append(
            f"Reactivated at {job.started:.1f} s by job {job_id}, after waiting "
            f"{job.wait or 0:.1f} s in the normal queue behind {_n(len(behind), 'tenant job')}.")
    if s.expiry is not None:
        tail = ""
        if s.running_at_expiry is not None:
            running = s.jobs[s.running_at_expiry]
            tail = (f"; {running.id}, running at that instant, completed normally at "
                    f"{running.ended or 0:.1f} s")
        lines.append(
            f"Max TTL at {s.expiry:.1f} s: {_n(len(s.expired), 'queued job')} failed "
            f"({_ids(s.expired)}, ERROR: session max time reached){tail}.")
    return lines


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _ids(ids: list[str], limit: int = 6) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f", … {len(ids) - limit} more" if len(ids) > limit else "") if ids else "none"


def print_report(result: DemoResult, console: Console) -> None:
    """Print the narrative, the sessions, jobs, energies and metrics tables, and the files."""
    console.print("\n[bold]What happened[/] (read back from trace.jsonl)")
    for line in narrative(result):
        console.print(f" • {line}")
    console.print()
    for table in (sessions_table(result), jobs_table(result), key_jobs_table(result),
                  energies_table(result), metrics_table(result)):
        console.print(table)
    console.print("[bold]Files[/]")
    for name, path in result.files.items():
        console.print(f"  {name:<22} {path}")


def _owner_of_sessions(story: Story) -> dict[str | None, str]:
    owners: dict[str | None, str] = {None: "job mode"}
    for job in story.jobs.values():
        if job.session is not None:
            owners.setdefault(job.session, job.owner)
    owners[story.session] = "you (VQE)"
    return owners


def sessions_table(result: DemoResult) -> Table:
    """Each session's state, jobs, activations and billed usage (from the metrics)."""
    from rich.table import Table

    owners = _owner_of_sessions(result.story)
    table = Table(title="Sessions (act./deact.: activations, ITTL deactivations; usage: billed "
                        "active time; held idle: QPU reserved with no job running)",
                  title_justify="left")
    for col in ("session", "owner", "state", "jobs", "started", "ended", "act.", "deact.",
                "usage s", "held idle s"):
        table.add_column(col, justify="left" if col in ("session", "owner", "state") else "right")
    for s in result.metrics.sessions.values():
        table.add_row(s.id, owners.get(s.id, "?"), s.state, str(len(s.jobs)), _t(s.started),
                      _t(s.ended), str(s.activations), str(s.deactivations),
                      f"{s.usage_time:.1f}", f"{s.reserved_idle:.1f}")
    return table


def jobs_table(result: DemoResult) -> Table:
    """Jobs grouped by owner: counts per final state, waits and QPU time."""
    from rich.table import Table

    owners = _owner_of_sessions(result.story)
    tenants = {j.owner for j in result.story.jobs.values() if j.session is None}
    groups: dict[str, list[JobFacts]] = {}
    for job in result.story.jobs.values():
        key = (f"{job.session} · {owners.get(job.session, '?')}" if job.session is not None
               else f"job mode · {len(tenants)} tenants")
        groups.setdefault(key, []).append(job)
    table = Table(title="Jobs", title_justify="left")
    for col in ("who", "jobs", "DONE", "ERROR", "CANCELLED", "mean wait s", "max wait s",
                "QPU time s"):
        table.add_column(col, justify="left" if col == "who" else "right")
    for key, members in groups.items():
        waits = [j.wait for j in members if j.wait is not None]
        usage = sum(result.metrics.jobs[j.id].usage for j in members)
        counts = [sum(j.status == state for j in members)
                  for state in ("DONE", "ERROR", "CANCELLED")]
        table.add_row(key, str(len(members)), *map(str, counts),
                      f"{sum(waits) / len(waits):.1f}" if waits else "—",
                      f"{max(waits):.1f}" if waits else "—", f"{usage:.1f}")
    return table


def key_jobs_table(result: DemoResult) -> Table:
    """The jobs that carry the story: first, queue jumpers, reactivation, expiry."""
    from rich.table import Table

    s = result.story
    rows: list[tuple[str, str]] = [(s.first_job, "first job: normal queue")]
    jumped = [job for job, waiting in s.jumps if waiting > 0]
    if jumped:
        rows.append((jumped[0], "first to jump the queue"))
    rows += [(job, "reactivated the session") for job, _ in s.reactivations]
    if s.running_at_expiry is not None:
        rows.append((s.running_at_expiry, "running at max TTL: completes"))
    rows += [(job, "queued at max TTL: fails") for job in s.expired]
    table = Table(title="Key jobs of the VQE session", title_justify="left")
    for col in ("job", "role", "via", "submitted", "started", "ended", "wait s", "status"):
        table.add_column(col, justify="right" if col in ("submitted", "started", "ended",
                                                         "wait s") else "left")
    for job_id, role in rows:
        j = s.jobs[job_id]
        table.add_row(j.id, role, j.via or "—", _t(j.created), _t(j.started), _t(j.ended),
                      "—" if j.wait is None else f"{j.wait:.1f}", j.status)
    return table


def energies_table(result: DemoResult) -> Table:
    """The energies reached in each phase against the exact ground-state energy."""
    from rich.table import Table

    e = result.run.energies
    table = Table(title=f"Energies (H2, exact ground state {e.exact:.6f} Ha)",
                  title_justify="left")
    for col in ("stage", "evaluations", "energy (Ha)", "error (mHa)"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for stage, values, best in (("phase 1 (lowest evaluation)", e.phase1, True),
                                ("phase 2 (lowest evaluation)", e.phase2, True),
                                ("final batch (mean of completed)", e.final, False)):
        if not values:
            table.add_row(stage, "0", "—", "—")
            continue
        value = min(values) if best else sum(values) / len(values)
        count = str(len(values)) + (f" (+{e.final_failed} failed)" if not best and
                                    e.final_failed else "")
        table.add_row(stage, count, f"{value:.6f}", f"{(value - e.exact) * 1000:.1f}")
    return table


def metrics_table(result: DemoResult) -> Table:
    """The headline metrics (wait, usage, utilisation, reserved idle) of ``figures``."""
    from rich.table import Table

    f = result.figures
    rows = [
        ("QPU utilisation", f"{f['qpu_utilisation']:.1%}",
         f"busy {f['qpu_busy_s']:.1f} s of {f['qpu_span_s']:.1f} s"),
        ("QPU reserved idle", f"{f['qpu_reserved_idle_fraction']:.1%}",
         f"{f['qpu_reserved_idle_s']:.1f} s held idle for an active session"),
        ("VQE session usage (billed)", f"{f['session_usage_s']:.1f} s",
         f"its jobs' QPU time {f['session_quantum_s']:.1f} s; reserved idle "
         f"{f['session_reserved_idle_s']:.1f} s"),
        ("VQE session activations", f"{f['session_activations']:.0f}",
         f"deactivations {f['session_deactivations']:.0f}"),
        ("VQE session mean wait", f"{f['session_mean_wait_s']:.1f} s", "submission to start"),
        ("other tenants' mean wait", f"{f['tenant_mean_wait_s']:.1f} s",
         f"max {f['tenant_max_wait_s']:.1f} s"),
    ]
    table = Table(title="Metrics (metrics.compute(trace))", title_justify="left")
    for col in ("metric", "value", "detail"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for row in rows:
        table.add_row(*row)
    return table


def _t(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f}"

