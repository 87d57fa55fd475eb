"""Test instrument (not part of qsession): every Python process started with this folder on
PYTHONPATH appends each socket connect and name lookup it makes to $QSESSION_AUDIT_LOG.

CPython raises the ``socket.connect`` audit event for every connect()/connect_ex() and
``socket.getaddrinfo`` for every name lookup, whichever library makes them (requests,
urllib3, http.client, asyncio), so the log lists every connection attempt the process made.
"""

import os
import sys

_LOG = os.environ.get("QSESSION_AUDIT_LOG")


def _hook(event: str, args: tuple) -> None:
    if event == "socket.connect":
        address = args[1]
    elif event == "socket.getaddrinfo":
        address = (args[0], args[1])
    else:
        return
    with open(_LOG, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\t{event}\t{address!r}\n")


if _LOG:
    sys.addaudithook(_hook)
