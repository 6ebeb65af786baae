"""The trace file: one JSON object a line (JSON Lines), what ``flare serve --trace`` writes and
``flare trace replay`` reads. docs/trace.md describes every field.

The first line is the header (``"kind": "header"``, ``"format": "flare-trace"``, ``"version"``)
with what the engine ran with (idle timeout, account concurrency, scaling rate); then one
``"kind": "invoke"`` line per invocation that reached the router, in the order they ended
(``t``, the arrival, is seconds of the engine's clock since the header's ``clock``; a reader
sorts by it); the last line, written when recording stops, is ``"kind": "end"`` with how many
invocations were recorded and how many were left out past the size bound.

A reader accepts any ``version`` up to ``VERSION`` and ignores fields it does not know, so a
later writer may add fields without a new version; removing or changing one needs a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

import orjson

from flare.errors import TraceRefused

FORMAT = "flare-trace"
VERSION = 1

# How an invocation found its environment: a new one that ran INIT, a SnapStart restore, an
# idle one, a provisioned one. None: throttled, or no environment could be started.
STARTS = ("cold", "restore", "warm", "provisioned")
# ok: answered without a function error; error: a function error (or an init, timeout or
# crash failure); throttle: refused with 429 before any environment was reserved.
OUTCOMES = ("ok", "error", "throttle")


@dataclass(frozen=True)
class Header:
    """What the engine that recorded ran with; ``clock`` is its clock's reading at the start
    (``t`` of each invocation counts from it), ``wall`` the epoch seconds at that moment."""

    clock: float
    wall: float
    idle_timeout_s: float
    account_concurrency: int
    scaling_rate: int
    scaling_window_s: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": "header", "format": FORMAT, "version": VERSION, **self.__dict__}


class Record(NamedTuple):
    """One invocation as the router saw it. Durations are milliseconds; ``latency_ms`` runs from
    its arrival to its answer (what a synchronous caller waited, INIT included), ``duration_ms``
    is REPORT's Duration. ``reserved`` / ``provisioned`` / ``snapstart`` / ``memory_mb`` /
    ``timeout_s`` are the function's configuration at that moment. ``ended``: the environment
    did not serve again (a timeout, a crash, a failed INIT). A named tuple: a day's trace is a
    million of them, and a tuple is made from a line in a third of a dataclass's time."""

    t: float
    account: str
    region: str
    function: str
    version: str
    qualifier: str | None
    source: str
    memory_mb: int
    architecture: str
    timeout_s: int
    reserved: int | None
    provisioned: int
    snapstart: bool
    outcome: str
    start: str | None = None
    init_ms: float | None = None
    restore_ms: float | None = None
    duration_ms: float | None = None
    latency_ms: float | None = None
    error_type: str | None = None
    ended: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class Trace:
    """A whole trace, its records in arrival order; ``dropped`` invocations were not recorded
    (past the size bound) and ``complete`` says the end line was there."""

    header: Header
    records: list[Record]
    dropped: int = 0
    complete: bool = True


def end_line(recorded: int, dropped: int) -> dict[str, Any]:
    return {"kind": "end", "recorded": recorded, "dropped": dropped}


def dumps(line: dict[str, Any]) -> bytes:
    return orjson.dumps(line) + b"\n"


_RECORD_FIELDS = frozenset(Record._fields)
_RECORD_VALUES = itemgetter(*Record._fields)
_HEADER_FIELDS = frozenset(Header.__dataclass_fields__)


def read(lines: Iterable[bytes]) -> Trace:
    """Parse a trace. Raises ``TraceRefused`` for a first line that is not a header of a
    version up to ``VERSION``, a line that is not JSON, or an invocation missing a field."""
    numbered = enumerate(lines, 1)
    header = _header(next(_objects(numbered), None))
    records: list[Record] = []
    dropped, complete = 0, False
    for number, line in _objects(numbered):
        kind = line.pop("kind", None)
        if kind == "invoke":
            records.append(_record(number, line))
        elif kind == "end":
            dropped, complete = int(line.get("dropped", 0)), True
    records.sort(key=lambda record: record.t)
    return Trace(header, records, dropped, complete)


def _record(number: int, line: dict[str, Any]) -> Record:
    """The record ``line`` holds; raises ``TraceRefused`` for one missing a field or whose
    arrival or memory size is not a number."""
    try:  # a line with every field, as this version writes them (any others are ignored)
        record = Record._make(_RECORD_VALUES(line))
    except KeyError:
        try:
            record = Record(**{key: line[key] for key in line.keys() & _RECORD_FIELDS})
        except TypeError as error:
            raise TraceRefused(f"line {number}: {error}") from None
    if not isinstance(record.t, int | float) or not isinstance(record.memory_mb, int):
        raise TraceRefused(f"line {number}: t and memory_mb must be numbers")
    return record


def _objects(numbered: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in numbered:
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if raw.endswith(b"\n"):
                raise TraceRefused(f"line {number} is not JSON") from None
            return  # the last line of a trace whose writer was killed mid-write
        if not isinstance(line, dict):
            raise TraceRefused(f"line {number} is not a JSON object")
        yield number, line


def _header(first: tuple[int, dict[str, Any]] | None) -> Header:
    if first is None:
        raise TraceRefused("the file is empty: no trace header")
    line = first[1]
    if line.get("kind") != "header" or line.get("format") != FORMAT:
        raise TraceRefused(f"line {first[0]} is not a {FORMAT} header")
    version = line.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise TraceRefused(f"trace version {version!r} is not one this Flare reads (1..{VERSION})")
    try:
        return Header(**{key: line[key] for key in _HEADER_FIELDS})
    except KeyError as error:
        raise TraceRefused(f"the header has no {error.args[0]!r}") from None
