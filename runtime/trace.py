"""The event trace: every state change, queue decision and timer, as typed records.

A trace is what the invariants (``qsession.properties``), the timeline picture and the
metrics read, so it is complete and its format is stable. On disk it is JSON lines: a
header line (``{"format": "qsession-trace", "version": 1, ...}``) and one object per
record, with time ``t`` in seconds since the header's ``epoch`` (six decimals, exact for
the microsecond clock). ``Trace.read`` accepts exactly what ``Trace.write`` produces, and
hand-written files in the same format (see docs/trace-format.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from .clock import DEFAULT_EPOCH, US_PER_S

FORMAT = "qsession-trace"
VERSION = 1

Entity = Literal["session", "job", "qpu"]
ENTITIES: tuple[Entity, ...] = ("session", "job", "qpu")
JSONScalar = str | int | float | bool | None

# Record kinds by entity (``event`` field). Model events keep the model's names.
SESSION_EVENTS = ("create", "submit", "job_started", "job_ended", "ittl_elapsed", "close",
                  "cancel", "max_time_reached")
JOB_EVENTS = ("create", "start", "finish", "fail", "expire", "cancel")
QPU_EVENTS = ("configure", "dispatch", "hold", "release", "timer_set", "timer_cancel", "timer_fire")


class TraceFormatError(ValueError):
    """A file or object is not a qsession trace; the message says which line and why."""


@dataclass(frozen=True, slots=True)
class Record:
    """One thing that happened at virtual instant ``t`` (µs) on QPU ``qpu``.

    ``entity``/``id``/``event`` say what happened to what; ``source``/``dest`` are the
    model states before and after (for session and job events); ``session`` and
    ``instance`` place a job; ``data`` holds the rest (reasons, timers, durations).
    """

    seq: int
    t: int
    qpu: str
    entity: Entity
    id: str
    event: str
    source: str | None = None
    dest: str | None = None
    session: str | None = None
    instance: str | None = None
    data: Mapping[str, JSONScalar] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (time in seconds)."""
        out: dict[str, Any] = {"seq": self.seq, "t": round(self.t / US_PER_S, 6),
                               "qpu": self.qpu, "entity": self.entity, "id": self.id,
                               "event": self.event}
        for key in ("source", "dest", "session", "instance"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.data:
            out["data"] = dict(self.data)
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str = "record") -> Record:
        """Parse one record written by ``to_json`` (or by hand in the same shape)."""
        try:
            entity = obj["entity"]
            if entity not in ENTITIES:
                raise TraceFormatError(f"{where}: entity must be one of {ENTITIES}, not {entity!r}")
            t = obj["t"]
            if not isinstance(t, int | float) or isinstance(t, bool) or t < 0:
                raise TraceFormatError(f"{where}: t must be seconds >= 0, not {t!r}")
            data = obj.get("data") or {}
            if not isinstance(data, dict):
                raise TraceFormatError(f"{where}: data must be an object")
            return cls(
                seq=int(obj["seq"]), t=round(t * US_PER_S), qpu=str(obj["qpu"]),
                entity=entity, id=str(obj["id"]), event=str(obj["event"]),
                source=obj.get("source"), dest=obj.get("dest"), session=obj.get("session"),
                instance=obj.get("instance"), data=data,
            )
        except KeyError as err:
            raise TraceFormatError(f"{where}: missing field {err.args[0]!r}") from None
        except (TypeError, ValueError) as err:
            if isinstance(err, TraceFormatError):
                raise
            raise TraceFormatError(f"{where}: {err}") from None


class Trace:
    """An append-only list of records with JSON-lines output and input.

    ``keep=False`` counts records without keeping them (for very long runs whose
    trace is streamed with ``stream_to``).
    """

    def __init__(self, *, epoch: datetime = DEFAULT_EPOCH, meta: Mapping[str, JSONScalar]
                 | None = None, keep: bool = True) -> None:
        self.epoch = epoch.astimezone(UTC)
        self.meta: dict[str, JSONScalar] = dict(meta or {})
        self.keep = keep
        self.records: list[Record] = []
        self.count = 0
        self._stream: IO[str] | None = None

    def emit(self, t: int, qpu: str, entity: Entity, id: str, event: str, *,
             source: str | None = None, dest: str | None = None, session: str | None = None,
             instance: str | None = None, extra: Mapping[str, JSONScalar] | None = None,
             **data: JSONScalar) -> Record:
        """Append one record (the scheduler's only way to write the trace)."""
        if extra:
            data = {**extra, **data}
        record = Record(self.count, t, qpu, entity, id, event, source, dest, session,
                        instance, data)
        self.count += 1
        if self.keep:
            self.records.append(record)
        if self._stream is not None:
            self._stream.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
        return record

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def header(self) -> dict[str, Any]:
        """The first JSON line: format, version, epoch and run metadata."""
        return {"format": FORMAT, "version": VERSION, "epoch": self.epoch.isoformat(),
                **self.meta}

    def stream_to(self, fh: IO[str]) -> None:
        """Write the header now and every later record as it is emitted."""
        fh.write(json.dumps(self.header(), separators=(",", ":")) + "\n")
        for record in self.records:
            fh.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
        self._stream = fh

    def dumps(self) -> str:
        """The whole trace as JSON lines (header first)."""
        lines = [json.dumps(self.header(), separators=(",", ":"))]
        lines += [json.dumps(r.to_json(), separators=(",", ":")) for r in self.records]
        return "\n".join(lines) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the trace to ``path`` as JSON lines; return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.dumps())
        return path

    @classmethod
    def loads(cls, text: str, source: str = "trace") -> Trace:
        """Parse JSON lines produced by ``dumps`` (or written by hand in that format)."""
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if not lines:
            raise TraceFormatError(f"{source} is empty: a trace starts with a header line "
                                   f'{{"format": "{FORMAT}", "version": {VERSION}, ...}}')
        header = _parse_line(lines[0][1], f"{source}:{lines[0][0]}")
        if header.get("format") != FORMAT:
            raise TraceFormatError(
                f"{source}:{lines[0][0]} is not a qsession trace header: expected "
                f'"format": "{FORMAT}" (got {header.get("format")!r})'
            )
        if header.get("version") != VERSION:
            raise TraceFormatError(f"{source}: unsupported trace version "
                                   f"{header.get('version')!r} (this qsession reads {VERSION})")
        epoch = datetime.fromisoformat(str(header.get("epoch", DEFAULT_EPOCH.isoformat())))
        meta = {k: v for k, v in header.items() if k not in ("format", "version", "epoch")}
        trace = cls(epoch=epoch if epoch.tzinfo else epoch.replace(tzinfo=UTC), meta=meta)
        for number, line in lines[1:]:
            where = f"{source}:{number}"
            record = Record.from_json(_parse_line(line, where), where)
            trace.records.append(record)
        trace.count = len(trace.records)
        return trace

    @classmethod
    def read(cls, path: str | Path) -> Trace:
        """Read a JSON-lines trace file."""
        path = Path(path)
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise TraceFormatError(f"{path} is not text: a trace is UTF-8 JSON lines") from None
        return cls.loads(text, str(path))

    # -- convenience views -----------------------------------------------------------

    def of(self, entity: Entity, id: str | None = None) -> list[Record]:
        """The records about ``entity`` (and ``id``, if given), in order."""
        return [r for r in self.records
                if r.entity == entity and (id is None or r.id == id)]

    def ids(self, entity: Entity) -> list[str]:
        """Ids of every ``entity`` created in the trace, in creation order."""
        return [r.id for r in self.records if r.entity == entity and r.event == "create"]

    def extend(self, records: Iterable[Record]) -> None:
        """Append already-built records (used when reading or merging)."""
        for record in records:
            self.records.append(record)
            self.count += 1


def _parse_line(line: str, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise TraceFormatError(f"{where}: not JSON ({err.msg})") from None
    if not isinstance(obj, dict):
        raise TraceFormatError(f"{where}: each line must be a JSON object")
    return obj
