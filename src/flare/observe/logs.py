"""Per-function log storage: the ``/aws/lambda/<name>`` log group, one stream per environment.

Each function's events are appended to ``<root>/<name>.log``, one line per event:
``<epoch ms>\\t<stream>\\t<message>`` (the message may itself hold tabs, never a newline).
Writes are buffered and flushed on a short timer or before any read, so the invoke path pays a
buffered ``write`` and nothing more. Logs outlive the function, as CloudWatch's do.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from flare.clock import Clock, TimerHandle

FLUSH_DELAY_S = 0.2


@dataclass(frozen=True)
class LogEvent:
    timestamp_ms: int
    stream: str
    message: str


class LogStore:
    def __init__(self, root: Path, clock: Clock) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._files: dict[str, io.BufferedWriter] = {}
        self._flush_timer: TimerHandle | None = None

    def append(self, function: str, stream: str, lines: list[str]) -> None:
        """Add events now; ``lines`` must hold no newlines."""
        if not lines:
            return
        stamp = int(self._clock.wall() * 1000)
        prefix = f"{stamp}\t{stream}\t"
        data = "".join(f"{prefix}{line}\n" for line in lines).encode("utf-8", "replace")
        self._file(function).write(data)
        if self._flush_timer is None:
            self._flush_timer = self._clock.call_later(FLUSH_DELAY_S, self.flush)

    def read(self, function: str, offset: int = 0, limit_bytes: int = 1 << 20) -> tuple[list[LogEvent], int]:
        """Events from byte ``offset``; returns them and the offset to continue from."""
        self.flush()
        path = self._path(function)
        if not path.exists():
            return [], offset
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read(limit_bytes)
        end = chunk.rfind(b"\n") + 1
        events = []
        for raw in chunk[:end].decode("utf-8", "replace").split("\n")[:-1]:
            fields = raw.split("\t", 2)
            if len(fields) == 3 and fields[0].isdigit():
                events.append(LogEvent(int(fields[0]), fields[1], fields[2]))
        return events, offset + end

    def flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        for handle in self._files.values():
            handle.flush()

    def close(self) -> None:
        self.flush()
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def _file(self, function: str) -> io.BufferedWriter:
        handle = self._files.get(function)
        if handle is None:
            handle = self._files[function] = self._path(function).open("ab")
        return handle

    def _path(self, function: str) -> Path:
        return self.root / f"{function}.log"
