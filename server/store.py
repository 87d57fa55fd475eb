"""What the platform keeps beside its runtime: the trace file, job inputs, served results.

With a state folder (``qsession serve --state DIR``) everything a client was told is on
disk before the answer leaves, so the platform survives SIGKILL and comes back by
replaying its trace (``runtime.recovery``). The folder holds:

``trace.jsonl``
    the trace, the platform's write-ahead log: every operation with its instant;
``platform.sqlite3``
    a ``meta`` table (format version, the platform's configuration, its id key), the
    ``inputs`` each job was submitted with (the request body as received, written
    *before* the job's ``create`` record), the ``results`` served (written before the
    first answer that carries them), the ``tenants`` that appeared after the start
    (with the CRN their clients send) and the instances' usage limits;
``clock``
    the clock's position when the last answer left (it moves without records when a
    client thinks, or when virtual time is advanced past every timer).

Fsync policy (``fsync``): ``"ack"`` (default) fsyncs whatever an answer reveals before it
leaves: SQLite commits with ``synchronous=FULL`` and the trace and clock files are
fsynced once per answer that follows new records (group commit: one fsync covers every
record written since the last), with ``fdatasync`` where the OS has it (the data and the
file's length reach the disk; its times, which nothing reads back, need not). ``"off"``
only writes (``write()`` to the OS before the answer): a killed server loses nothing, a
power cut or an OS crash may. Without a folder the store lives in memory and nothing
survives the process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Literal

from qsession.runtime import IBMInputValueError, Trace
from qsession.runtime.engine.trace import Record, TraceFormatError

Fsync = Literal["ack", "off"]
FSYNC_POLICIES: tuple[Fsync, ...] = ("ack", "off")
STATE_FORMAT = "qsession-state"
STATE_VERSION = 1
"""Bumped whenever a folder written before could not be resumed as it is."""
TRACE_FILE, DB_FILE, CLOCK_FILE = "trace.jsonl", "platform.sqlite3", "clock"
STATE_FILES = (TRACE_FILE, DB_FILE, CLOCK_FILE, DB_FILE + "-wal", DB_FILE + "-shm",
               DB_FILE + "-journal")


class StateError(IBMInputValueError):
    """A state folder cannot be used as asked (another version, other settings, damage)."""


@dataclass
class Resumed:
    """What a state folder held when it was opened: the trace so far and the clock's position."""

    trace: Trace
    clock_us: int
    config: dict[str, Any]


class Store:
    """Job inputs and served results, in memory (``directory`` None) or in a state folder."""

    def __init__(self, directory: Path | None = None, fsync: Fsync = "ack") -> None:
        if fsync not in FSYNC_POLICIES:
            raise IBMInputValueError(f"fsync must be one of {FSYNC_POLICIES}, not {fsync!r}")
        self.directory = directory
        self.fsync = fsync
        self._lock = threading.Lock()
        """Guards the database connection."""
        self._sync_lock = threading.Lock()
        """Serialises syncs (not the database: a submission never waits for an fsync)."""
        self._staged: bytes | None = None
        self._inputs: dict[str, bytes] = {}
        self._results: dict[str, str] = {}
        self._db: sqlite3.Connection | None = None
        self._trace_file: IO[str] | None = None
        self._clock_fd: int | None = None
        self._clock_written: int | None = None
        self._synced_records = 0
        self.trace: Trace | None = None

    # -- opening ---------------------------------------------------------------------

    def open(self, config: Mapping[str, Any], *, stored_wins: tuple[str, ...] = (),
             fresh: bool = False) -> Resumed | None:
        """Open the folder: a new platform (None), or the one it holds (its trace and clock).

        ``config`` is the platform's configuration; a folder made with another one is
        refused (``StateError``), as is one written by another state format version; the
        keys ``stored_wins`` names take the folder's values instead (the id key, a seed
        drawn at random). ``fresh``: empty the folder's state files first (``qsession run``).
        """
        directory = self.directory
        if directory is None:
            return None
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StateError(f"cannot create the state folder {str(directory)!r}: "
                             f"{err.strerror or err}") from None
        trace_path = directory / TRACE_FILE
        if fresh or ((directory / DB_FILE).exists() and not _has_header(trace_path)):
            # Asked to, or the platform was stopped before its trace had begun: nothing it
            # did was ever answered, so it starts anew.
            _remove_state_files(directory)
        db_path = directory / DB_FILE
        existed = db_path.exists()
        if not existed and (directory / TRACE_FILE).exists():
            raise StateError(
                f"{directory} holds a trace.jsonl but no {DB_FILE}: it is not a qsession "
                "state folder (or it lost its database). Use an empty or new folder for "
                "--state")
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if self.fsync == 'ack' else 'OFF'}")
            if not existed:
                os.chmod(db_path, 0o600)  # it holds job inputs and the token secret
                self._create(dict(config))
                return None
            return self._resume(dict(config), stored_wins)
        except sqlite3.DatabaseError as err:
            raise StateError(f"{db_path} cannot be read as a qsession state database "
                             f"({err}); use another --state folder") from None

    def _create(self, config: dict[str, Any]) -> None:
        assert self._db is not None
        with self._db:
            self._db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute("CREATE TABLE inputs (job TEXT PRIMARY KEY, body BLOB NOT NULL)")
            self._db.execute("CREATE TABLE results (job TEXT PRIMARY KEY, body TEXT NOT NULL)")
            self._db.execute("CREATE TABLE tenants (name TEXT PRIMARY KEY, spec TEXT NOT NULL)")
            self._db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("format", json.dumps(STATE_FORMAT)), ("version", json.dumps(STATE_VERSION)),
                ("qsession", json.dumps(_version())), ("config", json.dumps(config))])

    def _resume(self, config: dict[str, Any], stored_wins: tuple[str, ...]) -> Resumed:
        assert self._db is not None and self.directory is not None
        try:
            meta = {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}
        except sqlite3.OperationalError:
            meta = {}
        where = str(self.directory)
        if meta.get("format") != STATE_FORMAT:
            raise StateError(f"{where} is not a qsession state folder (its database has no "
                             f"{STATE_FORMAT!r} format mark); use an empty or new folder")
        if meta.get("version") != STATE_VERSION:
            raise StateError(
                f"{where} was written by qsession {meta.get('qsession', '?')} in state format "
                f"version {meta.get('version')!r}; this qsession ({_version()}) reads version "
                f"{STATE_VERSION} only. Resume it with the qsession that wrote it, or start "
                "this one on a new --state folder")
        stored = {**config, **(meta.get("config") or {})}
        wanted = {k: v for k, v in config.items() if k not in stored_wins}
        changed = [f"{key}: the folder has {stored.get(key)!r}, this server was given "
                   f"{value!r}" for key, value in wanted.items() if stored.get(key) != value]
        if changed:
            raise StateError(
                f"{where} holds a platform made with other settings ({'; '.join(changed)}). "
                "Start the server with the settings it was made with, or use a new --state "
                "folder")
        trace = _read_trace(self.directory / TRACE_FILE)
        clock_us = _read_clock(self.directory / CLOCK_FILE)
        return Resumed(trace, clock_us, stored)

    def attach(self, trace: Trace, *, start: int | None = None) -> None:
        """Stream ``trace`` to the folder's trace file: a new file with its header
        (``start`` None), or after the ``start`` records the file already holds."""
        self.trace = trace
        trace.before_write = self._before_write
        if self.directory is None:
            return
        path = self.directory / TRACE_FILE
        # Line-buffered: each record reaches the OS as it is emitted (a killed server
        # leaves every record it wrote), fsynced per the policy by ``sync``.
        self._trace_file = open(path, "w" if start is None else "a",  # noqa: SIM115
                                encoding="utf-8", buffering=1)
        if start is None:
            trace.stream_to(self._trace_file)
        else:
            trace.continue_to(self._trace_file, start)
        self._clock_fd = os.open(self.directory / CLOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        self._synced_records = 0
        self._clock_written = None

    # -- tenants ---------------------------------------------------------------------

    def put_tenant(self, name: str, spec: Mapping[str, Any]) -> None:
        """Keep a tenant that appeared after the start (before it is used: ``configure``
        records name it by ``name`` only, not by the CRN a client sends)."""
        if self._db is None:
            return
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO tenants VALUES (?, ?)",
                             (name, json.dumps(dict(spec))))

    def tenants(self) -> list[dict[str, Any]]:
        """The tenants kept by ``put_tenant``, in the order they came."""
        if self._db is None:
            return []
        with self._lock:
            rows = self._db.execute("SELECT spec FROM tenants ORDER BY rowid").fetchall()
        return [json.loads(row[0]) for row in rows]

    def put_instance_limit(self, name: str, limit: float | None) -> None:
        """Keep an instance's usage limit (``PUT /instances/configuration``)."""
        limits = {**self.instance_limits(), name: limit}
        if self._db is None:
            return
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('instance_limits', ?)",
                             (json.dumps(limits),))

    def instance_limits(self) -> dict[str, float | None]:
        """The usage limits kept by ``put_instance_limit``."""
        if self._db is None:
            return {}
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM meta WHERE key = 'instance_limits'").fetchone()
        return {} if row is None else dict(json.loads(row[0]))

    # -- inputs and results ----------------------------------------------------------

    def stage(self, body: bytes | None) -> None:
        """The next job ``create`` record stores ``body`` as that job's inputs (None: unstage)."""
        self._staged = body

    def _before_write(self, record: Record) -> None:
        if record.entity == "job" and record.event == "create" and self._staged is not None:
            body, self._staged = self._staged, None
            self._put("inputs", record.id, body)

    def inputs(self, job_id: str) -> bytes | None:
        """The request body the job was submitted with (None: not kept)."""
        row = self._get("inputs", job_id)
        return row if isinstance(row, bytes) or row is None else bytes(row, "utf-8")

    def put_result(self, job_id: str, text: str) -> None:
        """Keep the result text served for the job (on disk before it is served)."""
        self._put("results", job_id, text)

    def result(self, job_id: str) -> str | None:
        """The result text served for the job before (None: never served)."""
        row = self._get("results", job_id)
        return None if row is None else str(row)

    def _put(self, table: str, job_id: str, value: bytes | str) -> None:
        with self._lock:
            if self._db is None:
                (self._inputs if table == "inputs" else self._results)[job_id] = \
                    value  # type: ignore[assignment]
                return
            self._db.execute(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)", (job_id, value))

    def _get(self, table: str, job_id: str) -> bytes | str | None:
        with self._lock:
            if self._db is None:
                return (self._inputs if table == "inputs" else self._results).get(job_id)
            row = self._db.execute(f"SELECT body FROM {table} WHERE job = ?",
                                   (job_id,)).fetchone()
        return None if row is None else row[0]

    # -- durability ------------------------------------------------------------------

    def sync(self, clock_us: int) -> None:
        """Make what an answer is about to reveal durable (per the fsync policy)."""
        if self.directory is None or self._trace_file is None or self._clock_fd is None:
            return
        with self._sync_lock:
            moved = clock_us != self._clock_written
            if moved:
                os.pwrite(self._clock_fd, f"{clock_us:020d}\n".encode(), 0)
                self._clock_written = clock_us
            if self.fsync != "ack":
                return
            count = self.trace.count if self.trace is not None else 0
            if count > self._synced_records:
                _datasync(self._trace_file.fileno())
                self._synced_records = count
            if moved:
                _datasync(self._clock_fd)

    def close(self) -> None:
        """Flush and close the files (the folder can be resumed later)."""
        with self._sync_lock, self._lock:
            if self._trace_file is not None:
                self._trace_file.flush()
                if self.fsync == "ack":
                    os.fsync(self._trace_file.fileno())
                self._trace_file.close()
                self._trace_file = None
            if self._clock_fd is not None:
                os.close(self._clock_fd)
                self._clock_fd = None
            if self._db is not None:
                self._db.close()
                self._db = None
            if self.trace is not None:
                self.trace.before_write = None

    def clear(self) -> None:
        """Forget every input and result, and the folder's state files (a reset)."""
        self.close()
        self._inputs.clear()
        self._results.clear()
        if self.directory is not None:
            _remove_state_files(self.directory)


def _remove_state_files(directory: Path) -> None:
    for name in STATE_FILES:
        (directory / name).unlink(missing_ok=True)


def _has_header(path: Path) -> bool:
    """Whether the trace file holds at least its whole first line."""
    try:
        with open(path, "rb") as fh:
            return fh.readline().endswith(b"\n")
    except OSError:
        return False


def _read_trace(path: Path) -> Trace:
    """The folder's trace; a last line cut short by the kill is dropped (and cut from the file)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise StateError(f"{path} cannot be read ({err.strerror or err}): the state folder "
                         "is damaged") from None
    end = data.rfind(b"\n") + 1
    if end < len(data):  # the write of the last record was interrupted
        with open(path, "r+b") as fh:
            fh.truncate(end)
        data = data[:end]
    try:
        # Written by this program and compared record by record by the replay: each
        # record's fields are not checked again one by one (half the time of a restart).
        return Trace.loads(data.decode("utf-8"), str(path), checked=False)
    except (TraceFormatError, UnicodeDecodeError) as err:
        raise StateError(f"the state folder's trace cannot be read: {err}") from None


def _read_clock(path: Path) -> int:
    try:
        text = path.read_text().strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


def _version() -> str:
    try:
        return metadata.version("qsession")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        return "unknown"


Message = MutableMapping[str, Any]
ASGIApp = Callable[[Message, Callable[[], Awaitable[Message]],
                    Callable[[Message], Awaitable[None]]], Awaitable[None]]


def _datasync(fd: int) -> None:
    """Make a file's data and length durable (``fdatasync``; ``fsync`` where it is absent)."""
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


class Durable:
    """ASGI middleware: an answer starts only once what it reveals is durable.

    Whatever a route changed (a job's inputs and ``create`` record, a final state, a
    result) is synced by ``emulator.sync()`` before the answer's first byte is sent; the
    answer itself passes through unchanged (its messages are not buffered).
    """

    def __init__(self, app: ASGIApp, emulator: Any) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        # Without a state folder there is nothing to sync: no hop to a worker thread
        # (about 0.1 ms an answer).
        if scope["type"] != "http" or not self.emulator.durable:
            await self.app(scope, receive, send)
            return
        from starlette.concurrency import run_in_threadpool

        async def durable_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                await run_in_threadpool(self.emulator.sync)
            await send(message)

        await self.app(scope, receive, durable_send)
