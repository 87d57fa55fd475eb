"""What configures a test's service: the command-line options and ``@pytest.mark.qsession``.

The marker's keywords are of two kinds: the plugin's own (``seed``, ``clock``, ``tenants``,
``allow_open_sessions``) and any keyword ``LocalService`` takes (``interactive_timeout``,
``max_time``, ``backends``, ``instances``, …), passed through unchanged; ``plan=`` is the
plan of the default instance. Markers on a
module or class apply to its tests; the marker closest to the test wins per keyword.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest

CLOCKS = ("virtual", "measured", "wall")
MARKER = "qsession"
OWN_KEYWORDS = ("seed", "clock", "tenants", "allow_open_sessions")
MARKER_HELP = (
    "qsession(**settings): configure the qsession_service fixture; settings are seed, "
    "clock, tenants, allow_open_sessions, plan and any LocalService keyword "
    "(interactive_timeout, max_time, backends, instances, ...)"
)

PLATFORM_MARKER_HELP = (
    "qsession_platform(**settings): configure the module's qsession_platform server; "
    "settings are the server's (clock=fast|virtual|wall, speed, backends, instances, seed, "
    "noise, settings)")


class MarkerError(TypeError):
    """A ``@pytest.mark.qsession`` marker the plugin cannot apply (says what to change)."""


def did_you_mean(unknown: list[str], known: set[str] | list[str]) -> str:
    """``"; did you mean max_time (not max_tme)?"`` for the unknown names close to a known one."""
    hints = [f"{match[0]} (not {name})" for name in unknown
             if (match := difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6))]
    return f"; did you mean {', '.join(hints)}?" if hints else ""


def add_options(parser: pytest.Parser) -> None:
    """Register ``--qsession-clock``, ``--qsession-seed``, ``--qsession-keep-traces`` and the
    ini keys ``qsession_clock`` and ``qsession_seed`` (the options win over them)."""
    group = parser.getgroup("qsession", "qsession: emulated Qiskit Runtime sessions")
    group.addoption("--qsession-clock", choices=CLOCKS, default=None,
                    help="clock of the qsession_service fixture (default: the ini key "
                         "qsession_clock, else virtual)")
    group.addoption("--qsession-seed", type=int, default=None, metavar="N",
                    help="seed base; each test's service seed is derived from it and the "
                         "test's node id (default: the ini key qsession_seed, else 0)")
    group.addoption("--qsession-keep-traces", action="store_true", default=False,
                    help="write the trace and timeline of passing tests too (failing "
                         "tests' are always written)")
    parser.addini("qsession_clock", "default clock of qsession_service: virtual, measured "
                  "or wall", default="virtual")
    parser.addini("qsession_seed", "default seed base of qsession_service", default="0")


def clock_option(config: pytest.Config) -> str:
    """The clock chosen on the command line, else in the ini file, else ``virtual``."""
    clock = config.getoption("qsession_clock") or config.getini("qsession_clock")
    if clock not in CLOCKS:
        raise pytest.UsageError(f"qsession_clock = {clock!r} in the ini file: choose one of "
                                f"{', '.join(CLOCKS)}")
    return str(clock)


def seed_option(config: pytest.Config) -> int:
    """The seed base chosen on the command line, else in the ini file, else 0."""
    seed = config.getoption("qsession_seed")
    if seed is not None:
        return int(seed)
    text = str(config.getini("qsession_seed")).strip()
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"qsession_seed = {text!r} in the ini file: it must be an "
                                "integer") from None


def derive_seed(base: int, nodeid: str) -> int:
    """A test's seed: the same for the same base and node id, different across tests."""
    digest = hashlib.sha256(f"{base}:{nodeid}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


@dataclass
class ServiceConfig:
    """A test's resolved configuration: the plugin's settings and ``LocalService``'s keywords."""

    seed: int
    seed_origin: str
    clock: str
    tenants: Any = None
    allow_open_sessions: bool = False
    service_kwargs: dict[str, Any] = field(default_factory=dict)


def marker_settings(item: pytest.Item) -> dict[str, Any]:
    """The marker keywords that apply to ``item`` (closest marker wins per keyword)."""
    merged: dict[str, Any] = {}
    for mark in reversed(list(item.iter_markers(MARKER))):
        if mark.args:
            raise MarkerError(
                f"@pytest.mark.qsession takes keywords only, not {mark.args!r}: write e.g. "
                "@pytest.mark.qsession(max_time=60)")
        merged.update(mark.kwargs)
    return merged


def resolve(item: pytest.Item, service_parameters: set[str]) -> ServiceConfig:
    """The configuration of ``item``'s service; ``service_parameters`` are LocalService's."""
    settings = marker_settings(item)
    passable = service_parameters - {"clock", "seed", "trace"}
    if "plan" in settings and "plan" not in passable:
        settings = _plan_as_instance(settings)
    unknown = sorted(set(settings) - set(OWN_KEYWORDS) - passable)
    if unknown:
        raise MarkerError(
            f"@pytest.mark.qsession got unknown keyword(s) {unknown}; it takes "
            f"{', '.join(OWN_KEYWORDS)}, plan and LocalService's {', '.join(sorted(passable))}"
            f"{did_you_mean(unknown, {*OWN_KEYWORDS, 'plan', *passable})}")
    config = item.config
    base = seed_option(config)
    if "seed" in settings:
        seed = settings["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise MarkerError(f"@pytest.mark.qsession(seed=...) must be an int >= 0, not "
                              f"{seed!r}")
        origin = "set by @pytest.mark.qsession(seed=...)"
    else:
        seed = derive_seed(base, item.nodeid)
        origin = f"derived from --qsession-seed {base} and the node id"
    clock = settings.get("clock", clock_option(config))
    if clock not in CLOCKS:
        raise MarkerError(f"@pytest.mark.qsession(clock=...) must be one of {CLOCKS}, not "
                          f"{clock!r}")
    allow = settings.get("allow_open_sessions", False)
    if not isinstance(allow, bool):
        raise MarkerError(f"@pytest.mark.qsession(allow_open_sessions=...) must be True or "
                          f"False, not {allow!r}")
    kwargs = {k: v for k, v in settings.items() if k not in OWN_KEYWORDS}
    return ServiceConfig(seed, origin, clock, settings.get("tenants"), allow, kwargs)


def _plan_as_instance(settings: dict[str, Any]) -> dict[str, Any]:
    """``plan=`` is the plan of the service's one default instance (plans belong
    to instances), so it becomes ``instances={"default": {"plan": ...}}``."""
    from qsession.runtime.engine.settings import DEFAULT_INSTANCE

    if "instances" in settings:
        raise MarkerError(
            "@pytest.mark.qsession(plan=..., instances=...): plans belong to instances; give "
            "each its plan in instances=, e.g. instances={'a': {'plan': 'open', "
            "'allocation': 1.0}}")
    rest = {k: v for k, v in settings.items() if k != "plan"}
    return {**rest, "instances": {DEFAULT_INSTANCE: {"plan": settings["plan"]}}}


def service_parameters() -> set[str]:
    """The keyword parameters ``LocalService`` accepts (read from its signature)."""
    from qsession.runtime import LocalService

    return {name for name, p in inspect.signature(LocalService).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}
