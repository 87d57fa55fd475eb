"""The fault check for servers in other processes (``qsession run``/``serve``).

In-process servers are checked by the autouse ``server_faults`` fixture; a server in a
subprocess is checked from what it printed: its summary's ``N server fault(s)`` (printed
when it stops) must say 0, and no ``server fault on`` line (logged at each 500, also by a
server that is killed before its summary) may appear.
"""

from __future__ import annotations

import re

LOGGED = "server fault on"
COUNTED = re.compile(r"qsession: .*?(\d+) server fault\(s\)")


def assert_no_server_faults(stderr: str, *, summary: bool = True) -> None:
    """The server whose standard error is ``stderr`` answered no request with a 500.

    ``summary``: the process stopped normally, so its summary line must be there (a run
    refused before it started, or a killed server, prints none).
    """
    assert LOGGED not in stderr, stderr[stderr.index(LOGGED) - 200:][:3000]
    counts = COUNTED.findall(stderr)
    assert not summary or counts, f"no 'server fault(s)' summary line in:\n{stderr[-2000:]}"
    assert all(n == "0" for n in counts), stderr[-2000:]
