"""Who may talk to the server, and how much: checked before any route runs.

* **Host.** Every request must name the server by a name it answers to: a loopback name
  (``127.0.0.1``, ``localhost``, ``[::1]``) or the address the connection came in on, with
  the server's port, or one of the extra names it was given (IBM's hosts, when the run's
  interception proxy forwards to it). A web page that points its own host name at
  127.0.0.1 (DNS rebinding) sends its own name, and is refused.
* **Origin.** A request that could change state (not GET, HEAD or OPTIONS) sent by a
  browser page of another site carries that site's ``Origin``: refused.
* **JSON only.** The state-changing control routes (``/qsession/v1/…``) take
  ``Content-Type: application/json`` only: a form or ``text/plain`` body is what a page of
  another site can send without asking the browser first (a CORS "simple request").
* **Control token.** When the server has one, the control routes and the live page need
  it: ``Authorization: Bearer TOKEN``, or, for a browser, ``/?token=TOKEN`` once (which
  sets a cookie for this server's port, so the page's own polls carry it).
* **Body size.** ``POST /jobs`` may carry IBM's largest job input (300 MB); every other
  request 1 MB. A declared ``Content-Length`` over the limit is refused before the body
  is read; a chunked body is counted as it arrives.

Refusals are IBM's error body (``wire.error_body``), or a short HTML page for a browser
at the live page. This is a pure ASGI middleware: it wraps the app once, reads only the
request head, and costs a few dictionary lookups per request.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import wire

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
CONTROL_PREFIX = "/qsession/v1/"
PAGE_PATHS = ("/", "/page/")
PAGE_OPEN = ("/page/static/",)
"""The page's stylesheet and script hold no data: served without the token."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_JOB_BODY = 300_000_000
"""IBM: job inputs may be up to 300 MB (Qiskit/documentation#5369, raised from 50 MB)."""
MAX_BODY = 1_000_000
"""Every other request: sessions, tags, IAM forms and control bodies are a few hundred bytes."""


class BodyTooLarge(Exception):
    """A request body grew past its limit while it was read (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than this route's limit of {limit:,} "
                         "bytes" + (" (IBM's largest job input)" if limit == MAX_JOB_BODY
                                    else ""))
        self.limit = limit


@dataclass
class Access:
    """The server's access settings: extra host names and the optional control token."""

    control_token: str | None = None
    """Guards the control routes and the live page when set (compared in constant time)."""
    host_names: set[str] = field(default_factory=set)
    """Names answered besides loopback and the connection's own address (lower case)."""

    def allow_hosts(self, names: Iterable[str]) -> None:
        """Also answer requests that name one of ``names`` (any port)."""
        self.host_names.update(n.lower().rstrip(".") for n in names)

    def token_ok(self, presented: str | None) -> bool:
        """True when no token is set, or ``presented`` is it."""
        if self.control_token is None:
            return True
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.control_token.encode())

    def cookie_name(self, port: int) -> str:
        """The page's cookie for this server (cookies are per host, not per port)."""
        return f"qsession-control-{port}"


def split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` or ``[v6]:port`` → (lower-case name, port or None); None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        name, sep, port_text_ = value.partition(":")
        port_text = port_text_ if sep else None
    if not name or (port_text is not None and not (port_text.isdigit() and len(port_text) <= 5)):
        return None
    return name.rstrip("."), int(port_text) if port_text is not None else None


def _same_address(name: str, local: str | None) -> bool:
    if local is None:
        return False
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(local)
    except ValueError:
        return False


class Guard:
    """The ASGI middleware enforcing ``Access`` in front of ``app``."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    def _answers(self, host: tuple[str, int | None], scope: Scope) -> bool:
        name, port = host
        if name in self.access.host_names:
            return True
        local_host, local_port = (scope.get("server") or (None, None))
        if name not in LOOPBACK_NAMES and not _same_address(name, local_host):
            return False
        # A loopback name or this connection's own address: with this server's port.
        return port == local_port or (port is None and local_port == 80)

    def names(self, scope: Scope) -> str:
        """The names this server answers to, for a refusal's message."""
        port = (scope.get("server") or (None, None))[1]
        shown = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
        return ", ".join(shown + sorted(self.access.host_names))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        host_value = headers.get("host")
        host = split_host(host_value) if host_value is not None else None
        if host is None or not self._answers(host, scope):
            await _refuse(send, 400, f"this server answers to {self.names(scope)}, not "
                          f"Host {host_value!r:.80}: a page of another site may have pointed "
                          "its own name at this address", wire.CODE_VALIDATION)
            return
        origin = headers.get("origin")
        if method not in SAFE_METHODS and origin is not None and not self._same_origin(
                origin, scope):
            await _refuse(send, 403, f"a page of another site (Origin {origin!r:.80}) may not "
                          "change this server's state; send the request from a program, or "
                          "from this server's own page", wire.CODE_NOT_AUTHORIZED)
            return
        control = path.startswith(CONTROL_PREFIX)
        if control and method not in SAFE_METHODS:
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                await _refuse(send, 415, f"the control routes take Content-Type: "
                              f"application/json, not {kind or 'none'!r:.60}; send a JSON body "
                              "(an empty one is {})", 415)
                return
        page = path == "/" or (path.startswith("/page/") and not path.startswith(PAGE_OPEN))
        if (control or page) and self.access.control_token is not None:
            if page and await self._page_login(scope, send):
                return
            if not self.access.token_ok(self._presented(headers, scope)):
                if page:
                    await _login_page(send)
                else:
                    await _refuse(send, 401, "Invalid credentials: this server's control "
                                  "routes need its control token: send 'Authorization: Bearer "
                                  "TOKEN' (QSESSION_CONTROL_TOKEN in the lines `qsession serve` "
                                  "prints)", wire.CODE_INVALID_CREDENTIALS)
                return
        limit = MAX_JOB_BODY if (method == "POST" and path.endswith("/jobs")) else MAX_BODY
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, str(BodyTooLarge(limit)), 413)
            return
        await self.app(scope, _counting(receive, limit), send)

    def _same_origin(self, origin: str, scope: Scope) -> bool:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (a sandboxed frame, a file) and anything odd
        host = split_host(parts.netloc)
        if host is None:
            return False
        name, port = host
        if port is None:
            port = 443 if parts.scheme == "https" else 80
        return self._answers((name, port), scope)

    def _presented(self, headers: dict[str, str], scope: Scope) -> str | None:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value:
            return value.strip()
        port = (scope.get("server") or (None, 0))[1]
        return _cookies(headers.get("cookie", "")).get(self.access.cookie_name(int(port or 0)))

    async def _page_login(self, scope: Scope, send: Send) -> bool:
        """``?token=…`` on a page address: set the cookie and show the address without it."""
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if not given or scope["method"] != "GET":
            return False
        if not self.access.token_ok(given[-1]):
            await _login_page(send, wrong=True)
            return True
        port = int((scope.get("server") or (None, 0))[1] or 0)
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        location = scope["path"] + (f"?{rest}" if rest else "")
        cookie = (f"{self.access.cookie_name(port)}={given[-1]}; Path=/; HttpOnly; "
                  "SameSite=Strict")
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode()),
            (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return True


def _cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


async def _refuse(send: Send, status: int, message: str, code: int) -> None:
    body = json.dumps(wire.error_body(message, status=status, code=code)).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


LOGIN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>qsession: control token needed</title></head>
<body><h1>This page needs the server's control token</h1>
<p>The live page shows every instance's sessions and jobs, so this server shows it only to
whoever holds the control token it was started with.{wrong} Open the address
<code>qsession serve</code> or <code>qsession run</code> printed (it ends in
<code>/?token=…</code>), or add <code>?token=TOKEN</code> to this address.</p></body></html>
"""


async def _login_page(send: Send, wrong: bool = False) -> None:
    text = LOGIN_HTML.format(wrong=" That token is not it." if wrong else "")
    body = text.encode()
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
