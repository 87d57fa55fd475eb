"""The ``qsession`` command: one group, each subcommand importing what it needs only when run."""

from __future__ import annotations

import math
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from qsession.cli.serving import build_emulator, emulator_options, server_options

if TYPE_CHECKING:
    _FloatParam = click.ParamType[float, Any]
else:  # click made ParamType generic only in 8.5; older releases cannot subscript it
    _FloatParam = click.ParamType


class PositiveSeconds(_FloatParam):
    """A finite number of seconds > 0 (``inf`` and ``nan`` are usage errors, exit 2)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        """The value as float seconds, or a usage error naming it."""
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} must be a finite number of seconds > 0", param, ctx)
        return seconds


def _param(name: str) -> click.Parameter:
    """The current command's parameter ``name`` (for errors raised after parsing)."""
    ctx = click.get_current_context()
    return next(p for p in ctx.command.params if p.name == name)


SECONDS = PositiveSeconds()
SEED = click.IntRange(min=0, max=2**32 - 1)
"""Seeds numpy, Python's random and Aer all accept."""


def _executor(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``local`` or ``dask://HOST:PORT``: else a usage error saying which forms work."""
    from qsession.runtime import IBMInputValueError
    from qsession.runtime.engine.campaign import check_spec

    try:
        return check_spec(value)
    except IBMInputValueError as err:
        raise click.BadParameter(str(err), ctx, param) from None


def writable_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """An output folder that exists or can be made, and can be written: else a usage error."""
    if value is None:
        return None
    try:
        value.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise click.BadParameter(f"cannot create the folder {str(value)!r}: "
                                 f"{err.strerror or err}", ctx, param) from None
    if not os.access(value, os.W_OK | os.X_OK):
        raise click.BadParameter(f"the folder {str(value)!r} is not writable", ctx, param)
    return value


def writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """An output file whose folder exists or can be made and can be written."""
    if value is None:
        return None
    writable_dir(ctx, param, value.parent if str(value.parent) else Path("."))
    if value.exists() and not os.access(value, os.W_OK):
        raise click.BadParameter(f"the file {str(value)!r} is not writable", ctx, param)
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qsession")
def main() -> None:
    """qsession: Qiskit Runtime sessions, emulated and verified on one machine."""


@main.command()
@click.option(
    "--machine", type=click.Choice(["session", "job"]), default="session", show_default=True,
    help="Which lifecycle to draw.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["mermaid", "dot", "svg", "png"]), default="mermaid",
    show_default=True, help="Output format; SVG and PNG need qsession[diagrams].",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
    callback=writable_file, help="File to write (default: standard output; required for PNG).",
)
def diagram(machine: str, fmt: str, output: Path | None) -> None:
    """Export a lifecycle's state diagram, drawn from the model's transition table."""
    from qsession.diagrams import DiagramError, render

    try:
        data = render(machine, fmt)  # type: ignore[arg-type]
    except DiagramError as err:
        raise click.ClickException(str(err)) from err
    if output is None:
        if fmt == "png":
            raise click.UsageError("PNG is binary: give --output FILE.png")
        sys.stdout.write(data.decode())
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    click.echo(f"wrote {output} ({len(data)} bytes)", err=True)


@main.command()
@click.argument("trace_file", metavar="TRACE.jsonl",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
    callback=writable_dir,
    help="Folder for timeline.png, timeline.svg and trace.perfetto.json (default: the trace's).",
)
@click.option(
    "--perfetto/--no-perfetto", default=True, show_default=True,
    help="Also write trace.perfetto.json, for ui.perfetto.dev or chrome://tracing.",
)
def timeline(trace_file: Path, output_dir: Path | None, perfetto: bool) -> None:
    """Draw a recorded trace as a timeline picture (PNG and SVG) and a Perfetto trace."""
    from qsession.insight.timeline import draw_timeline, plot_missing
    from qsession.runtime.engine.trace import Trace, TraceFormatError

    missing = plot_missing()
    if missing is not None:
        raise click.ClickException(f"the timeline picture cannot be drawn: {missing}")
    try:
        trace = Trace.read(trace_file)
    except TraceFormatError as err:
        raise click.ClickException(str(err)) from err
    out = output_dir if output_dir is not None else writable_dir(
        click.get_current_context(), _param("output_dir"), trace_file.parent)
    assert out is not None
    paths = [out / "timeline.png", out / "timeline.svg"]
    draw_timeline(trace, paths[0], paths[1])
    if perfetto:
        from qsession.insight.perfetto import write_perfetto

        paths.append(write_perfetto(trace, out / "trace.perfetto.json"))
    for path in paths:
        click.echo(str(path))


OUTPUT_DIR = Path("qsession-out")


@main.command()
@click.option(
    "--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path), default=OUTPUT_DIR,
    show_default=True, callback=writable_dir,
    help="Folder for the timeline, traces and lifecycle diagram.",
)
@click.option("--seed", type=SEED, default=7, show_default=True,
              help="Seed of the tenants' workload, the optimiser's start and the simulator.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or tables: a one-line summary.")
def demo(output_dir: Path, seed: int, quiet: bool) -> None:
    """Run a VQE session on a QPU shared with other tenants, in virtual time.

    Shows the first job queueing, later jobs jumping the queue, the ITTL expiring during a
    slow classical step (then reactivation through the queue) and the max TTL failing the
    queued jobs; writes timeline.png/.svg, trace.jsonl, trace.perfetto.json and
    session-lifecycle.svg.
    """
    from qsession.insight.demo import DemoConfig, run_demo

    run_demo(output_dir, DemoConfig(seed=seed), quiet=quiet)


@main.command()
@click.option("--copy", "dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              callback=writable_dir, metavar="DIR",
              help="Copy every example into DIR (its folders kept), to run or edit them.")
@click.option("--force", is_flag=True, help="With --copy, overwrite files already in DIR.")
def examples(dest: Path | None, force: bool) -> None:
    """List the example programs installed with qsession, or copy them out with --copy DIR."""
    from qsession.cli.examples import ExamplesMissing, copy_to, listing

    try:
        if dest is None:
            for line in listing(min(shutil.get_terminal_size().columns, 100)):
                click.echo(line)
            click.echo("Copy them out to run them: qsession examples --copy my-examples")
            return
        written = copy_to(dest, force=force)
    except (ExamplesMissing, FileExistsError) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"qsession: copied {len(written)} examples to {dest}")
    click.echo(f"Run one against a local IBM Quantum Platform:\n"
               f"  qsession run -- python {dest / 'unchanged' / 'session_sampler.py'}\n"
               f"or in process:\n  python {dest / 'seed_vqe.py'}")


@main.command("docs")
@click.argument("topic", required=False)
@click.argument("section", required=False)
@click.option("--path", "show_path", is_flag=True,
              help="Print where the page (or, without TOPIC, the documentation) is installed, "
                   "to open it in a Markdown viewer with its pictures.")
def docs_command(topic: str | None, section: str | None, show_path: bool) -> None:
    """List the documentation installed with qsession, or print the page TOPIC.

    With SECTION, only the section of TOPIC under that heading, e.g.
    qsession docs semantics "Durability". Pages print as Markdown (through your pager on a
    terminal).
    """
    from qsession.cli import docs

    try:
        if topic is None:
            if show_path:
                click.echo(str(docs.docs_root()))
                return
            for line in docs.listing_lines(min(shutil.get_terminal_size().columns, 100)):
                click.echo(line)
            return
        page = docs.page(topic)
        if show_path:
            click.echo(str(page.path))
            return
        text = page.section(section) if section else page.text()
    except (docs.DocsMissing, docs.UnknownPage) as err:
        raise click.ClickException(str(err)) from err
    if sys.stdout.isatty():
        click.echo_via_pager(text)
    else:
        click.echo(text, nl=False)


@main.command()
@click.option(
    "--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path), default=OUTPUT_DIR,
    show_default=True, callback=writable_dir, help="Folder for whatif.json and whatif.png.",
)
@click.option("--seed", type=SEED, default=7, show_default=True,
              help="Seed the workloads are drawn from (same seed, same numbers).")
@click.option("--ittl", "ittls", type=SECONDS, multiple=True,
              help="An ITTL of the sweep in seconds; repeat it (default: 1, 10, 60, 300).")
@click.option("--reps", type=click.IntRange(min=1), default=3, show_default=True,
              help="Seeded workloads per ITTL.")
@click.option("--iterations", type=click.IntRange(min=1), default=None,
              help="Jobs of the iterative session [default: 30].")
@click.option("--horizon", type=SECONDS, default=None,
              help="Seconds over which the job-mode tenants arrive [default: 900].")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=2, show_default=True,
              help="Worker processes (1: run the points serially in this process).")
@click.option("--executor", default=None, metavar="dask://HOST:PORT", callback=_executor,
              help="Run the points on a Dask distributed cluster (default: local processes).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def whatif(output_dir: Path, seed: int, ittls: tuple[float, ...], reps: int,
           iterations: int | None, horizon: float | None, jobs: int, executor: str | None,
           quiet: bool) -> None:
    """Sweep the interactive timeout: utilisation, idle holds, tenants' waits, turnaround.

    Each ITTL runs the same seeded mixed workload (an iterative session with random think
    times among job-mode tenants) in virtual time; prints the table and writes
    whatif.json and whatif.png.
    """
    from dataclasses import replace

    from qsession.insight.whatif import DEFAULT_ITTLS, WhatIfConfig, run_whatif

    config = WhatIfConfig(ittls=tuple(sorted(set(ittls))) or DEFAULT_ITTLS, seed=seed, reps=reps)
    if iterations is not None:
        config = replace(config, iterations=iterations)
    if horizon is not None:
        config = replace(config, horizon=horizon)
    run_whatif(output_dir, config, jobs=jobs, quiet=quiet, executor=executor)


@main.command()
@click.argument("trace_file", metavar="TRACE.jsonl",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--settled", is_flag=True,
              help="The run was driven to idle: every job must have reached a final state.")
def check(trace_file: Path, settled: bool) -> None:
    """Check every invariant on a recorded trace; exit status 1 if any is violated."""
    from rich.console import Console

    from qsession.cli.checking import check_file
    from qsession.runtime.engine.trace import TraceFormatError

    try:
        report = check_file(trace_file, settled=settled, console=Console())
    except TraceFormatError as err:
        raise click.ClickException(str(err)) from err
    if not report.ok:
        raise SystemExit(1)


@main.command()
@click.argument("trace_file", metavar="TRACE.jsonl",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def replay(trace_file: Path) -> None:
    """Re-run a recorded virtual-time run; report the first record that differs (exit 1)."""
    from qsession.runtime.engine.replay import replay as rerun
    from qsession.runtime.engine.trace import Trace, TraceFormatError

    try:
        result = rerun(Trace.read(trace_file))
    except TraceFormatError as err:
        raise click.ClickException(str(err)) from err
    if result.identical:
        click.echo(f"identical: {len(result.trace)} records replayed from {trace_file}")
        return
    click.echo(str(result.difference))
    raise SystemExit(1)


@main.command()
@click.option("--profile", type=click.Choice(["dev", "ci", "deep"]), default="dev",
              show_default=True, help="Hypothesis profile: examples and steps per run.")
@click.option("--seed", type=int, default=None,
              help="Seed for the stateful runs and the programs (default: a fresh one, printed).")
@click.option("--mutants", "with_mutants", is_flag=True,
              help="Also run every seeded bug (runtime, wire, REST, durability); each "
                   "must be killed by a part that can see it.")
@click.option("--runs", type=click.IntRange(min=0), default=None,
              help="Random programs to run (default: 2,000 dev, 5,000 ci, 100,000 deep).")
@click.option("--processes", "-j", type=click.IntRange(min=1), default=2, show_default=True,
              help="Processes for the random programs.")
@click.option("--executor", default=None, metavar="dask://HOST:PORT", callback=_executor,
              help="Run the random programs on a Dask distributed cluster (default: local "
                   "processes); the same seeds give the same verdicts and counts.")
def verify(profile: str, seed: int | None, with_mutants: bool, runs: int | None,
           processes: int, executor: str | None) -> None:
    """Check every invariant: stateful runs, the explorer, random programs, the two doors,
    the HTTP door across crashes and REST properties."""
    from rich.console import Console

    from qsession.cli.verify import verify as run_campaign

    if not run_campaign(profile, seed, with_mutants, processes, runs, Console(),
                        executor=executor):
        raise SystemExit(1)


class StartFailed(click.ClickException):
    """The server cannot start (a busy port, an output folder in use): one line, exit 2."""

    exit_code = 2


OUTPUT_HELP = ("Folder for the trace (written as the run goes), the timeline and the "
               "Perfetto export; one that holds an earlier run's is refused unless --force.")
FORCE_HELP = "Replace the outputs of an earlier run in the output folder."


@main.command()
@server_options(default_clock="fast")
@click.option("--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path),
              default=None,
              help="Folder for the trace (written as the run goes), the timeline and the "
                   "Perfetto export (default: qsession-out, or the --state folder); one that "
                   "holds an earlier run's is refused unless --force.")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the trace (JSON lines) here instead, as the run goes.")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None,
              help="Keep the platform in this folder: it survives a kill and a restart "
                   "on the same folder resumes it (its trace is DIR/trace.jsonl).")
@click.option("--fsync", type=click.Choice(["ack", "off"]), default="ack", show_default=True,
              help="With --state: ack fsyncs what each answer reveals before it leaves; "
                   "off only writes it (a killed server loses nothing, a power cut may).")
def serve(host: str, port: int, clock: str, speed: float, backends: str,
          instances: tuple[str, ...], seed: int | None, noise: bool, strict_accounts: bool,
          control_token: str, output_dir: Path | None, trace_path: Path | None, force: bool,
          state_dir: Path | None, fsync: str) -> None:
    """Serve IBM Quantum Platform's REST API for the unmodified client until stopped.

    Ctrl-C or SIGTERM stops it; then it prints what happened and writes the timeline and
    the Perfetto export beside the trace.
    """
    from qsession.server import Server, StartError, claim_outputs, interrupts, listening_socket
    from qsession.server.launch import format_summary, summarize, write_outputs

    if state_dir is not None and trace_path is not None:
        raise click.UsageError("with --state the trace is DIR/trace.jsonl: drop --trace")
    if state_dir is not None and clock == "wall":
        raise click.UsageError("--state keeps a platform on the fast or virtual clock (the "
                               "wall clock's time cannot be rebuilt from a trace)")
    out = output_dir if output_dir is not None else (state_dir or OUTPUT_DIR)
    trace = (state_dir / "trace.jsonl" if state_dir is not None
             else trace_path if trace_path is not None else out / "trace.jsonl")
    try:
        sock = listening_socket(host, port)
    except StartError as err:
        raise StartFailed(str(err)) from None
    try:
        # A --state folder is resumed, not replaced: its outputs are the same platform's.
        if out != state_dir:
            claim_outputs(out, force=force, also=[] if trace_path is None else [trace])
        else:
            out.mkdir(parents=True, exist_ok=True)
    except StartError as err:
        sock.close()
        raise StartFailed(str(err)) from None
    options = emulator_options(clock, speed, backends, instances, seed, noise, strict_accounts)
    if state_dir is not None:
        options.update(state_dir=state_dir, fsync=fsync)
    emulator = build_emulator(options, None if state_dir is not None else trace)
    server = Server(emulator, host, port, control_token=control_token, sock=sock)
    with interrupts():  # SIGTERM stops it as Ctrl-C does
        try:
            for key, value in server.env().items():
                click.echo(f"export {key}={shlex.quote(value)}")
            click.echo(f"export QSESSION_CONTROL_TOKEN={shlex.quote(control_token)}")
            if emulator.restarts:
                click.echo(f"# qsession: resumed the platform in {state_dir} (restart "
                           f"{emulator.restarts})", err=True)
            click.echo(f"# qsession: serving on {server.url} ({clock} clock); Ctrl-C stops",
                       err=True)
            click.echo(f"# qsession: the live page: {server.page_url}", err=True)
            server.serve_forever()
        except KeyboardInterrupt:  # uvicorn re-raises the signal once it has shut down
            pass
        finally:
            emulator.close()
        click.echo(format_summary(summarize(emulator)), err=True)
        files, _skipped = write_outputs(emulator, out)
        written = ", ".join(str(p) for p in [trace, *files.values()])
        click.echo(f"qsession: wrote {written}", err=True)
    click.echo("# qsession: stopped", err=True)


# Options after COMMAND's first word are COMMAND's own (no -- needed; -- still works).
@main.command(context_settings={"ignore_unknown_options": True,
                                "allow_interspersed_args": False})
@server_options(default_clock="fast")
@click.option("--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path),
              default=OUTPUT_DIR, show_default=True, help=OUTPUT_HELP)
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST",
              help="Let COMMAND reach HOST (e.g. a package index) through the proxy; every "
                   "host that is not IBM's is refused otherwise. Repeat for several.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(host: str, port: int, clock: str, speed: float, backends: str,
        instances: tuple[str, ...], seed: int | None, noise: bool, strict_accounts: bool,
        control_token: str, output_dir: Path, force: bool, allow_hosts: tuple[str, ...],
        command: tuple[str, ...]) -> None:
    """Run COMMAND against a local IBM Quantum Platform; exit with its status.

    qsession's options come before COMMAND; everything from COMMAND's first word on is
    COMMAND's ("--" before it is accepted too). COMMAND runs with a proxy that answers
    IBM's hosts from the local server and refuses every other host, so a program with any
    credentials reaches only the emulator. Ctrl-C or SIGTERM stops COMMAND first; the
    summary and the outputs are written after.
    """
    from qsession.server import StartError
    from qsession.server.launch import run_command

    options = emulator_options(clock, speed, backends, instances, seed, noise,
                               strict_accounts)
    try:
        status = run_command(command, out_dir=output_dir, host=host, port=port,
                             control_token=control_token,
                             echo=lambda line: click.echo(line, err=True),
                             allow_hosts=allow_hosts, force=force, **options)
    except StartError as err:
        raise StartFailed(str(err)) from None
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    raise SystemExit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
