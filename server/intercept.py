"""The loopback forward proxy of ``qsession run``: IBM's hosts answered locally, all others refused.

A child process names the proxy in ``HTTPS_PROXY``/``HTTP_PROXY``. For an HTTPS request the
client sends ``CONNECT host:443``; when the host is one of IBM Cloud's (``cloud.ibm.com``
and every name under it: ``quantum.``, ``eu-de.quantum.``, ``iam.``,
``api.global-search-tagging.``, ``globalcatalog.``, ``resource-controller.``, ...), the
proxy answers ``200``, terminates TLS with a certificate for that host signed by a CA made
for the run (``RunCA``), and pipes the decrypted bytes to the local server over loopback,
which routes them by their ``Host`` header (``server/hosts.py``). Every other host is
refused with a ``403`` whose reason names the host and ``--allow-host``; an allowed host
is tunnelled to the real one untouched. Every attempt is recorded (``Proxy.attempts``), so
a run can say what it answered, what it refused and what it let out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .launch import Server

IBM_DOMAIN = "cloud.ibm.com"
"""Every host name ending in this domain is IBM Cloud's and is answered by the local server."""

_HEAD_LIMIT = 64 * 1024
_CA_NAME = "qsession run CA (local, made for one run)"


def is_ibm_host(host: str) -> bool:
    """True for IBM Cloud's host names (``cloud.ibm.com`` and every name under it)."""
    host = host.lower().rstrip(".")
    return host == IBM_DOMAIN or host.endswith("." + IBM_DOMAIN)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (never refused: they stay on the machine)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(host: str) -> str:
    """What a refused request is told (also the reason phrase the client shows)."""
    name = host.lower().rstrip(".")
    if name == "quantum.ibm.com" or name.endswith(".quantum.ibm.com"):
        # auth.quantum.ibm.com: the old "ibm_quantum" channel's platform, which IBM retired.
        return (f"qsession refused {host}: it served IBM Quantum Platform Classic (channel "
                f"'ibm_quantum'), which IBM has retired; use channel='ibm_quantum_platform', "
                f"whose hosts qsession run answers")
    return (f"qsession refused {host}: not one of IBM's hosts; nothing leaves the machine "
            f"under qsession run (allow it with --allow-host {host})")


class RunCA:
    """A certificate authority made for one run, and the host certificates it signs.

    The CA's key lives only in memory; host keys and certificates are written to
    ``folder`` (``ssl`` loads them from files) and go with it when the run ends.
    """

    def __init__(self, folder: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.folder = folder
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _CA_NAME),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qsession")])
        now = dt.datetime.now(dt.UTC)
        public = self._key.public_key()
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.cert_path = folder / "qsession-ca.pem"
        self.cert_path.write_bytes(self.pem)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def write_bundle(self, roots: Path | None = None) -> Path:
        """A CA bundle: the normal roots (``roots``, else certifi's) followed by this CA."""
        if roots is None:
            import certifi

            roots = Path(certifi.where())
        bundle = self.folder / "ca-bundle.pem"
        normal = roots.read_bytes()
        bundle.write_bytes(normal.rstrip(b"\n") + b"\n" + self.pem)
        return bundle

    def context_for(self, host: str) -> ssl.SSLContext:
        """A server-side TLS context presenting a certificate for ``host`` (made once)."""
        with self._lock:
            context = self._contexts.get(host)
            if context is None:
                context = self._contexts[host] = self._make_context(host)
            return context

    def _make_context(self, host: str) -> ssl.SSLContext:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=29))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_ski), critical=False)
            .sign(self._key, hashes.SHA256()))
        stem = self.folder / f"host-{len(self._contexts)}"
        cert_file, key_file = stem.with_suffix(".pem"), stem.with_suffix(".key")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.pem)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context


@dataclass(frozen=True)
class Attempt:
    """One request the child made through the proxy, and what became of it."""

    host: str
    port: int
    scheme: str
    """``https`` (a ``CONNECT`` tunnel) or ``http`` (a plain request)."""
    verdict: str
    """``answered`` (IBM's host, by the local server), ``allowed`` (tunnelled out) or
    ``refused``."""


class Proxy:
    """The forward proxy on a loopback port, served by an asyncio loop on a daemon thread."""

    def __init__(self, upstream: tuple[str, int], ca: RunCA, *,
                 allow: Iterable[str] = (), host: str = "127.0.0.1",
                 on_answer: Callable[[str], None] | None = None) -> None:
        self.upstream = upstream
        self.on_answer = on_answer
        """Told each IBM host name before its requests are handed to the server."""
        self.ca = ca
        self.allow = frozenset(h.lower().rstrip(".") for h in allow)
        self.host = host
        self.port = 0
        self.attempts: list[Attempt] = []
        self.untrusted: list[str] = []
        """IBM hosts whose TLS handshake the child broke off: it does not trust the run's
        CA (it pins certificates, or ignores ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``)."""
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def serving(cls, server: Server, ca: RunCA, *, allow: Iterable[str] = ()) -> Proxy:
        """A proxy handing IBM's hosts to ``server``, which then answers to each such name
        (its ``Host`` check, ``server/guard.py``)."""
        return cls((server.host, server.port), ca, allow=allow,
                   on_answer=lambda name: server.access.allow_hosts([name]))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: what ``HTTPS_PROXY`` and ``HTTP_PROXY`` name."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Proxy:
        """Listen and serve on a daemon thread; return once the port accepts connections."""
        self._thread = threading.Thread(target=self._run, name="qsession-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None or self._server is None:
            raise RuntimeError(f"the qsession proxy did not start: {self._error}")
        return self

    def stop(self) -> None:
        """Stop listening, end every open tunnel and the loop."""
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._shutdown)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def verdict(self, host: str) -> str:
        """``answered``, ``allowed`` or ``refused`` for a request naming ``host``."""
        name = host.lower().rstrip(".")
        if is_ibm_host(name):
            return "answered"
        if name in self.allow:
            return "allowed"
        return "refused"

    def _answering(self, host: str) -> None:
        if self.on_answer is not None:
            self.on_answer(host.lower().rstrip("."))

    # -- the loop ------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, 0))
            self.port = int(self._server.sockets[0].getsockname()[1])
        except BaseException as err:  # reported by start()
            self._error = err
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        self._loop.create_task(self._finish())

    async def _finish(self) -> None:
        # Connections of a child that has exited end at once; give them a moment to finish
        # (a broken-off handshake is recorded then), then end whatever is left.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=0.5)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0.05)
        self._loop.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ssl.SSLError, TimeoutError, asyncio.CancelledError):
            pass  # the child hung up or sent garbage: only its own connection ends
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _HEAD_LIMIT:
            await _answer(writer, 431, "Request Header Fields Too Large", "")
            return
        line, _, rest = head.partition(b"\r\n")
        parts = line.decode("latin-1").split()
        if len(parts) != 3:
            await _answer(writer, 400, "Bad Request", "a proxy request line is "
                          "'METHOD TARGET HTTP/1.1'")
            return
        method, target, version = parts
        if method.upper() == "CONNECT":
            await self._connect(target, reader, writer)
        else:
            await self._plain(method, target, version, rest, reader, writer)

    async def _admit(self, host: str, port: int, scheme: str,
                     writer: asyncio.StreamWriter) -> str:
        """The verdict on ``host`` (recorded as an attempt); a refused one is answered 403."""
        verdict = self.verdict(host)
        self.attempts.append(Attempt(host, port, scheme, verdict))
        if verdict == "refused":
            await _answer(writer, 403, refusal(host), refusal(host) + "\n")
        return verdict

    async def _connect(self, target: str, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        host, port = _split_host_port(target, 443)
        verdict = await self._admit(host, port, "https", writer)
        if verdict == "refused":
            return
        if verdict == "allowed":
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port)
            except OSError as err:
                await _answer(writer, 502, "Bad Gateway", f"qsession could not reach {host}:"
                              f"{port} for --allow-host: {err}\n")
                return
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await _pipe_both(reader, writer, up_reader, up_writer)
            return
        self._answering(host)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            await writer.start_tls(self.ca.context_for(host.lower().rstrip(".")))
        except (ssl.SSLError, ConnectionError):
            self.untrusted.append(host)
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        await _pipe_both(reader, writer, up_reader, up_writer)

    async def _plain(self, method: str, target: str, version: str, rest: bytes,
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        scheme, _, after = target.partition("://")
        if scheme.lower() != "http" or not after:
            await _answer(writer, 400, "Bad Request", "a forward proxy takes absolute "
                          "http:// targets, or CONNECT for https")
            return
        authority, slash, path = after.partition("/")
        host, port = _split_host_port(authority, 80)
        verdict = await self._admit(host, port, "http", writer)
        if verdict == "refused":
            return
        if verdict == "answered":
            self._answering(host)
        upstream = self.upstream if verdict == "answered" else (host, port)
        try:
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError as err:
            await _answer(writer, 502, "Bad Gateway", f"qsession could not reach {host}:{port}:"
                          f" {err}\n")
            return
        # One request per connection (Connection: close), so a second request on it
        # cannot name another host without passing through this check again.
        headers = [h for h in rest.split(b"\r\n") if h and not h.lower().startswith(
            (b"connection:", b"proxy-connection:", b"keep-alive:"))]
        request = (f"{method} {slash}{path} {version}\r\n".encode("latin-1")
                   + b"".join(h + b"\r\n" for h in headers) + b"Connection: close\r\n\r\n")
        up_writer.write(request)
        await up_writer.drain()
        await _pipe_both(reader, writer, up_reader, up_writer)


def _split_host_port(authority: str, default: int) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port = tail.removeprefix(":")
    else:
        host, _, port = authority.rpartition(":") if authority.count(":") == 1 else (
            authority, "", "")
    try:
        return host, int(port) if port else default
    except ValueError:
        return host, default


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str, body: str) -> None:
    data = body.encode()
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                 + data)
    await writer.drain()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, ssl.SSLError):
        pass


async def _pipe_both(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
    """Copy both ways until the upstream side closes, then close both (the caller closes
    ``writer``). The child's end closing does not half-close the upstream: a server that
    sees EOF may drop a response still being written."""
    outbound = asyncio.ensure_future(_pipe(reader, up_writer))
    try:
        await _pipe(up_reader, writer)
    finally:
        outbound.cancel()
        up_writer.close()


def run_folder() -> Path:
    """A private folder for one run's CA, certificates and account file (mode 0700)."""
    return Path(tempfile.mkdtemp(prefix="qsession-run-"))
