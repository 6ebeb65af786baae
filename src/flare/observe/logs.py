"""Log event storage: one append-only file per log stream, an index of groups and streams in SQLite.

Lambda writes each function's events to its log group (``/aws/lambda/<name>`` or the function's
``LoggingConfig.LogGroup``), one stream per execution environment; ``PutLogEvents`` writes to
any stream. A stream's events are the lines of ``<root>/<h(group)>/<h(stream)>.log`` (``h``: a
SHA-256 prefix of the name), one line per event::

    <timestamp ms>\\t<seq>\\t<ingestion>\\t<message>

``seq`` numbers the events of a group 0, 1, 2, ... in the order they were stored (it orders
events of equal timestamps, pages the logs of a whole group, and feeds live tails).
``ingestion`` is empty when the event was stored at its own timestamp (Lambda's lines), else the
ingestion time in ms; a ``j`` after it marks a message stored as a JSON string because it held a
newline (only ``PutLogEvents`` can send one).

Writes are buffered and flushed on a short timer or before any read, so the invoke path pays a
buffered ``write`` and a few counters. The flush also reports what each stream gained to the
index (``store/log_index.py``), which creates groups and streams on first write, as Lambda does.
Logs outlive the function, as CloudWatch's do.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from flare.clock import Clock, TimerHandle
from flare.store.log_index import LogIndex, StreamGrowth

FLUSH_DELAY_S = 0.2
MAX_OPEN_FILES = 256


@dataclass(frozen=True)
class LogEvent:
    """One stored event; ``seq`` orders it within its group."""

    timestamp_ms: int
    seq: int
    ingestion_ms: int
    message: str
    stream: str


class _Growth:
    """What one stream gained since the last flush."""

    __slots__ = ("created_ms", "first_ms", "ingested_ms", "last_ms", "last_seq", "size")

    def __init__(self, created_ms: int) -> None:
        self.created_ms = created_ms
        self.first_ms = created_ms
        self.last_ms = created_ms
        self.ingested_ms = created_ms
        self.size = 0
        self.last_seq = -1


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class LogStore:
    """Event files and the index of what they hold. Used from the event loop's thread."""

    def __init__(self, root: Path, index: LogIndex, clock: Clock) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.index = index
        self._clock = clock
        self._files: OrderedDict[tuple[str, str], io.BufferedWriter] = OrderedDict()
        self._growth: dict[tuple[str, str], _Growth] = {}
        self._next_seq: dict[str, int] = {}
        self._flush_timer: TimerHandle | None = None

    def append(self, group: str, stream: str, lines: list[str]) -> None:
        """Add events stamped now; ``lines`` must hold no newlines (Lambda's lines never do)."""
        if not lines:
            return
        stamp = int(self._clock.wall() * 1000)
        key = (group, stream)
        seq = self._next_seq.get(group)
        if seq is None:
            seq = self._load_seq(group)
        prefix = f"{stamp}\t"
        data = "".join([f"{prefix}{seq + n}\t\t{line}\n" for n, line in enumerate(lines)]).encode(
            "utf-8", "replace"
        )
        self._next_seq[group] = seq + len(lines)
        self._file(key).write(data)
        growth = self._growth.get(key)
        if growth is None:
            growth = self._growth[key] = _Growth(stamp)
        growth.last_ms = growth.ingested_ms = stamp
        growth.size += len(data)
        growth.last_seq = seq + len(lines) - 1
        if self._flush_timer is None:
            self._flush_timer = self._clock.call_later(FLUSH_DELAY_S, self.flush)

    def put(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Add events with their own timestamps (``PutLogEvents``), ingested now."""
        if not events:
            return
        now = int(self._clock.wall() * 1000)
        key = (group, stream)
        seq = self._next_seq.get(group)
        if seq is None:
            seq = self._load_seq(group)
        rows = []
        for n, (timestamp, message) in enumerate(events):
            text = f"{now}j\t{json.dumps(message)}" if "\n" in message else f"{now}\t{message}"
            rows.append(f"{timestamp}\t{seq + n}\t{text}\n")
        data = "".join(rows).encode("utf-8", "replace")
        self._next_seq[group] = seq + len(events)
        self._file(key).write(data)
        low, high = min(t for t, _ in events), max(t for t, _ in events)
        growth = self._growth.get(key)
        if growth is None:
            growth = self._growth[key] = _Growth(now)
            growth.first_ms, growth.last_ms = low, high
        else:
            growth.first_ms, growth.last_ms = min(growth.first_ms, low), max(growth.last_ms, high)
        growth.ingested_ms = now
        growth.size += len(data)
        growth.last_seq = seq + len(events) - 1
        self.flush()

    def read(self, group: str, stream: str) -> list[LogEvent]:
        """Every event stored in the stream, in the order stored (flushes pending writes first)."""
        self.flush()
        path = self._path(group, stream)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        events = []
        for raw in data.decode("utf-8", "replace").split("\n"):
            fields = raw.split("\t", 3)
            if len(fields) != 4 or not fields[0].isdigit():
                continue  # a torn last line after a crash
            stamp, seq, ingestion, message = fields
            if ingestion.endswith("j"):
                ingestion, message = ingestion[:-1], json.loads(message)
            timestamp = int(stamp)
            events.append(LogEvent(timestamp, int(seq), int(ingestion or timestamp), message, stream))
        return events

    def next_seq(self, group: str) -> int:
        """The sequence number the group's next event will get."""
        seq = self._next_seq.get(group)
        return self._load_seq(group) if seq is None else seq

    def flush(self) -> None:
        """Write buffered events to their files and what the streams gained to the index."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        for handle in self._files.values():
            handle.flush()
        if self._growth:
            growth, self._growth = self._growth, {}
            self.index.record(
                StreamGrowth(g, s, v.created_ms, v.first_ms, v.last_ms, v.ingested_ms, v.size, v.last_seq)
                for (g, s), v in growth.items()
            )

    def forget_group(self, group: str) -> None:
        """Drop every event of ``group`` (its index rows are the caller's)."""
        for key in [key for key in self._files if key[0] == group]:
            self._files.pop(key).close()
        for key in [key for key in self._growth if key[0] == group]:
            del self._growth[key]
        self._next_seq.pop(group, None)
        shutil.rmtree(self.root / _digest(group), ignore_errors=True)

    def forget_stream(self, group: str, stream: str) -> None:
        """Drop every event of one stream (its index row is the caller's)."""
        handle = self._files.pop((group, stream), None)
        if handle is not None:
            handle.close()
        self._growth.pop((group, stream), None)
        self._path(group, stream).unlink(missing_ok=True)

    def close(self) -> None:
        self.flush()
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def _load_seq(self, group: str) -> int:
        row = self.index.group(group)
        seq = self._next_seq[group] = row.next_seq if row is not None else 0
        return seq

    def _file(self, key: tuple[str, str]) -> io.BufferedWriter:
        handle = self._files.get(key)
        if handle is not None:
            self._files.move_to_end(key)
            return handle
        if len(self._files) >= MAX_OPEN_FILES:
            _, oldest = self._files.popitem(last=False)
            oldest.close()
        path = self._path(*key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._files[key] = path.open("ab")
        return handle

    def _path(self, group: str, stream: str) -> Path:
        return self.root / _digest(group) / f"{_digest(stream)}.log"
