"""The ``qsession`` command: one group, each subcommand importing what it needs only when run."""

from __future__ import annotations

import sys
from pathlib import Path

import click


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
    help="File to write (default: standard output; required for PNG).",
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
    help="Folder for timeline.png, timeline.svg and trace.perfetto.json (default: the trace's).",
)
@click.option(
    "--perfetto/--no-perfetto", default=True, show_default=True,
    help="Also write trace.perfetto.json, for ui.perfetto.dev or chrome://tracing.",
)
def timeline(trace_file: Path, output_dir: Path | None, perfetto: bool) -> None:
    """Draw a recorded trace as a timeline picture (PNG and SVG) and a Perfetto trace."""
    from qsession.runtime.timeline import draw_timeline
    from qsession.runtime.trace import Trace, TraceFormatError

    try:
        trace = Trace.read(trace_file)
    except TraceFormatError as err:
        raise click.ClickException(str(err)) from err
    out = trace_file.parent if output_dir is None else output_dir
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "timeline.png", out / "timeline.svg"]
    draw_timeline(trace, paths[0], paths[1])
    if perfetto:
        from qsession.runtime.perfetto import write_perfetto

        paths.append(write_perfetto(trace, out / "trace.perfetto.json"))
    for path in paths:
        click.echo(str(path))


@main.command()
def demo() -> None:
    """Show the session lifecycle (the full demo arrives with the runtime)."""
    from qsession.cli.lifecycle_view import print_lifecycles

    print_lifecycles()


if __name__ == "__main__":  # pragma: no cover
    main()
