"""What if the interactive timeout were different? (``qsession whatif``)

The study: one QPU shared by an iterative, VQE-like session (estimator jobs separated by
classical think times drawn from a log-normal distribution) and seeded background
tenants (job-mode samplers and another tenant's session). For each ITTL of the sweep, the
same workload runs in virtual time on its own ``LocalService`` — common random numbers, so
the points differ only in the ITTL — and the trace's metrics give: QPU utilisation, the
fraction of time the QPU was held idle for the session, the mean wait of the other
tenants' jobs, the session's turnaround (first submission to last result), its
deactivations and its billed usage. Repetitions use further seeds drawn from the study's
seed; points run in parallel processes and their results are sorted before they are
combined, so the numbers are identical for the same seed whatever the parallelism.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qsession.runtime.engine.clock import to_seconds
from qsession.runtime.ibm.workload import Background, WorkloadSpec, generate

from .metrics import compute

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

DEFAULT_ITTLS = (1.0, 10.0, 60.0, 300.0)
METRICS = ("utilisation", "window_utilisation", "reserved_idle_fraction", "tenant_mean_wait",
           "session_turnaround", "deactivations", "session_usage")
"""The measured quantities of each run, in table order."""


@dataclass(frozen=True)
class WhatIfConfig:
    """The sweep and its workload (virtual seconds)."""

    ittls: tuple[float, ...] = DEFAULT_ITTLS
    seed: int = 7
    reps: int = 3
    """Workloads per ITTL (each from its own seed drawn from ``seed``)."""
    iterations: int = 30
    """Estimator jobs of the VQE-like session."""
    think_median: float = 8.0
    think_sigma: float = 1.0
    """Think times are log-normal: median ``think_median`` s, shape ``think_sigma``."""
    session_start: float = 60.0
    shots: int = 4096
    horizon: float = 900.0
    rate: float = 1 / 14
    """Job-mode arrivals per second; with ``tenant_shots`` about half the QPU's time."""
    tenant_shots: tuple[int, int] = (3000, 9000)
    """Shots of a tenant job (4-11 s on the QPU): fewer, longer jobs keep the study fast."""
    tenant_sessions: tuple[float, ...] = (200.0, 500.0)

    def __post_init__(self) -> None:
        if not self.ittls or any(not (t > 0 and math.isfinite(t)) for t in self.ittls):
            raise ValueError(f"ITTLs must be positive seconds, not {self.ittls}")
        if self.reps < 1 or self.iterations < 1:
            raise ValueError("reps and iterations must be at least 1")

    def workload(self) -> WorkloadSpec:
        """The background tenants' generator settings."""
        return WorkloadSpec(horizon=self.horizon, rate=self.rate, backlog=2,
                            shots=self.tenant_shots, session_starts=self.tenant_sessions)

    def run_seeds(self) -> list[int]:
        """One workload seed per repetition, drawn from the study's seed."""
        rng = random.Random(self.seed)
        return [rng.getrandbits(31) for _ in range(self.reps)]


@dataclass(frozen=True)
class RunResult:
    """One run: an ITTL, a workload seed, and what the trace measured."""

    ittl: float
    seed: int
    utilisation: float
    """QPU busy fraction over the whole run (first to last event)."""
    window_utilisation: float
    """QPU busy fraction while the session ran (its first submission to its last result)."""
    reserved_idle_fraction: float
    tenant_mean_wait: float
    session_turnaround: float
    deactivations: float
    session_usage: float
    session_jobs: int
    tenant_jobs: int


@dataclass(frozen=True)
class PointSummary:
    """The mean (and range) of each metric over the repetitions at one ITTL."""

    ittl: float
    mean: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]


@dataclass
class WhatIfResult:
    """The whole study: its config, every run (sorted), the per-ITTL summary and files."""

    config: WhatIfConfig
    runs: list[RunResult]
    summary: list[PointSummary]
    files: dict[str, Path] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (config, runs, summary) with rounded, reproducible numbers."""
        return {
            "study": "qsession whatif: ITTL sweep",
            "config": _rounded(asdict(self.config)),
            "metrics": list(METRICS),
            "summary": [_rounded(asdict(p)) for p in self.summary],
            "runs": [_rounded(asdict(r)) for r in self.runs],
        }


# -- one run -------------------------------------------------------------------------------


def think_times(seed: int, config: WhatIfConfig) -> list[float]:
    """The session's classical think times between its jobs (log-normal, seeded)."""
    rng = random.Random(seed ^ 0x5EED)
    mu = math.log(config.think_median)
    return [round(rng.lognormvariate(mu, config.think_sigma), 3)
            for _ in range(config.iterations - 1)]


def run_point(ittl: float, seed: int, config: WhatIfConfig) -> RunResult:
    """Run the workload of ``seed`` with interactive timeout ``ittl`` and measure its trace."""
    import numpy as np

    from qsession.runtime import EstimatorV2, LocalService, Session

    from .demo import h2_problem, isa_problem

    service = LocalService(seed=seed, interactive_timeout=ittl)
    background = Background(service, generate(seed, config.workload()))
    background.install()
    ansatz, hamiltonian = isa_problem(*h2_problem(), service.backend())
    values = np.random.default_rng(seed).uniform(0, 2 * np.pi, ansatz.num_parameters)
    service.advance(config.session_start)
    with Session(backend=service.backend()) as session:
        estimator = EstimatorV2(mode=session, options={"default_shots": config.shots})
        for think in [*think_times(seed, config), None]:
            estimator.run(ansatz, hamiltonian, parameter_values=values).result()
            if think is not None:
                service.advance(think)
    left = config.horizon - to_seconds(service.clock.now())
    if left > 0:
        service.advance(left)
    service.run_until_idle()
    background.cancel()
    return measure(service.trace, session.session_id, ittl, seed)


def measure(trace: Any, session_id: str, ittl: float, seed: int) -> RunResult:
    """The study's metrics of one run, computed from its trace by ``metrics.compute``."""
    metrics = compute(trace)
    s = metrics.sessions[session_id]
    qpu = metrics.qpus[s.qpu]
    mine = [j for j in metrics.jobs.values() if j.session == session_id]
    others = [j for j in metrics.jobs.values() if j.session != session_id]
    finished = [j.finished for j in mine if j.finished is not None]
    start = min(j.created for j in mine)
    end = max(finished, default=start)
    busy = math.fsum(max(0.0, min(j.finished, end) - max(j.started, start))
                     for j in metrics.jobs.values()
                     if j.started is not None and j.finished is not None)
    return RunResult(ittl, seed, qpu.utilisation, busy / (end - start) if end > start else 0.0,
                     qpu.reserved_idle_fraction, metrics.mean_wait(others), end - start,
                     float(s.deactivations), s.usage_time, len(mine), len(others))


def _run_task(task: tuple[float, int, WhatIfConfig]) -> RunResult:
    return run_point(*task)


# -- the sweep -----------------------------------------------------------------------------


def sweep(config: WhatIfConfig, *, jobs: int = 2,
          on_done: Callable[[RunResult], None] | None = None,
          executor: str | None = None) -> WhatIfResult:
    """Run every (ITTL, seed) point — in ``jobs`` processes, serially when 1, or on the Dask
    cluster ``executor`` names (``dask://HOST:PORT``) — and summarise (the same wherever)."""
    tasks = [(ittl, seed, config) for ittl in config.ittls for seed in config.run_seeds()]
    done = on_done or (lambda _r: None)
    results: list[RunResult] = []
    if executor in (None, "local") and (jobs <= 1 or len(tasks) == 1):
        for task in tasks:
            results.append(_run_task(task))
            done(results[-1])
    else:
        from concurrent.futures import as_completed

        from qsession.runtime.engine.campaign import pool

        # spawn, not fork: the parent may hold Aer/OpenMP threads that a fork would copy.
        with pool(executor, min(jobs, len(tasks))) as points:
            for future in as_completed([points.submit(_run_task, t) for t in tasks]):
                results.append(future.result())
                done(results[-1])
    results.sort(key=lambda r: (config.ittls.index(r.ittl), r.seed))
    return WhatIfResult(config, results, summarise(config.ittls, results))


def summarise(ittls: Sequence[float], runs: Sequence[RunResult]) -> list[PointSummary]:
    """Mean, min and max of each metric per ITTL (runs summed in a fixed order)."""
    out = []
    for ittl in ittls:
        group = sorted((r for r in runs if r.ittl == ittl), key=lambda r: r.seed)
        columns = {m: [float(getattr(r, m)) for r in group] for m in METRICS}
        out.append(PointSummary(ittl, {m: math.fsum(v) / len(v) for m, v in columns.items()},
                                {m: min(v) for m, v in columns.items()},
                                {m: max(v) for m, v in columns.items()}))
    return out


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


# -- output --------------------------------------------------------------------------------


def write_outputs(result: WhatIfResult, out: Path) -> dict[str, Path]:
    """Write ``whatif.json`` and ``whatif.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "whatif.json"
    path.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    result.files = {"whatif.json": path, "whatif.png": plot(result, out / "whatif.png")}
    return result.files


@dataclass(frozen=True)
class _Panel:
    """One panel of the figure: a title, a y unit and the metrics drawn on it."""

    title: str
    unit: str
    series: tuple[tuple[str, str], ...]
    fraction: bool = False


_PANELS = (
    _Panel("QPU time", "fraction", (("utilisation", "utilisation, whole run"),
                                     ("window_utilisation", "utilisation while the session ran"),
                                     ("reserved_idle_fraction", "held idle for the session")),
           fraction=True),
    _Panel("Other tenants", "seconds", (("tenant_mean_wait", "mean wait of their jobs"),)),
    _Panel("The session", "seconds", (("session_turnaround", "turnaround (first submit → "
                                                              "last result)"),
                                      ("session_usage", "billed usage (active time)"))),
    _Panel("Deactivations of the session", "count", (("deactivations", "ITTL expiries"),)),
)
_COLOURS = ("#1565c0", "#c62828", "#2e7d32")


def plot(result: WhatIfResult, path: Path) -> Path:
    """Four panels against ITTL (log scale): each run as a dot, the mean as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 7.5), layout="constrained")
    FigureCanvasAgg(fig)  # no pyplot: no global figure registry
    axes = fig.subplots(2, 2).ravel()
    ittls = [p.ittl for p in result.summary]
    for ax, panel in zip(axes, _PANELS, strict=True):
        for (metric, label), colour in zip(panel.series, _COLOURS, strict=False):
            ax.plot(ittls, [p.mean[metric] for p in result.summary], marker="o",
                    color=colour, label=label)
            ax.scatter([r.ittl for r in result.runs], [getattr(r, metric) for r in result.runs],
                       color=colour, alpha=0.35, s=14)
        ax.set_title(panel.title, loc="left", fontsize=10)
        ax.set_xscale("log")
        ax.set_xticks(ittls, [f"{t:g}" for t in ittls])
        ax.minorticks_off()
        ax.set_xlabel("interactive timeout, ITTL (s)")
        ax.set_ylabel(panel.unit)
        if panel.fraction:
            ax.set_ylim(0, 1)
        else:
            ax.set_ylim(bottom=0)
        ax.grid(color="#cfd8dc", lw=0.5)
        ax.legend(fontsize=8)
    cfg = result.config
    fig.suptitle(f"qsession whatif (seed {cfg.seed}): a {cfg.iterations}-job session with "
                 f"log-normal think times (median {cfg.think_median:g} s) among job-mode "
                 f"tenants\n{cfg.reps} seeded workload(s) per ITTL, the same for every ITTL; "
                 "dots: each run, lines: mean", fontsize=10)
    fig.savefig(path, format="png", dpi=100)
    return path


_HEADINGS = {"utilisation": "util.\nrun", "window_utilisation": "util.\nsession",
             "reserved_idle_fraction": "held\nidle", "tenant_mean_wait": "tenants'\nwait s",
             "session_turnaround": "turn-\naround s", "deactivations": "deacti-\nvations",
             "session_usage": "billed\nusage s"}


def _format(metric: str, value: float, unit: bool = True) -> str:
    if metric in ("utilisation", "window_utilisation", "reserved_idle_fraction"):
        return f"{value:.1%}"
    if metric == "deactivations":
        return f"{value:.1f}"
    return f"{value:.1f}" + (" s" if unit else "")


def table(result: WhatIfResult) -> Table:
    """The study's table: one row per ITTL, the mean of each metric over the workloads."""
    from rich.table import Table

    view = Table(title=f"ITTL sweep: means over {result.config.reps} seeded workload(s) "
                       "(QPU shares of time; each run in whatif.json)", title_justify="left")
    view.add_column("ITTL", justify="right")
    for metric in METRICS:
        view.add_column(_HEADINGS[metric], justify="right")
    for p in result.summary:
        view.add_row(f"{p.ittl:g} s", *(_format(m, p.mean[m], unit=False) for m in METRICS))
    return view


def findings(result: WhatIfResult) -> list[str]:
    """Plain sentences on what the sweep shows (extremes and the trend across ITTLs)."""
    points = result.summary
    if len(points) < 2:
        return []
    lo, hi = points[0], points[-1]

    def at(metric: str, pick: Callable[..., PointSummary]) -> str:
        p = pick(points, key=lambda q: q.mean[metric])
        return f"ITTL {p.ittl:g} s ({_format(metric, p.mean[metric])})"

    def trend(metric: str) -> str:
        return (f"{_format(metric, lo.mean[metric])} at ITTL {lo.ittl:g} s → "
                f"{_format(metric, hi.mean[metric])} at {hi.ittl:g} s")

    return [
        f"Session turnaround is shortest at {at('session_turnaround', min)} and longest at "
        f"{at('session_turnaround', max)}.",
        f"Other tenants' mean wait: {trend('tenant_mean_wait')}; the QPU held idle for the "
        f"session: {trend('reserved_idle_fraction')} of the run.",
        f"QPU utilisation while the session ran: {trend('window_utilisation')} (whole run: "
        f"{trend('utilisation')}).",
        f"The session is billed {trend('session_usage')} for the same "
        f"{result.runs[0].session_jobs} jobs.",
    ]


def run_whatif(output_dir: str | Path = "qsession-out", config: WhatIfConfig | None = None, *,
               jobs: int = 2, console: Console | None = None,
               quiet: bool = False, executor: str | None = None) -> WhatIfResult:
    """Run the sweep, write ``whatif.json`` and ``whatif.png``, and print the table.

    ``executor``: ``dask://HOST:PORT`` runs the points on that Dask cluster."""
    from rich.console import Console

    from qsession.runtime.engine.campaign import describe

    config = config or WhatIfConfig()
    console = console or Console()
    total = len(config.ittls) * config.reps
    if quiet:
        result = sweep(config, jobs=jobs, executor=executor)
    else:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console.print(f"[bold]qsession whatif[/] — seed {config.seed}: ITTL "
                      f"{', '.join(f'{t:g}' for t in config.ittls)} s × {config.reps} "
                      f"workload(s), {describe(executor, jobs)}")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("runs", total=total)
            result = sweep(config, jobs=jobs, on_done=lambda _r: bar.advance(task),
                           executor=executor)
    write_outputs(result, Path(output_dir))
    console.print(table(result))
    for line in findings(result):
        console.print(f" • {line}")
    console.print("[bold]Files[/]")
    for name, path in result.files.items():
        console.print(f"  {name:<12} {path}")
    return result
