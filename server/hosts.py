"""IBM Cloud's host names, as the intercepting proxy delivers them, routed to this app's paths.

The proxy hands over requests unchanged, ``Host`` header and all. The runtime API and IAM
keep their paths on IBM's hosts (``quantum.cloud.ibm.com/api/v1/...``,
``iam.cloud.ibm.com/identity/token``); Global Search and Global Catalog are served here
under a prefix (``/global-search``, ``/global-catalog``), because IBM's catalog path
``/api/v1/{id}`` would otherwise meet the runtime API's ``/api/v1``. The middleware also
counts requests by host, so a run can tell whether its program reached the platform.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .platform import CATALOG_PREFIX, SEARCH_PREFIX

RESOURCE_CONTROLLER_PREFIX = "/resource-controller"

# host prefix (before ".cloud.ibm.com" or any other parent) -> the path prefix served here
_PREFIXES = {
    "api.global-search-tagging.": SEARCH_PREFIX,
    "globalcatalog.": CATALOG_PREFIX.removesuffix("/api/v1"),
    "resource-controller.": RESOURCE_CONTROLLER_PREFIX,
}

IBM_DOMAIN = "cloud.ibm.com"


def host_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The ``Host`` header's name, without port, lowercased ('' when absent)."""
    for key, value in headers:
        if key == b"host":
            name = value.decode("latin-1").strip().lower()
            if name.startswith("["):
                return name.partition("]")[0] + "]"
            return name.rpartition(":")[0] if name.count(":") == 1 else name
    return ""


def prefix_for(host: str) -> str:
    """The path prefix under which this app serves IBM host ``host`` ('' for none)."""
    if host == IBM_DOMAIN or host.endswith("." + IBM_DOMAIN):
        for start, prefix in _PREFIXES.items():
            if host.startswith(start):
                return prefix
    return ""


class HostRouter:
    """ASGI middleware: prefix the path of requests for IBM's Search/Catalog hosts; count."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: Counter[str] = Counter()
        """Requests seen, by ``Host`` name (IBM's names when intercepted, else loopback)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = host_of(scope.get("headers", []))
            if not scope["path"].startswith(("/qsession/", "/page/")) and scope["path"] != "/":
                self.requests[host or "?"] += 1
            prefix = prefix_for(host)
            if prefix and not scope["path"].startswith(prefix + "/"):
                scope = {**scope, "path": prefix + scope["path"],
                         "raw_path": prefix.encode() + scope.get("raw_path", b"")}
        await self.app(scope, receive, send)
