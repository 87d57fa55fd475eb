"""How long and how much a connection may take: uvicorn's settings, plus a read deadline it lacks.

uvicorn (0.29-0.55) bounds what it can: the request head's size (h11's incomplete-event
limit), open connections and tasks (``limit_concurrency``: a 503 beyond it) and idle
keep-alive connections (``timeout_keep_alive``). It has no deadline for *reading* a
request: a client that opens a connection and sends half a request line, or a header a
byte at a time, holds its connection (and a place under ``limit_concurrency``) forever —
hundreds of such half-open connections starve every other client. ``GuardedH11`` is
uvicorn's h11 protocol with that deadline: the head must arrive within ``HEAD_TIMEOUT_S``
of the connection opening (or of the previous response, on a kept-alive connection),
and the body within ``BODY_TIMEOUT_S`` of the head; else the connection is closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT_S = 10.0
"""A request line and headers (at most ``MAX_HEAD_BYTES``) take far less on any network."""
BODY_TIMEOUT_S = 120.0
"""IBM's largest job input (300 MB) arrives in a few seconds over loopback; a slow link
that needs longer is not one this server is for."""
KEEP_ALIVE_S = 5
"""uvicorn's default: an idle kept-alive connection is closed after 5 s."""
MAX_HEAD_BYTES = 32 * 1024
"""A request line and headers together (h11's incomplete-event limit; 16 KiB by default).
IBM's bearer tokens are about 1.5 KB, this server's 0.3 KB."""
MAX_CONNECTIONS = 256
"""Open connections and requests in progress; beyond it uvicorn answers 503 at once."""


@dataclass(frozen=True)
class Limits:
    """The connection limits of one server (the defaults above; tests shorten them)."""

    head_timeout_s: float = HEAD_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    keep_alive_s: int = KEEP_ALIVE_S
    max_head_bytes: int = MAX_HEAD_BYTES
    max_connections: int = MAX_CONNECTIONS

    def uvicorn_options(self) -> dict[str, Any]:
        """The keyword arguments of ``uvicorn.Config`` these limits set."""
        limits = self

        class Protocol(GuardedH11):
            head_timeout_s = limits.head_timeout_s
            body_timeout_s = limits.body_timeout_s

        return {"http": Protocol, "ws": "none", "timeout_keep_alive": self.keep_alive_s,
                "h11_max_incomplete_event_size": self.max_head_bytes,
                "limit_concurrency": self.max_connections}


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with deadlines for reading a request's head and body."""

    head_timeout_s = HEAD_TIMEOUT_S
    body_timeout_s = BODY_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._reading: Any = None  # the h11 state the timer waits to see left

    def _arm(self, state: Any, seconds: float) -> None:
        self._disarm()
        self._reading = state
        self._read_timer = self.loop.call_later(seconds, self._read_expired, state)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        self._reading = None

    def _read_expired(self, state: Any) -> None:
        self._read_timer = None
        if self.conn.their_state is state and not self.transport.is_closing():
            # Still waiting for the same part of the request: the client is too slow.
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the head's deadline as the connection opens."""
        super().connection_made(transport)
        self._arm(h11.IDLE, self.head_timeout_s)

    def handle_events(self) -> None:
        """After uvicorn's parsing: a head that arrived starts the body's deadline."""
        super().handle_events()
        state = self.conn.their_state
        if state is h11.SEND_BODY and self._reading is not h11.SEND_BODY:
            self._arm(h11.SEND_BODY, self.body_timeout_s)
        elif state is not h11.IDLE and state is not h11.SEND_BODY:
            self._disarm()  # the whole request is in (or the connection is ending)

    def on_response_complete(self) -> None:
        """A kept-alive connection: the next request's head has a deadline too."""
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm(h11.IDLE, self.head_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        """No deadline outlives its connection."""
        self._disarm()
        super().connection_lost(exc)
