"""The generated parts of the semantics page, rendered from the code that enforces them.

The prose of the semantics document is written by hand; its tables of states,
transitions, defaults, IBM's words and invariant ids are not: each sits between
``<!-- generated: NAME -->`` and ``<!-- end: NAME -->`` and is rendered here from the model's
tables, the runtime's defaults and the invariant registry.
``python -m qsession.cli.semantics_doc [FILE]`` rewrites them in place (by default in the
page ``qsession docs semantics --path`` names: a clone's own copy under an editable
install; ``make docs`` runs it there); a test fails when that copy differs from what this
renders.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path

from qsession.diagrams.markdown import transition_rows
from qsession.model import JOB_TABLE, SESSION_TABLE, LifecycleTable

_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)",
    re.DOTALL)


class DocError(ValueError):
    """The document's generated blocks are missing, unknown or repeated."""


def _states(table: LifecycleTable) -> str:
    lines = []
    for state in table.states:
        tags = [t for t, on in (("initial", state.name == table.initial),
                                ("final", state.final)) if on]
        tag = f" ({', '.join(tags)})" if tags else ""
        lines.append(f"- `{state.name}`{tag}: {state.doc}.")
    return "\n".join(lines)


def _events(table: LifecycleTable) -> str:
    return "\n".join(f"- `{e.name}`: {e.doc}." for e in table.events)


def _guards(table: LifecycleTable) -> str:
    return "\n".join(f"- `{g.name}`: {g.doc}." for g in table.guards)


def _transitions(table: LifecycleTable) -> str:
    return "\n".join(transition_rows(table))


def _ibm_words() -> str:
    from qsession.runtime.ibm.session import IBM_STATE, IBM_STATUS

    lines = ["| model state (`session.state`, the trace) | `details()[\"state\"]` and REST "
             "`state` | `session.status()` |", "|---|---|---|"]
    for state in SESSION_TABLE.state_names:
        status = IBM_STATUS.get(state, "In progress, accepting new jobs / In progress, not "
                                       "accepting new jobs")
        lines.append(f"| `{state}` | `{IBM_STATE[state]}` | {status} |")
    return "\n".join(lines)


def _job_words() -> str:
    from qsession.server.wire import JOB_STATUS

    lines = ["| `job.status()` | REST `state.status` |", "|---|---|"]
    lines += [f"| `{state}` | `{JOB_STATUS[state]}` |" for state in JOB_TABLE.state_names]
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    if value is None:
        return "none"
    if value >= 86_400 and value % 86_400 == 0:
        return f"{value:,.0f} s ({value / 86_400:g} days)"
    if value >= 3600 and value % 3600 == 0:
        return f"{value:,.0f} s ({value / 3600:g} h)"
    return f"{value:,g} s"


def _defaults() -> str:
    from qsession.runtime import LocalService
    from qsession.runtime.engine.clock import DEFAULT_EPOCH
    from qsession.runtime.engine.settings import JOB_TIME_CAP_S, OPEN_MAX_TIME_S, OPEN_QUOTA_S
    from qsession.runtime.engine.timing import TimingModel

    given = inspect.signature(LocalService).parameters
    timing = TimingModel()

    def arg(name: str) -> str:
        return _seconds(given[name].default)

    rows = [
        ("session interactive timeout (ITTL)", "`interactive_timeout`",
         arg("interactive_timeout")),
        ("batch interactive timeout", "`batch_interactive_timeout`",
         arg("batch_interactive_timeout")),
        ("session and batch maximum time (max TTL)", "`max_time`", arg("max_time")),
        ("an unused session closes after", "`idle_close_timeout`", arg("idle_close_timeout")),
        ("fair-share window", "`fair_share_window`", arg("fair_share_window")),
        ("Open Plan: a batch's default and largest `max_time`", "`Instance(plan=\"open\")`",
         _seconds(OPEN_MAX_TIME_S)),
        ("Open Plan: QPU seconds per fair-share window", "`Instance.quota`",
         _seconds(OPEN_QUOTA_S)),
        ("a job's largest `max_execution_time`", "(the service's cap)",
         _seconds(JOB_TIME_CAP_S)),
        ("overhead per sub-job (one per pub)", "`TimingModel.sub_job_overhead_s`",
         _seconds(timing.sub_job_overhead_s)),
        ("repetition delay per shot", "`TimingModel.rep_delay_s`",
         f"{timing.rep_delay_s * 1e6:g} µs"),
        ("virtual clock epoch", "`epoch`", DEFAULT_EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ")),
    ]
    lines = ["| what | set with | default |", "|---|---|---|"]
    lines += [f"| {what} | {where} | {value} |" for what, where, value in rows]
    return "\n".join(lines)


def _invariants() -> str:
    from qsession.properties.durations import STATEMENT as DURATION
    from qsession.properties.invariants import INVARIANTS
    from qsession.properties.reported import API_INVARIANTS

    lines = ["| id | what must hold | checked over |", "|---|---|---|"]
    lines += [f"| {i.id} | {i.statement} | any trace (`qsession check`) |"
              for i in INVARIANTS.values()]
    lines += [f"| {ident} | {text} | what the API reported, against the trace |"
              for ident, text in API_INVARIANTS.items()]
    lines.append(f"| INV-DURATION | {DURATION} | random circuits (`qsession verify`) |")
    return "\n".join(lines)


def _coupling() -> str:
    from qsession.model import JOB_SESSION_RULES, SESSION_JOB_RULES

    def job_event(name: str | None, ending: str) -> str:
        return ending if name is None else f"`{name}` each"

    lines = ["| session event | its queued jobs | its running job | note |", "|---|---|---|---|"]
    lines += [f"| `{r.event}` | {job_event(r.queued, 'stay queued')} | "
              f"{job_event(r.running, 'runs to completion')} | {r.note} |"
              for r in SESSION_JOB_RULES]
    lines += ["", "| job event | tells its session (unless the session has ended) | note |",
              "|---|---|---|"]
    lines += [f"| `{r.job_event}` | `{r.session_event}` | {r.note} |" for r in JOB_SESSION_RULES]
    return "\n".join(lines)


def _charges() -> str:
    from qsession.model import CHARGE_RULES

    def yes(flag: bool, what: str) -> str:
        return what if flag else "0"

    lines = ["| a job that ran, ending | by | its usage | charged to its instance | note |",
             "|---|---|---|---|---|"]
    lines += [f"| {r.cause.replace('_', ' ')} | `{r.event}` | {yes(r.usage, 'time held')} | "
              f"{yes(r.fair_share, 'time held (not in a dedicated session)')} | {r.note} |"
              for r in CHARGE_RULES]
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {
    "session-states": lambda: _states(SESSION_TABLE),
    "session-events": lambda: _events(SESSION_TABLE),
    "session-guards": lambda: _guards(SESSION_TABLE),
    "session-transitions": lambda: _transitions(SESSION_TABLE),
    "job-states": lambda: _states(JOB_TABLE),
    "job-transitions": lambda: _transitions(JOB_TABLE),
    "ibm-session-words": _ibm_words,
    "ibm-job-words": _job_words,
    "defaults": _defaults,
    "invariants": _invariants,
    "session-job-coupling": _coupling,
    "job-charges": _charges,
}
"""Every generated block of the semantics page by name, and how to render it."""


def render(text: str) -> str:
    """``text`` with every generated block rendered afresh (each must appear exactly once)."""
    seen: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in BLOCKS:
            raise DocError(f"unknown generated block {name!r}; blocks are {sorted(BLOCKS)}")
        seen.append(name)
        return f"{match.group(1)}{BLOCKS[name]().rstrip()}\n{match.group(4)}"

    out = _BLOCK.sub(fill, text)
    repeated = sorted({n for n in seen if seen.count(n) > 1})
    missing = sorted(set(BLOCKS) - set(seen))
    if repeated or missing:
        raise DocError(f"generated blocks repeated {repeated}, missing {missing}")
    return out


def main(argv: list[str]) -> int:
    """Rewrite the generated blocks of the file named in ``argv`` (default: the semantics page)."""
    from qsession.cli.docs import page

    path = Path(argv[0]) if argv else page("semantics").path
    path.write_text(render(path.read_text()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
