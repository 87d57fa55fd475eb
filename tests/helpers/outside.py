"""A host "outside" the machine for the interception tests: a plain HTTP server on 127.0.0.2.

127.0.0.2 is loopback, yet not in a child's NO_PROXY (127.0.0.1, localhost, ::1), so a
program asks the proxy for it as for any host of the network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


@contextmanager
def outside_host(body: bytes) -> Iterator[str]:
    """Serve ``body`` to every GET on 127.0.0.2 (a free port) while open; yields its URL."""

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.2", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.2:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
