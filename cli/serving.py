"""``qsession serve`` and ``qsession run``: the options they share, turned into server settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

_F = TypeVar("_F", bound=Callable[..., Any])


def server_options(default_clock: str) -> Callable[[_F], _F]:
    """The options of both commands."""

    def wrap(func: _F) -> _F:
        options = [
            click.option("--host", default="127.0.0.1", show_default=True,
                         help="Address to bind (loopback unless told otherwise)."),
            click.option("--port", type=click.IntRange(0, 65535), default=0,
                         help="Port to bind (default: a free one)."),
            click.option("--clock", type=click.Choice(["fast", "wall", "virtual"]),
                         default=default_clock, show_default=True,
                         help="fast: jump to the next event when a client waits, and count "
                              "its think time; wall: real time (see --speed); virtual: only "
                              "the /qsession/v1 routes move time."),
            click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0,
                         show_default=True, help="Model seconds per real second (--clock wall)."),
            click.option("--backends", default="ibm_brisbane,qsession_ideal",
                         show_default=True,
                         help="Comma-separated backend names: IBM names of the client's "
                              "bundled fake backends (ibm_brisbane, ibm_torino, ...) and "
                              "qsession_ideal, the noiseless 16-qubit QPU."),
            click.option("--instance", "instances", multiple=True, metavar="NAME=ALLOC[:plan]",
                         help="A tenant with its fair-share allocation and plan (premium or "
                              "open); repeat for several. Default: qsession=1:premium."),
            click.option("--seed", type=int, default=None, help="Seed for the simulator."),
            click.option("--noise/--no-noise", default=True, show_default=True,
                         help="Run circuits under the fake backend's noise model."),
            click.option("--strict-accounts", is_flag=True,
                         help="Refuse API keys other than the server's and instances not "
                              "given with --instance, with IBM's errors. Default: any key "
                              "gets a token, and an instance a program names becomes a "
                              "tenant (premium plan, allocation 1) on first use."),
            click.option("--control-token", metavar="TOKEN", default=None,
                         callback=_control_token,
                         help="The token the /qsession/v1 routes and the live page need "
                              "(default: a random one, printed in the page's address and as "
                              "QSESSION_CONTROL_TOKEN)."),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return wrap


def _control_token(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """The given token (checked), or a fresh random one."""
    if value is None:
        import secrets

        return secrets.token_urlsafe(18)
    if not value or len(value) > 256 or not value.isprintable() or " " in value:
        raise click.BadParameter("give 1 to 256 printable characters without spaces", ctx,
                                 param)
    return value


def emulator_options(clock: str, speed: float, backends: str, instances: tuple[str, ...],
                     seed: int | None, noise: bool,
                     strict_accounts: bool = False) -> dict[str, Any]:
    """``Emulator`` keyword arguments from the command line (bad values: a usage error)."""
    from qsession.runtime import IBMError
    from qsession.server import Instance

    names = tuple(b.strip() for b in backends.split(",") if b.strip())
    if not names:
        raise click.BadParameter("name at least one backend", param_hint="--backends")
    try:
        tenants = [Instance.parse(spec) for spec in instances] or None
    except IBMError as err:
        raise click.BadParameter(str(err), param_hint="--instance") from err
    return {"clock": clock, "speed": speed, "backends": names, "instances": tenants,
            "seed": seed, "noise": noise, "strict_accounts": strict_accounts}


def build_emulator(options: dict[str, Any], trace: Path | None) -> Any:
    """The emulator, or a click error naming what was wrong."""
    from qsession.runtime import IBMError
    from qsession.runtime.engine.trace import TraceFormatError
    from qsession.server import Emulator

    try:
        return Emulator(trace_path=trace, **options)
    except (IBMError, TraceFormatError) as err:  # bad options, or a state folder refused
        raise click.ClickException(str(err)) from err
