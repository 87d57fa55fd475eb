"""State diagrams of the lifecycles, drawn by transitions' ``GraphMachine`` from the model's tables.

Mermaid and DOT are text and need only the base install (the pure-Python ``graphviz``
package writes DOT source). SVG and PNG are rendered by ``pygraphviz``, whose wheel
bundles Graphviz (install ``qsession[diagrams]``). The ``GraphMachine`` is built only for
export: its triggers are about 12× slower than a plain ``Machine``'s.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any, Literal, cast

from qsession.model import (
    TABLES,
    LifecycleTable,
    machine_arguments,
)

Format = Literal["mermaid", "dot", "svg", "png"]
FORMATS: tuple[Format, ...] = ("mermaid", "dot", "svg", "png")
Engine = Literal["mermaid", "graphviz", "pygraphviz"]
_ENGINES: dict[Format, Engine] = {
    "mermaid": "mermaid",
    "dot": "graphviz",
    "svg": "pygraphviz",
    "png": "pygraphviz",
}


class DiagramError(RuntimeError):
    """A diagram cannot be produced (unknown machine or format, renderer not installed)."""


def table_for(machine: str) -> LifecycleTable:
    """The lifecycle table named ``machine`` (``session`` or ``job``)."""
    try:
        return TABLES[machine]
    except KeyError:
        raise DiagramError(
            f"unknown machine {machine!r}; choose one of: {', '.join(TABLES)}"
        ) from None


def _styles(base: dict[str, Any]) -> dict[str, Any]:
    styles = copy.deepcopy(base)
    styles["node"]["active"] = dict(styles["node"]["default"])
    styles["node"]["final"] = {"fillcolor": "lightgrey", "color": "black", "peripheries": "2"}
    return styles


def _export_machine(table: LifecycleTable, engine: Engine) -> Any:
    from transitions.extensions import GraphMachine

    class _ExportMachine(GraphMachine):
        # GraphMachine highlights the model's current state as "active"; an exported
        # lifecycle has no current state, and one of our states is named "active".
        style_attributes = _styles(GraphMachine.style_attributes)
        machine_attributes = {**GraphMachine.machine_attributes, "rankdir": "TB"}  # noqa: RUF012

    machine = _ExportMachine(
        **machine_arguments(table, effects=False),
        graph_engine=engine,
        show_conditions=True,
        title=f"{table.kind} lifecycle",
    )
    graph = machine.model_graphs[id(machine)]
    for state in table.states:
        if state.final:
            graph.set_node_style(state.name, "final")
    return machine


def render(machine: str = "session", fmt: Format = "mermaid") -> bytes:
    """The diagram of lifecycle ``machine`` in format ``fmt``, as bytes (deterministic)."""
    if fmt not in FORMATS:
        raise DiagramError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    table = table_for(machine)
    engine = _ENGINES[fmt]
    if engine == "pygraphviz":
        try:
            import pygraphviz  # noqa: F401
        except ImportError:
            raise DiagramError(
                f"{fmt.upper()} output needs pygraphviz: pip install 'qsession[diagrams]' "
                "(its wheel bundles Graphviz); Mermaid and DOT work without it"
            ) from None
    graph = _export_machine(table, engine).get_graph()
    if fmt == "mermaid":
        return cast(str, graph.source).encode() + b"\n"
    if fmt == "dot":
        return cast(str, graph.source).encode()
    for edge in graph.edges():
        # One line per event keeps the many internal self-loops legible.
        edge.attr["label"] = edge.attr["label"].replace(" | ", "\n")
    # pygraphviz crashes when drawing into a BytesIO: draw to a file and read it back.
    with tempfile.TemporaryDirectory(prefix="qsession-diagram-") as tmp:
        path = os.path.join(tmp, f"{machine}.{fmt}")
        with _without_fontconfig_warnings(os.path.join(tmp, "stderr")):
            graph.draw(path, format=fmt, prog="dot")
        with open(path, "rb") as fh:
            return fh.read()


@contextlib.contextmanager
def _without_fontconfig_warnings(capture: str) -> Iterator[None]:
    """Pass on what Graphviz's C code writes to stderr, but the host's fontconfig warnings.

    The fontconfig bundled in the pygraphviz wheel is older than many systems' config files
    and prints "Fontconfig warning: ... unknown element" for each newer element it skips;
    the drawing is unaffected. C code writes to file descriptor 2, so it is redirected to a
    file for the draw (a few milliseconds) and every other line is written back.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(capture, "w+b") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:  # also when the draw raises: Graphviz's own message explains why
                os.dup2(saved, 2)
                sink.seek(0)
                kept = [line for line in sink.read().decode(errors="replace").splitlines(True)
                        if not line.startswith("Fontconfig warning:")]
                sys.stderr.write("".join(kept))
    finally:
        os.close(saved)


def mermaid(machine: str = "session") -> str:
    """The Mermaid ``stateDiagram-v2`` source of lifecycle ``machine``."""
    return render(machine, "mermaid").decode()
