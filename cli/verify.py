"""``qsession verify``: stateful runs, the explorer, random programs and mutants, per invariant.

Every part reports per invariant; a failure prints Hypothesis' shrunk step list and
the seed that replays it (``qsession verify --seed N``).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

CAMPAIGN_RUNS = {"dev": 2_000, "ci": 5_000, "deep": 100_000}
"""Random null-executor programs per profile (the deep one is the long campaign)."""


@dataclass
class Outcome:
    """What one part of the campaign found."""

    name: str
    seconds: float = 0.0
    failed: bool = False
    detail: str = ""
    per_invariant: dict[str, Any] = field(default_factory=dict)
    violated: set[str] = field(default_factory=set)
    tables: list[Table] = field(default_factory=list)
    """Tables the part prints (the stateful runs' reach)."""


REACH_MIN_RUNS = 100
"""Floors are enforced from this many runs on (the ci and deep profiles): over fewer, a
situation reached in 6% of runs may by chance be reached in none."""


def reach_table(coverage: Any, runs: int, floors: dict[str, float]
                ) -> tuple[Table, list[str]]:
    """How often each situation was reached, against its floor; the ones below it."""
    enforced = runs >= REACH_MIN_RUNS
    table = Table(title=f"Reach of the stateful runs ({runs} runs)",
                  caption=("a situation below its floor fails the part" if enforced else
                           f"floors are enforced from {REACH_MIN_RUNS} runs on"))
    for column in ("situation", "runs", "share", "floor", "result"):
        table.add_column(column, no_wrap=column == "situation")
    below = []
    for name, floor in floors.items():
        share = coverage[name] / runs if runs else 0.0
        low = share < floor
        if low and enforced:
            below.append(f"{name} {share:.0%} < {floor:.0%}")
        table.add_row(name, str(coverage[name]), f"{share:.0%}", f"{floor:.0%}",
                      "[red]BELOW[/red]" if low and enforced else
                      "[yellow]low[/yellow]" if low else "[green]ok[/green]")
    return table, below


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


@contextlib.contextmanager
def _forced_seed(seed: int | None) -> Iterator[None]:
    # Hypothesis' pytest plugin sets this for --hypothesis-seed; we do the same.
    from hypothesis import core

    previous = core.global_force_seed
    core.global_force_seed = seed  # type: ignore[assignment]
    try:
        yield
    finally:
        core.global_force_seed = previous


CHUNK_EXAMPLES = 2_000
"""Examples per Hypothesis run in a long part. Within one run Hypothesis keeps up to 10,000
examples' data in memory (about 90 KB each for an 80-step walk): 8,000 deep-profile model
walks peaked at 1,074 MB of RSS in one run and at 409 MB as runs of 2,000, in the same time."""


def _run_in_chunks(machine: Any, base: Any, examples: int, seed: int | None) -> None:
    """Run ``machine`` for ``examples`` examples as runs of at most ``CHUNK_EXAMPLES``.

    Run ``k`` uses seed ``seed + k``, so the same seed replays the same runs; the first
    failure propagates (shrunk within its run).
    """
    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test

    for k, start in enumerate(range(0, examples, CHUNK_EXAMPLES)):
        size = min(CHUNK_EXAMPLES, examples - start)
        with _forced_seed(None if seed is None else seed + k):
            run_state_machine_as_test(machine, settings=settings(
                base, max_examples=size, derandomize=False))


def _failure(err: BaseException, output: io.StringIO) -> str:
    """The violation, then Hypothesis' shrunk steps (printed, or attached as notes)."""
    parts: list[str] = []
    for one in _leaves(err):
        notes = "\n".join(getattr(one, "__notes__", []))
        title = str(one) if isinstance(one, AssertionError) else f"{type(one).__name__}: {one}"
        parts.extend(p for p in (title, notes) if p)
    parts.append(output.getvalue())
    return "\n".join(p for p in parts if p)


def _leaves(err: BaseException) -> list[BaseException]:
    """The failures inside an ``ExceptionGroup`` (Hypothesis found several), or ``err``."""
    if isinstance(err, BaseExceptionGroup):
        return [leaf for inner in err.exceptions for leaf in _leaves(inner)]
    return [err]


def violated_ids(err: BaseException) -> set[str]:
    """The invariant ids a failure names; a crash (e.g. ``ClockError``) is its own entry."""
    out: set[str] = set()
    for one in _leaves(err):
        ids = getattr(one, "ids", None)
        if ids:
            out |= set(ids)
        elif not isinstance(one, AssertionError):
            out.add(f"crash: {type(one).__name__}")
    return out


def _record_failure(outcome: Outcome, err: BaseException, output: io.StringIO) -> None:
    outcome.failed = True
    outcome.detail = _failure(err, output)
    outcome.violated |= violated_ids(err)


def stateful(profile: str, seed: int | None, console: Console) -> Outcome:
    """Run the RuntimeMachine for the profile's number of examples."""
    from hypothesis import settings

    from qsession.properties import machines

    examples = settings.get_profile(profile).max_examples
    outcome = Outcome("stateful runtime machine")
    machines.stats = machines.RunStats()
    machines.coverage.clear()
    started = time.perf_counter()
    output = io.StringIO()
    with _progress(console) as bar:
        task = bar.add_task(f"stateful runs ({profile})", total=examples)

        class Counted(machines.RuntimeMachine):
            def __init__(self) -> None:
                bar.update(task, completed=min(machines.stats.examples, examples))
                super().__init__()

        with contextlib.redirect_stdout(output):
            try:
                _run_in_chunks(Counted, settings.get_profile(profile), examples, seed)
            except Exception as err:
                _record_failure(outcome, err, output)
    outcome.seconds = time.perf_counter() - started
    outcome.per_invariant = {k: (machines.stats.examples_checked[k], machines.stats.checks[k])
                             for k in machines.stats.checks}
    runs = machines.stats.examples
    table, below = reach_table(machines.coverage, runs, machines.COVERAGE_FLOORS)
    outcome.tables.append(table)
    if below and not outcome.failed:
        outcome.failed = True
        outcome.detail = ("the generators no longer reach what they must: "
                          + "; ".join(below))
    outcome.detail = outcome.detail or (f"{runs} runs; every situation reached above its "
                                        "floor (table above)")
    return outcome


def model_walks(profile: str, seed: int | None, console: Console) -> Outcome:
    """Random walks over the pure model (tables + dispatch rule), 5× the profile's examples."""
    from hypothesis import settings

    from qsession.properties.machines import ModelMachine

    examples = 5 * settings.get_profile(profile).max_examples
    outcome = Outcome(f"model walks ({examples} examples, 4 sessions × 10 jobs)")
    started = time.perf_counter()
    output = io.StringIO()
    with _progress(console) as bar:
        bar.add_task("model walks", total=None)
        with contextlib.redirect_stdout(output):
            try:
                _run_in_chunks(ModelMachine, settings.get_profile(profile), examples, seed)
            except Exception as err:
                _record_failure(outcome, err, output)
    outcome.seconds = time.perf_counter() - started
    outcome.detail = outcome.detail or f"{examples} walks, every step checked"
    return outcome


def exploration(console: Console) -> Outcome:
    """Explore the model's abstract state space at the default bound."""
    outcome = Outcome("explorer (2 sessions × 3 jobs)")
    try:
        from qsession.properties import explorer
    except ImportError as err:  # pragma: no cover - the explorer ships with the package
        outcome.failed, outcome.detail = True, f"explorer unavailable: {err}"
        return outcome
    with _progress(console) as bar:
        task = bar.add_task("exploring the model", total=None)
        result = explorer.explore(on_progress=lambda n: bar.update(task, completed=n))
    outcome.seconds = result.seconds
    outcome.failed = bool(result.violations)
    outcome.per_invariant = dict(result.checks)
    outcome.detail = (f"{result.states:,} states, {result.transitions:,} transitions in "
                      f"{result.seconds:.1f} s")
    if result.violations:
        first = result.violations[0]
        outcome.detail += f"\n{first.invariant}: {first.message}\n  path: " + \
            " → ".join(first.path)
    return outcome


def programs(profile: str, seed: int | None, processes: int, console: Console,
             runs: int | None = None, executor: str | None = None) -> Outcome:
    """Run random session programs across processes (or a Dask cluster); check every trace."""
    from qsession.properties.programs import campaign
    from qsession.runtime.engine.campaign import describe

    total = runs if runs is not None else CAMPAIGN_RUNS[profile]
    outcome = Outcome(f"random programs ({total:,} runs, {describe(executor, processes)})")
    started = time.perf_counter()
    with _progress(console) as bar:
        task = bar.add_task("random programs", total=total)
        result = campaign(total, start=seed or 0, processes=processes,
                          progress=lambda n: bar.advance(task, n), executor=executor)
    outcome.seconds = time.perf_counter() - started
    outcome.failed = bool(result.violations) or bool(result.lost) or bool(result.duplicated)
    outcome.per_invariant = dict(result.violations)
    outcome.violated = set(result.violations)
    outcome.detail = (f"{result.runs:,} runs ({result.long_runs} of over 1,000 ids), "
                      f"{result.jobs:,} jobs, {result.records:,} records; "
                      f"lost {result.lost}, duplicated {result.duplicated}")
    if result.failing_seeds:
        outcome.detail += f"; failing seeds {result.failing_seeds[:10]}"
        outcome.detail += "\n" + "\n".join(result.examples)
    return outcome


def durations(profile: str, seed: int | None, console: Console,
              examples: int | None = None) -> Outcome:
    """INV-DURATION on random circuits with control flow (the profile's examples)."""
    from hypothesis import settings

    from qsession.properties import durations as prop

    total = examples if examples is not None else settings.get_profile(profile).max_examples
    outcome = Outcome(f"durations ({total} random circuits)")
    started = time.perf_counter()
    output = io.StringIO()
    with _progress(console) as bar:
        bar.add_task("timing model", total=None)
        with contextlib.redirect_stdout(output):
            try:
                checked = prop.run(total, seed)
            except Exception as err:
                _record_failure(outcome, err, output)
                checked = total
    outcome.seconds = time.perf_counter() - started
    outcome.per_invariant = {"INV-DURATION": checked}
    outcome.detail = outcome.detail or f"{checked} circuits, durations as the target gives"
    return outcome


def _metrics_findings(runs: int, start: int) -> tuple[int, list[str]]:
    """Trace metrics (insight) of ``runs`` random programs against the replayed trace."""
    from qsession.insight.metrics import compute
    from qsession.properties.invariants import Monitor
    from qsession.properties.programs import run_null
    from qsession.properties.reported import metrics_agree

    found: list[str] = []
    for seed in range(start, start + runs):
        try:
            trace = run_null(seed)
        except Exception:  # a program that cannot run: the programs part reports it
            continue
        monitor = Monitor([])
        monitor.feed(list(trace))
        m = compute(trace)
        sessions = {sid: s.usage_time for sid, s in m.sessions.items()}
        jobs = {jid: (j.wait, j.run, j.usage) for jid, j in m.jobs.items()}
        found.extend(f"seed {seed}: {v}" for v in metrics_agree(monitor.state, sessions, jobs))
    return runs, found


def metrics(profile: str, seed: int | None, console: Console, runs: int | None = None) -> Outcome:
    """What the trace metrics report (usage time, wait, run) against the trace itself."""
    from hypothesis import settings

    total = runs if runs is not None else 2 * settings.get_profile(profile).max_examples
    outcome = Outcome(f"metrics ({total} program traces)")
    started = time.perf_counter()
    with _progress(console) as bar:
        bar.add_task("metrics against traces", total=None)
        checked, found = _metrics_findings(total, seed or 0)
    outcome.seconds = time.perf_counter() - started
    outcome.per_invariant = {"INV-REPORTED": len(found)}
    if found:
        outcome.failed = True
        outcome.violated = {"INV-REPORTED"}
        outcome.detail = f"{len(found)} disagreement(s)\n" + "\n".join(found[:5])
    else:
        outcome.detail = f"{checked} traces: sessions' usage, jobs' wait, run and usage agree"
    return outcome


def _needs_server(outcome: Outcome, part: str, err: ImportError) -> Outcome:
    """``outcome`` failed because a part's server module is missing, with how to install it."""
    outcome.failed = True
    outcome.detail = (f"the {part} part needs the server extra ({err}): pip install "
                      "'qsession[server]'")
    return outcome


DOORS_EXAMPLES = {"dev": 3, "ci": 8, "deep": 200}
"""Programs run through both doors per profile (each starts a server: a few seconds)."""


def doors(profile: str, seed: int | None, console: Console,
          examples: int | None = None) -> Outcome:
    """The two doors agree: random programs in process and over HTTP (server/doors.py)."""
    total = examples if examples is not None else DOORS_EXAMPLES[profile]
    outcome = Outcome(f"doors ({total} programs, in process and over HTTP)")
    try:
        from qsession.server import doors as harness
    except ImportError as err:
        return _needs_server(outcome, "doors", err)
    started = time.perf_counter()
    with _progress(console) as bar, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        bar.add_task("doors: in process against over HTTP", total=None)
        verdict = harness.campaign(total, seed)
    outcome.seconds = time.perf_counter() - started
    outcome.per_invariant = {"INV-DOORS": verdict.examples}
    if verdict.ok:
        outcome.detail = (f"{verdict.examples} programs: same trace up to ids, same details(), "
                          "status(), metrics(), results, jobs() and usage")
        return outcome
    assert verdict.program is not None
    outcome.failed = True
    outcome.violated = {"INV-DOORS"}
    outcome.detail = ("the doors differ on a program (shrunk):\n"
                      + "\n".join((verdict.differences or [])[:12])
                      + "\n\nthe program as a runnable script:\n\n"
                      + harness.counterexample_script(verdict.program))
    return outcome


HTTP_EXAMPLES = {"dev": 2, "ci": 4, "deep": 100}
"""Runs of the HTTP state machine per profile (each starts a server and may crash it)."""
HTTP_STEPS = 10


def _http_settings(examples: int, **extra: Any) -> Any:
    from hypothesis import HealthCheck, settings

    return settings(max_examples=examples, stateful_step_count=HTTP_STEPS, deadline=None,
                    database=None, suppress_health_check=list(HealthCheck), **extra)


def http(profile: str, seed: int | None, console: Console,
         examples: int | None = None) -> Outcome:
    """The HTTP door under random steps and crashes; every invariant on the server's whole
    trace, restarts included, after each."""
    total = examples if examples is not None else HTTP_EXAMPLES[profile]
    outcome = Outcome(f"HTTP state machine ({total} runs of {HTTP_STEPS} steps, crashes "
                      "included)")
    try:
        from qsession.server.http_machine import HTTPMachine
    except ImportError as err:
        return _needs_server(outcome, "HTTP", err)
    started = time.perf_counter()
    output = io.StringIO()
    steps, crashes = [0], [0]

    class Counted(HTTPMachine):
        def teardown(self) -> None:
            steps[0] += self.steps
            crashes[0] += self.crashes
            super().teardown()

    base = _http_settings(total)
    with _progress(console) as bar, contextlib.redirect_stdout(output), \
            contextlib.redirect_stderr(io.StringIO()):
        bar.add_task("HTTP state machine", total=None)
        try:
            _run_in_chunks(Counted, base, total, seed)
        except Exception as err:
            _record_failure(outcome, err, output)
    outcome.seconds = time.perf_counter() - started
    outcome.per_invariant = {"server trace checks": steps[0], "crashes": crashes[0]}
    outcome.detail = outcome.detail or (
        f"{total} runs against a real server, {crashes[0]} crashes and restarts on its state "
        f"folder; every invariant on its whole trace after each of {steps[0]} steps; every "
        "job the client received ended once")
    return outcome


REST_EXAMPLES = {"dev": 2, "ci": 4, "deep": 50}
"""Examples of each REST property per profile (the host rule gets 20 times as many)."""


def rest(profile: str, seed: int | None, console: Console,
         examples: int | None = None) -> Outcome:
    """REST-level properties against a real server (server/rest_properties.py)."""
    total = examples if examples is not None else REST_EXAMPLES[profile]
    outcome = Outcome(f"REST properties ({total} examples each)")
    try:
        from qsession.server import rest_properties
    except ImportError as err:
        return _needs_server(outcome, "REST", err)
    started = time.perf_counter()
    with _progress(console) as bar, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        bar.add_task("REST properties", total=None)
        verdict = rest_properties.check(total, seed)
    outcome.seconds = time.perf_counter() - started
    outcome.per_invariant = {"INV-REST": sum(verdict.examples.values())}
    checked = ", ".join(f"{name} {n}" for name, n in verdict.examples.items())
    checked += "".join(f"; not run: {why}" for why in verdict.skipped)
    if verdict.ok:
        outcome.detail = f"held on every example: {checked}"
    else:
        outcome.failed = True
        outcome.violated = {"INV-REST"}
        outcome.detail = "\n".join(verdict.failures) + f"\n(examples: {checked})"
    return outcome


def _mutant_rest(examples: int) -> set[str]:
    from qsession.server import rest_properties

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        verdict = rest_properties.check(examples, seed=0)
    return set() if verdict.ok else {"INV-REST"}


MUTANT_REST = 6
"""Examples of each REST property under each REST mutant."""
MUTANT_DOORS = 20
"""Programs the doors part runs under each wire mutant."""


MUTANT_HTTP = 15
"""Runs of the HTTP state machine under each durability mutant."""


def _mutant_http(examples: int) -> set[str]:
    from hypothesis import Phase
    from hypothesis.stateful import run_state_machine_as_test

    from qsession.server.http_machine import HTTPMachine

    kill = _http_settings(examples, derandomize=True, phases=[Phase.generate],
                          print_blob=False)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            run_state_machine_as_test(HTTPMachine, settings=kill)
        except Exception as err:
            return violated_ids(err)
    return set()


def _mutant_doors(examples: int) -> set[str]:
    from qsession.server import doors as harness

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        verdict = harness.campaign(examples, seed=0)
    return set() if verdict.ok else {"INV-DOORS"}


MUTANT_PROGRAMS = 400
"""Random null programs run under each mutant (four of them over 1,000 ids)."""


def _mutant_stateful(budget: int) -> set[str]:
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.stateful import run_state_machine_as_test

    from qsession.model import TransitionRefused
    from qsession.properties.machines import RuntimeMachine

    kill = settings(max_examples=budget, stateful_step_count=40, derandomize=True,
                    database=None, deadline=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck), print_blob=False)
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            run_state_machine_as_test(RuntimeMachine, settings=kill)
        except TransitionRefused:
            return {"INV-MODEL-CONFORMS"}
        except Exception as err:
            return violated_ids(err)
    return set()


def _mutant_programs(runs: int) -> set[str]:
    from qsession.properties.programs import campaign

    result = campaign(runs, start=0, processes=1)
    found = set(result.violations)
    if result.lost or result.duplicated:
        found.add("INV-CONSERVATION")
    return found


def _mutant_durations(examples: int) -> set[str]:
    from qsession.properties import durations as prop

    with contextlib.redirect_stdout(io.StringIO()):
        try:
            prop.run(examples)
        except Exception as err:
            return violated_ids(err)
    return set()


def mutants(console: Console, budget: int) -> tuple[Outcome, Table]:
    """Run every part under every seeded bug; each must be killed, and the table says by what."""
    from qsession.properties.mutants import MUTANTS, Mutant

    wire_mutants: tuple[Mutant, ...] = ()
    with contextlib.suppress(ImportError):  # without the server extra: no wire catalogue
        from qsession.server import mutants as server_mutants

        wire_mutants = (server_mutants.WIRE_MUTANTS + server_mutants.REST_MUTANTS
                        + server_mutants.DURABLE_MUTANTS)
    wire = {m.name for m in wire_mutants}
    rest_bugs = {m.name for m in wire_mutants if m.expected == {"INV-REST"}}
    durable_bugs = {m.name for m in wire_mutants if m.expected == {"INV-DURABLE"}}
    catalogue = (*MUTANTS, *wire_mutants)
    outcome = Outcome(f"mutants ({len(catalogue)}, ≤{budget} stateful examples, "
                      f"{MUTANT_PROGRAMS} programs, {budget} circuits each; for the "
                      f"server's, {MUTANT_DOORS} doors programs, {MUTANT_REST} REST examples "
                      f"or {MUTANT_HTTP} HTTP runs with crashes)")
    # The explorer walks the pure model, which no mutant touches (they patch the runtime):
    # it cannot kill them, and says so rather than run for nothing. A runtime mutant acts
    # the same behind both doors, a wire mutant only behind the HTTP one, and a durability
    # mutant only across a crash, which only the HTTP part makes: each runs the parts that
    # could see it. One "killed by" column rather than one per part: the table stays
    # readable at 80 columns (the caption says which parts each family runs).
    table = Table(title="Seeded bugs: which part of verify killed each", pad_edge=False,
                  caption="killed by: the parts that found a violation the bug is expected "
                          "to cause. A runtime bug runs through stateful, programs, "
                          "durations and metrics; a wire bug through doors; a request-form, "
                          "tenancy, token or host-rule bug through rest; a durability bug "
                          "through http; the explorer checks the model only")
    table.add_column("mutant", no_wrap=True)
    table.add_column("killed by")
    # Ids are what a reader looks up: one a line, folded if they must be, never cut.
    table.add_column("invariants broken", overflow="fold")
    table.add_column("result", no_wrap=True)
    started = time.perf_counter()
    killed_count = 0
    with _progress(console) as bar:
        task = bar.add_task("mutants", total=len(catalogue))
        for mutant in catalogue:
            with mutant.applied():
                if mutant.name in rest_bugs:
                    found = {"rest": _mutant_rest(MUTANT_REST)}
                elif mutant.name in durable_bugs:
                    found = {"http": _mutant_http(MUTANT_HTTP)}
                elif mutant.name in wire:
                    found = {"doors": _mutant_doors(MUTANT_DOORS)}
                else:
                    found = {"stateful": _mutant_stateful(budget),
                             "programs": _mutant_programs(MUTANT_PROGRAMS),
                             "durations": _mutant_durations(budget),
                             "metrics": {"INV-REPORTED"} if _metrics_findings(budget, 0)[1]
                             else set()}
            killers = [part for part, ids in found.items() if ids & mutant.expected]
            killed = bool(killers)
            killed_count += killed
            outcome.failed |= not killed
            outcome.per_invariant[mutant.name] = killers
            broken = set().union(*found.values()) & mutant.expected
            table.add_row(mutant.name, "\n".join(killers) or "—",
                          "\n".join(sorted(broken)) or "—",
                          "[green]killed[/green]" if killed else "[red]SURVIVED[/red]")
            bar.advance(task)
    outcome.seconds = time.perf_counter() - started
    outcome.detail = (f"{killed_count} of {len(catalogue)} mutants killed"
                      + ("" if not outcome.failed else ": some survived"))
    return outcome, table


def summary(parts: list[Outcome]) -> Table:
    """One row per invariant: what each part did for it, and the verdict.

    The verdict is ``violated`` whenever any part found a violation of it (a failed
    stateful or explorer run, or any program trace).
    """
    from qsession.properties.invariants import INVARIANTS
    from qsession.properties.reported import API_INVARIANTS

    by_name = {p.name.split(" (")[0]: p for p in parts}
    ids = [*INVARIANTS, *API_INVARIANTS, "INV-DURATION"]
    table = Table(title="Invariants")
    # The ids are what a reader looks up in docs/semantics.md: never cut them, even at 80 columns.
    table.add_column("invariant", no_wrap=True, min_width=max(map(len, ids)))
    for column in ("stateful runs (checks)", "explorer states", "program violations", "result"):
        table.add_column(column)
    run = by_name.get("stateful runtime machine")
    exp = by_name.get("explorer")
    prog = by_name.get("random programs")
    dur = by_name.get("durations")
    for inv in ids:
        examples, checks = run.per_invariant.get(inv, (0, 0)) if run else ("—", "—")
        if inv == "INV-DURATION" and dur is not None:
            examples, checks = "—", dur.per_invariant.get(inv, 0)
        explored = exp.per_invariant.get(inv, "n/a") if exp else "—"
        broken = prog.per_invariant.get(inv, 0) if prog else "—"
        met = by_name.get("metrics")
        if inv == "INV-REPORTED" and met is not None and isinstance(broken, int):
            broken += met.per_invariant.get(inv, 0)
        failed = any(inv in p.violated or (p.failed and inv in (p.detail or ""))
                     for p in parts if not p.name.startswith("mutants"))
        failed |= isinstance(broken, int) and broken > 0
        table.add_row(inv, f"{examples} ({checks})", str(explored), str(broken),
                      "[red]violated[/red]" if failed else "[green]ok[/green]")
    crashes = sorted({c for p in parts for c in p.violated if c.startswith("crash")} |
                     ({"program raised"} if prog and prog.per_invariant.get("program raised")
                      else set()))
    for crash in crashes:
        table.add_row(crash, "", "", "", "[red]violated[/red]")
    return table


def verify(profile: str, seed: int | None, with_mutants: bool, processes: int,
           runs: int | None, console: Console, *, executor: str | None = None) -> bool:
    """Run the campaign; print the tables; True when everything held.

    ``executor`` (``dask://HOST:PORT``) runs the random programs on a Dask cluster."""
    import random

    from qsession.properties.profiles import load_profile

    load_profile(profile)
    if seed is None:  # a fresh seed, printed, so that any failure can be replayed
        seed = random.SystemRandom().randrange(2**31)
    console.print(f"qsession verify --profile {profile} --seed {seed}")
    parts = [stateful(profile, seed, console), model_walks(profile, seed, console),
             exploration(console),
             programs(profile, seed, processes, console, runs, executor),
             durations(profile, seed, console), metrics(profile, seed, console),
             doors(profile, seed, console), http(profile, seed, console),
             rest(profile, seed, console)]
    mutant_table = None
    if with_mutants:
        outcome, mutant_table = mutants(console, budget=150)
        parts.append(outcome)
    for part in parts:
        for table in part.tables:
            console.print(table)
    console.print(summary(parts))
    if mutant_table is not None:
        console.print(mutant_table)
    overview = Table(title=f"qsession verify --profile {profile} --seed {seed}")
    for column in ("part", "seconds", "result", "detail"):
        overview.add_column(column)
    for part in parts:
        overview.add_row(part.name, f"{part.seconds:.1f}",
                         "[red]FAIL[/red]" if part.failed else "[green]ok[/green]",
                         part.detail.splitlines()[0] if part.detail else "")
    console.print(overview)
    for part in parts:
        if part.failed:
            console.rule(f"[red]{part.name}")
            # Not wrapped by rich: the detail holds commands and a runnable script, which a
            # line break would cut (the terminal still folds long lines on screen).
            console.print(part.detail, markup=False, highlight=False, soft_wrap=True)
            console.print(f"replay with: qsession verify --profile {profile} --seed {seed}",
                          soft_wrap=True)
    return not any(p.failed for p in parts)
