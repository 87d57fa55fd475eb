"""The event trace: every state change, queue decision and timer, as typed records.

A trace is what the invariants (``qsession.properties``), the timeline picture and the
metrics read, so it is complete and its format is stable. On disk it is JSON lines: a
header line (``{"format": "qsession-trace", "version": 2, ...}``) and one object per
record, with time ``t`` in seconds since the header's ``epoch`` (six decimals, exact for
the microsecond clock). ``Trace.read`` accepts exactly what ``Trace.write`` produces, and
hand-written files in the same format (``qsession docs trace-format``). Version 2 records on the
end of every job that ran what it charged its instance's fair share (``charged_us``);
version 1 traces are still read and checked, and a reader that needs the charges says
clearly that a version-1 trace does not have them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from qsession.model import JOB_TABLE, SESSION_TABLE

from .clock import DEFAULT_EPOCH, US_PER_S

FORMAT = "qsession-trace"
VERSION = 2
"""The version ``Trace.write`` writes."""
READABLE_VERSIONS = (1, 2)
"""The versions ``Trace.read`` reads (version 1 lacks ``charged_us`` on job ends)."""

Entity = Literal["session", "job", "qpu"]
ENTITIES: tuple[Entity, ...] = ("session", "job", "qpu")
JSONScalar = str | int | float | bool | None

# Record kinds by entity (``event`` field). Lifecycle records carry the model's event
# names (read from its tables, so a new model event is a valid record at once); ``create``
# opens each object; the QPU's records are the scheduler's own.
SESSION_EVENTS = ("create", *(e.name for e in SESSION_TABLE.events))
JOB_EVENTS = ("create", *(e.name for e in JOB_TABLE.events))
QPU_EVENTS = ("configure", "dispatch", "hold", "release", "bill", "quota_hold", "quota_release",
              "timer_set", "timer_cancel", "timer_fire", "job_tags", "job_delete", "restart")
EVENTS: dict[str, tuple[str, ...]] = {"session": SESSION_EVENTS, "job": JOB_EVENTS,
                                      "qpu": QPU_EVENTS}

# What the known ``data`` keys hold (docs/trace-format.md); other keys hold any JSON scalar.
_POSITIVE_INT = ("duration_us", "time_limit_us", "max_time_us", "interactive_timeout_us",
                 "batch_interactive_timeout_us", "fair_share_window_us",
                 "idle_close_timeout_us")
_COUNT = ("at_us", "held_us", "in_flight", "circuits", "shots", "usage_us", "used_us",
          "quota_us", "from_us", "until_us", "span_us", "charged_us", "seed", "restarts")
_TEXT = ("reason", "timer", "job", "via", "kind", "tags")
_CHOICES = {"mode": ("dedicated", "batch"), "by": ("callback",)}


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
    def from_json(cls, obj: Mapping[str, Any], where: str = "record",
                  limit_us: int | None = None) -> Record:
        """Parse one record written by ``to_json`` (or by hand in the same shape).

        Every field is checked as ``qsession docs trace-format`` states; anything else is a
        ``TraceFormatError`` naming ``where``, the field and what it must be.
        ``limit_us``: the last instant the trace's epoch leaves a ``datetime`` for.
        """
        for key in ("seq", "t", "qpu", "entity", "id", "event"):
            if key not in obj:
                raise TraceFormatError(f"{where}: missing field {key!r}")
        seq, t, entity = obj["seq"], obj["t"], obj["entity"]
        if not _is_int(seq) or seq < 0:
            raise TraceFormatError(f"{where}: seq must be an integer >= 0, not {seq!r}")
        if entity not in ENTITIES:
            raise TraceFormatError(f"{where}: entity must be one of {ENTITIES}, not {entity!r}")
        if not _is_number(t) or t < 0:
            raise TraceFormatError(f"{where}: t must be a finite number of seconds >= 0, "
                                   f"not {t!r}")
        t_us = round(t * US_PER_S)
        if limit_us is not None and t_us > limit_us:
            raise TraceFormatError(f"{where}: t={t!r} is past the last instant a datetime can "
                                   "show from the trace's epoch (9999-12-31)")
        for key in ("qpu", "id", "event"):
            if not isinstance(obj[key], str) or not obj[key]:
                raise TraceFormatError(f"{where}: {key} must be a non-empty string, "
                                       f"not {obj[key]!r}")
        if obj["event"] not in EVENTS[entity]:
            raise TraceFormatError(f"{where}: {obj['event']!r} is not a {entity} event; "
                                   f"{entity} events are {', '.join(EVENTS[entity])}")
        for key in ("source", "dest", "session", "instance"):
            value = obj.get(key)
            if value is not None and (not isinstance(value, str) or not value):
                raise TraceFormatError(f"{where}: {key} must be a non-empty string or absent, "
                                       f"not {value!r}")
        data = obj.get("data")
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise TraceFormatError(f"{where}: data must be an object, not {data!r}")
        for key, value in data.items():
            _check_data(where, key, value)
        return cls._built(obj, t_us, data)

    @classmethod
    def _built(cls, obj: Mapping[str, Any], t_us: int, data: dict[str, Any]) -> Record:
        """The record of a parsed line, its time already in microseconds; nothing checked."""
        return cls(seq=obj["seq"], t=t_us, qpu=obj["qpu"], entity=obj["entity"], id=obj["id"],
                   event=obj["event"], source=obj.get("source"), dest=obj.get("dest"),
                   session=obj.get("session"), instance=obj.get("instance"), data=data)


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
        self.version = VERSION
        """The format version: what this trace was read as (a new trace: ``VERSION``)."""
        self.records: list[Record] = []
        self.count = 0
        self._stream: IO[str] | None = None
        self.before_write: Callable[[Record], None] | None = None
        """Called with each new record before it is streamed (a store writes what the
        record refers to first: a job's inputs go to disk before its ``create`` record)."""
        self.source: str | None = None
        """The file a read trace came from (None: built in memory)."""
        self.lines: list[int] = []
        """The line of each record in ``source`` (read traces only)."""

    def where(self, index: int) -> str:
        """``file:line`` of record ``index`` of a read trace (``record N`` otherwise)."""
        if self.source is not None and index < len(self.lines):
            return f"{self.source}:{self.lines[index]}"
        return f"record {index}"

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
        if self.before_write is not None:
            self.before_write(record)
        if self._stream is not None:
            self._stream.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
        return record

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def header(self) -> dict[str, Any]:
        """The first JSON line: format, version, epoch and run metadata."""
        return {"format": FORMAT, "version": self.version, "epoch": self.epoch.isoformat(),
                **self.meta}

    def stream_to(self, fh: IO[str]) -> None:
        """Write the header now and every later record as it is emitted."""
        fh.write(json.dumps(self.header(), separators=(",", ":")) + "\n")
        for record in self.records:
            fh.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
        self._stream = fh

    def continue_to(self, fh: IO[str], start: int) -> None:
        """Append the records from index ``start`` on to ``fh`` (a trace file holding the
        ones before, header included), and every later record as it is emitted."""
        for record in self.records[start:]:
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
    def loads(cls, text: str, source: str = "trace", *, checked: bool = True) -> Trace:
        """Parse JSON lines produced by ``dumps`` (or written by hand in that format).

        ``checked=False`` skips checking each field of a well-formed record (about half
        the time): for a trace this program wrote and a reader that compares every record
        anyway (recovery replays it); a record that does not even build is still refused
        with the full check's message.
        """
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
        version = header.get("version")
        if version not in READABLE_VERSIONS:
            raise TraceFormatError(
                f"{source}: unsupported trace version {version!r} (this qsession reads "
                f"{', '.join(map(str, READABLE_VERSIONS))})")
        where = f"{source}:{lines[0][0]}"
        raw_epoch = header.get("epoch", DEFAULT_EPOCH.isoformat())
        try:
            epoch = datetime.fromisoformat(raw_epoch) if isinstance(raw_epoch, str) else None
        except ValueError:
            epoch = None
        if epoch is None:
            raise TraceFormatError(f"{where}: epoch must be an ISO-8601 time such as "
                                   f'"2025-01-01T00:00:00+00:00", not {raw_epoch!r}')
        meta = {k: v for k, v in header.items() if k not in ("format", "version", "epoch")}
        for key, value in meta.items():
            if not _is_scalar(value):
                raise TraceFormatError(f"{where}: header field {key!r} must be a JSON scalar "
                                       f"(string, number, true/false or null), not {value!r}")
        trace = cls(epoch=epoch if epoch.tzinfo else epoch.replace(tzinfo=UTC), meta=meta)
        trace.version = int(version)
        limit_us = (datetime.max.replace(tzinfo=UTC) - trace.epoch) // timedelta(microseconds=1)
        trace.source = source
        previous: Record | None = None
        for number, line in lines[1:]:
            where = f"{source}:{number}"
            obj = _parse_line(line, where)
            record = (Record.from_json(obj, where, limit_us) if checked
                      else _unchecked(obj) or Record.from_json(obj, where, limit_us))
            if previous is not None and record.seq <= previous.seq:
                raise TraceFormatError(
                    f"{where}: seq {record.seq} comes after seq {previous.seq}: records must "
                    "be in the order they happened, seq increasing (a reordered or edited "
                    "trace cannot be checked)")
            trace.records.append(record)
            trace.lines.append(number)
            previous = record
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
        except OSError as err:
            raise TraceFormatError(f"{path}: cannot be read ({err.strerror or err})") from None
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


def _unchecked(obj: dict[str, Any]) -> Record | None:
    """A record built from a parsed line without checking its fields (None: it does not
    even build, so the full check says why)."""
    try:
        data = obj.get("data")
        return Record._built(obj, round(obj["t"] * US_PER_S), {} if data is None else data)
    except (KeyError, TypeError, ValueError):
        return None


def _parse_line(line: str, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise TraceFormatError(f"{where}: not JSON ({err.msg})") from None
    except RecursionError:
        raise TraceFormatError(f"{where}: nested too deeply; a record is one flat JSON "
                               "object whose data holds scalars") from None
    if not isinstance(obj, dict):
        raise TraceFormatError(f"{where}: each line must be a JSON object")
    return obj


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | bool) or _is_number(value)


def _check_data(where: str, key: str, value: object) -> None:
    """Refuse a ``data`` value of the wrong kind (known keys) or a non-scalar (any key)."""
    def refuse(what: str) -> TraceFormatError:
        return TraceFormatError(f"{where}: data.{key} must be {what}, not {value!r}")

    if value is None and key not in _CHOICES:
        return
    if key in _POSITIVE_INT and not (_is_int(value) and value > 0):  # type: ignore[operator]
        raise refuse("a positive integer of microseconds" if key.endswith("_us")
                     else "a positive integer")
    if key in _COUNT and not (_is_int(value) and value >= 0):  # type: ignore[operator]
        raise refuse("an integer >= 0")
    if key in _TEXT and not isinstance(value, str):
        raise refuse("a string")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise refuse(" or ".join(map(repr, _CHOICES[key])))
    if key == "allocation" and not (_is_number(value) and value > 0):  # type: ignore[operator]
        raise refuse("a finite positive number")
    if key == "accepting_jobs" and not isinstance(value, bool):
        raise refuse("true or false")
    if key == "late" and value is not True:
        raise refuse("true (or absent)")
    if not _is_scalar(value):
        raise refuse("a JSON scalar (string, finite number, true/false or null)")
