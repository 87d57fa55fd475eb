"""Where a campaign's shards run: local processes (the default) or a Dask distributed cluster.

A campaign (``qsession verify``'s random programs, a ``qsession whatif`` sweep) is split into
shards named by their seeds; each shard is a pure function of its seeds, and the results are
merged in shard order, so the same seeds give the same verdicts and counts wherever the
shards ran. ``pool(spec, processes)`` gives a ``concurrent.futures.Executor`` for a spec:

- ``None`` or ``"local"``: a ``ProcessPoolExecutor`` of ``processes`` local processes
  (spawned, not forked: the parent may hold Aer/OpenMP threads a fork would copy);
- ``"dask://HOST:PORT"``: the executor of a ``distributed.Client`` connected to the Dask
  scheduler at ``tcp://HOST:PORT`` (``pip install 'qsession[dask]'``; the workers need
  qsession installed, at the same version, since they import the shard functions).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager

from .errors import IBMInputValueError

_DASK = re.compile(r"dask://(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})")


def check_spec(spec: str | None) -> str | None:
    """``spec`` if it names an executor (``local`` or ``dask://HOST:PORT``), else a clear error."""
    if spec is None or spec == "local":
        return spec
    match = _DASK.fullmatch(spec)
    if match is None or not 0 < int(match.group("port")) < 65536:
        raise IBMInputValueError(
            f"executor {spec!r}: give 'local' (processes on this machine) or "
            "dask://HOST:PORT, the address of a Dask scheduler (e.g. dask://10.0.0.5:8786)")
    return spec


def scheduler_address(spec: str) -> str:
    """The Dask scheduler address of a ``dask://HOST:PORT`` spec (``tcp://HOST:PORT``)."""
    return "tcp://" + spec.removeprefix("dask://")


def describe(spec: str | None, processes: int) -> str:
    """A few words for reports: where the shards ran."""
    return f"{processes} processes" if spec in (None, "local") else f"Dask at {spec}"


@contextmanager
def pool(spec: str | None, processes: int, *, start: str = "spawn") -> Iterator[Executor]:
    """An executor for ``spec``, shut down (or disconnected) when the block ends.

    ``start``: how local processes start (``spawn``; ``fork`` where the parent runs no
    threads a child could inherit locked, for a faster start).
    """
    check_spec(spec)
    if spec is None or spec == "local":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context(start)
        with ProcessPoolExecutor(processes, mp_context=context) as local:
            yield local
        return
    try:
        from distributed import Client
    except ImportError as err:
        raise IBMInputValueError(
            f"executor {spec!r} needs Dask distributed: pip install 'qsession[dask]'") from err
    try:
        client = Client(scheduler_address(spec), timeout=30,  # type: ignore[no-untyped-call]
                        set_as_default=False)
    except OSError as err:
        raise IBMInputValueError(
            f"executor {spec!r}: no Dask scheduler answers at {scheduler_address(spec)} "
            f"({err}). Start one (dask scheduler; dask worker tcp://HOST:PORT) or check "
            "the address") from err
    try:
        with client.get_executor() as remote:  # type: ignore[no-untyped-call]
            yield remote
    finally:
        client.close()  # type: ignore[no-untyped-call]
