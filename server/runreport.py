"""The lines a ``qsession run`` summary adds about the run's traffic and the program's errors.

What was answered for IBM's hosts, what was refused or let out, the backends served; when
the program made no request to the platform, the likely reason and what to do; when it
asked for a backend the run does not serve, the ``--backends`` fix. The client names a
missing backend only in its own error (it picks backends from the list it fetched), so the
child's standard error passes through ``StderrWatch``, which keeps the lines that explain
such an error while copying everything on unchanged.
"""

from __future__ import annotations

import io
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import IO

from .intercept import Attempt

_BACKEND_CALL = re.compile(
    r"""\b(?:backend|backends|get_backend)\(\s*(?:name\s*=\s*)?["']([A-Za-z0-9_.\-]+)["']""")
_NOT_FOUND = ("QiskitBackendNotFoundError", "No backend matches the criteria",
              "Backend not found")


class StderrWatch:
    """Copies a child's standard error on, line by line, keeping what explains its errors."""

    def __init__(self, source: IO[bytes], sink: IO[bytes] | IO[str]) -> None:
        self._source = source
        self._sink = sink
        self.backend_not_found = False
        self.backends_asked: list[str] = []
        self._thread = threading.Thread(target=self._copy, name="qsession-stderr",
                                        daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        text = isinstance(self._sink, io.TextIOBase)
        for raw in iter(self._source.readline, b""):
            line = raw.decode("utf-8", "replace")
            self._sink.write(line if text else raw)  # type: ignore[arg-type]
            self._sink.flush()
            if any(marker in line for marker in _NOT_FOUND):
                self.backend_not_found = True
            self.backends_asked += _BACKEND_CALL.findall(line)

    def join(self) -> None:
        """Wait until the child's standard error is closed and copied."""
        self._thread.join(timeout=30)


def traffic_lines(attempts: Sequence[Attempt], requests: Mapping[str, int],
                  untrusted: Sequence[str] = ()) -> list[str]:
    """What the proxy answered, refused and let out; how many requests the server served;
    the hosts whose TLS handshake the program broke off."""
    lines = []
    served = {h: n for h, n in requests.items() if n}
    if served:
        by_host = ", ".join(f"{host} {n}" for host, n in
                            sorted(served.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"qsession: answered {sum(served.values())} request(s) locally "
                     f"({by_host})")
    refused = Counter(f"{a.host}:{a.port}" for a in attempts if a.verdict == "refused")
    if refused:
        hosts = ", ".join(sorted(refused))
        names = sorted({a.host for a in attempts if a.verdict == "refused"})
        fix = " ".join(f"--allow-host {h}" for h in names)
        lines.append(f"qsession: refused {sum(refused.values())} connection(s) to hosts that "
                     f"are not IBM's ({hosts}); nothing left the machine. To let them out: "
                     f"{fix}")
    allowed = sorted({f"{a.host}:{a.port}" for a in attempts if a.verdict == "allowed"})
    if allowed:
        lines.append(f"qsession: let out, as --allow-host asked: {', '.join(allowed)}")
    if untrusted:
        lines.append(f"qsession: the program did not trust the run's certificate for "
                     f"{', '.join(sorted(set(untrusted)))}, so those requests were not "
                     "answered: it pins certificates or ignores REQUESTS_CA_BUNDLE and "
                     "SSL_CERT_FILE; let it trust the run's CA certificate, the file named in "
                     "NODE_EXTRA_CA_CERTS (qsession docs server \"Other HTTP clients\" "
                     "shows how for curl, Node.js and Java)")
    return lines


def nothing_emulated(attempts: Sequence[Attempt], requests: Mapping[str, int]) -> list[str]:
    """Why a program that made no request to the platform may have done so, and the fix."""
    if any(requests.values()):
        return []
    lines = ["qsession: the program made no request to the emulated platform, so nothing "
             "was emulated. Likely reasons:",
             "qsession:   - it ran in the client's local testing mode: a fake backend "
             "(qiskit_ibm_runtime.fake_provider, e.g. FakeManilaV2) or an AerSimulator "
             "given to Session, Batch or a primitive runs in-process and bypasses any "
             "platform; use a backend from QiskitRuntimeService() instead, e.g. "
             "service.backend(\"ibm_brisbane\") or service.least_busy()",
             "qsession:   - it sent its requests somewhere the proxy does not see: a url= "
             "naming a host that is not IBM's, or an HTTP client that ignores HTTPS_PROXY; "
             "use IBM's default URL (no url=) so the client's requests reach the emulator"]
    if any(a.verdict == "refused" for a in attempts):
        lines.append("qsession:   (the hosts it asked for are listed above as refused)")
    return lines


def backend_hint(watch: StderrWatch | None, served: Iterable[str],
                 bundled: Iterable[str]) -> list[str]:
    """The ``--backends`` fix when the program asked for a backend this run does not serve."""
    if watch is None or not watch.backend_not_found:
        return []
    served = list(served)
    missing = [b for b in dict.fromkeys(watch.backends_asked) if b not in served]
    known = set(bundled)
    if not missing:
        return [f"qsession: the program asked for a backend this run does not serve (IBM's "
                f"\"No backend matches the criteria\"); this run serves {', '.join(served)}. "
                f"Serve the one it asks for with --backends NAME,... (IBM names of the "
                f"client's bundled fake backends, e.g. ibm_kyiv, ibm_torino)"]
    lines = []
    for name in missing:
        if name in known:
            lines.append(f"qsession: the program asked for backend {name!r}, which this run "
                         f"does not serve (it serves {', '.join(served)}); run with "
                         f"--backends {','.join([name, *served])}")
        else:
            lines.append(f"qsession: the program asked for backend {name!r}; no bundled fake "
                         f"backend has that name, so qsession cannot serve it. This run "
                         f"serves {', '.join(served)}; --backends takes IBM names such as "
                         f"ibm_brisbane, ibm_kyiv, ibm_torino")
    return lines


def bundled_backends() -> list[str]:
    """IBM names of the client's bundled fake backends (``FakeKyiv`` → ``ibm_kyiv``), as the
    runtime's ``QPU.from_fake_backend`` finds them (one lookup for what a run can serve)."""
    from qsession.runtime import QPU

    return QPU.fake_backend_names()
