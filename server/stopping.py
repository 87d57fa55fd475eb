"""Starting and stopping as a shell user expects: a port, an output folder, the signals.

* ``listening_socket``: the server's socket, bound and listening, or one ``StartError``
  line naming the port (or host) and the fix — never a traceback.
* ``claim_outputs``: a run's or a server's output folder, refused (``StartError``) when it
  holds an earlier run's outputs unless ``force``: nothing is overwritten silently, and
  the check comes before anything starts, so a mistyped command leaves them alone.
* ``interrupts`` and ``wait_for``: SIGTERM (what ``timeout``, CI cancellation and ``kill``
  send) handled as SIGINT; a program under ``qsession run`` is signalled first and waited
  for, so the summary and the outputs are written after it stopped.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

OUTPUTS = ("trace.jsonl", "trace.perfetto.json", "timeline.png", "timeline.svg")
"""What a run or a server writes in its output folder."""
GRACE_S = 2.0
"""After a SIGINT, how long the program has to stop by itself before it is sent one:
a terminal's Ctrl-C reaches the whole foreground group, the program included."""
STOP_S = 10.0
"""How long a signalled program has to stop before it is killed."""


class StartError(Exception):
    """Why the server or the run cannot start, in one line that names the fix."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (port 0: a free one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise StartError(f"--host {host}: not an address or name this machine can bind; "
                         "leave --host out for 127.0.0.1") from None
    family = infos[0][0]
    # proto IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (it checks
    # the proto): without it every response waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise StartError(f"port {port} on {host} is in use; choose another with --port, "
                             "or leave --port out for a free one") from None
        if err.errno == errno.EACCES:
            raise StartError(f"port {port} on {host} needs privileges this user lacks; choose "
                             "a port above 1023, or leave --port out for a free one") from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise StartError(f"--host {host}: this machine has no such address; leave "
                             "--host out for 127.0.0.1") from None
        raise StartError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    # Listening now, so a client that read the printed URL queues until uvicorn accepts.
    sock.listen(2048)
    return sock


def claim_outputs(out_dir: Path, *, force: bool, also: Sequence[Path] = ()) -> None:
    """Make ``out_dir`` ready for new outputs, or refuse if it holds an earlier run's
    (``also``: other files this run will write, such as ``serve --trace``)."""
    earlier = [name for name in OUTPUTS if (out_dir / name).exists()]
    others = [str(path) for path in also if path.exists()]
    if (earlier or others) and not force:
        shown = ", ".join(earlier + others)
        where = (f"{out_dir} holds the outputs of an earlier run ({shown})" if earlier
                 else f"{shown} already exists")
        raise StartError(f"{where}; add --force to replace them, or choose another folder "
                         "with -o")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StartError(f"cannot create the folder {str(out_dir)!r}: {err.strerror}") from None


@contextlib.contextmanager
def interrupts() -> Iterator[list[int]]:
    """SIGTERM handled as SIGINT (a ``KeyboardInterrupt``) while the block runs; yields the
    signals received, in order, so a caller can pass the same one on. On threads other than
    the main one (signals cannot be handled there) it changes nothing."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_for(child: subprocess.Popen[bytes], received: list[int]) -> int:
    """The program's exit status (128 + N if signal N ended it). A SIGINT or SIGTERM that
    reaches qsession meanwhile is passed on to the program, which is then waited for:
    SIGTERM at once; SIGINT after ``GRACE_S`` if the program has not stopped by itself (a
    terminal sends it to both). A program still running ``STOP_S`` later, or after a
    second interrupt, is killed."""
    try:
        return _status(child.wait())
    except KeyboardInterrupt:
        pass
    signum = received[-1] if received else signal.SIGINT
    try:
        if signum == signal.SIGINT:
            with contextlib.suppress(subprocess.TimeoutExpired):
                return _status(child.wait(timeout=GRACE_S))
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)
        return _status(child.wait(timeout=STOP_S))
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        child.kill()
        return _status(child.wait())


def _status(code: int) -> int:
    return 128 - code if code < 0 else code
