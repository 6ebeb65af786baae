"""The pipe an environment's stdout and stderr go to, read line by line without blocking.

Lines that arrive are handed to ``on_lines`` as they come. During an invocation the environment
``hold``s them instead, and ``drain()`` returns everything held plus whatever is in the pipe,
so the lines a handler printed before answering are all in that invocation's log.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

MAX_LINE = 256 * 1024
READS_PER_TURN = 16
"""64 KiB reads taken off the pipe at a time (the loop comes back while it stays readable)."""
MAX_HELD_BYTES = 4 * 1024 * 1024
"""The most output an environment holds for the invocation it is in (``over_held``): a handler
that prints more has the rest written as it comes, ahead of its invocation's START line,
rather than held in the engine's memory."""


class LogPipe:
    def __init__(self, on_lines: Callable[[list[str]], None]) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._on_lines = on_lines
        self._partial = b""
        self._held: list[str] = []
        self._held_bytes = 0
        self._loop = asyncio.get_running_loop()
        self._watching = False

    def child_started(self) -> None:
        """The child has its copy of the write end: close ours, watch the read end."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1
        if not self._watching:
            self._loop.add_reader(self.read_fd, self._on_readable)
            self._watching = True

    def rebind(self, on_lines: Callable[[list[str]], None]) -> None:
        """Send lines to ``on_lines`` from now on."""
        self._on_lines = on_lines

    def hold(self, lines: list[str]) -> None:
        self._held.extend(lines)
        self._held_bytes += sum(len(line) for line in lines)

    @property
    def over_held(self) -> bool:
        """Whether the lines held are past ``MAX_HELD_BYTES`` (characters, near enough)."""
        return self._held_bytes > MAX_HELD_BYTES

    def take_held(self) -> list[str]:
        """The lines held so far, without reading the pipe."""
        held, self._held = self._held, []
        self._held_bytes = 0
        return held

    def drain(self, final: bool = False, read: bool = True) -> list[str]:
        """Held lines plus every complete line in the pipe now (and the partial one if ``final``
        or if it ends the invocation's output).

        ``read=False`` leaves the pipe alone (one syscall less per invocation) when the caller
        knows the loop has read it already: output written before a runtime sent its answer
        made the pipe readable first, so its reader ran in the same loop round or earlier.
        """
        lines = self.take_held() + (self._read_available() if read else [])
        if self._partial:
            lines.append(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        return lines

    def close(self) -> None:
        if self._watching:
            self._loop.remove_reader(self.read_fd)
            self._watching = False
        for fd in (self.read_fd, self.write_fd):
            if fd >= 0:
                os.close(fd)
        self.read_fd = self.write_fd = -1

    def _on_readable(self) -> None:
        lines = self._read_available(READS_PER_TURN)  # one who prints without pause waits its turn
        if lines:
            self._on_lines(lines)

    def _read_available(self, reads: int | None = None) -> list[str]:
        """Read what the pipe holds (at most ``reads`` times 64 KiB); returns complete new lines."""
        chunks: list[bytes] = []
        while reads is None or len(chunks) < reads:
            try:
                chunk = os.read(self.read_fd, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                if self._watching:
                    self._loop.remove_reader(self.read_fd)
                    self._watching = False
                break
            chunks.append(chunk)
        if not chunks:
            return []
        data = self._partial + b"".join(chunks)
        *complete, self._partial = data.split(b"\n")
        if len(self._partial) > MAX_LINE:
            complete.append(self._partial)
            self._partial = b""
        return [line.decode("utf-8", "replace") for line in complete]
