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


class LogPipe:
    def __init__(self, on_lines: Callable[[list[str]], None]) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._on_lines = on_lines
        self._partial = b""
        self._held: list[str] = []
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

    def take_held(self) -> list[str]:
        """The lines held so far, without reading the pipe."""
        held, self._held = self._held, []
        return held

    def drain(self, final: bool = False, read: bool = True) -> list[str]:
        """Held lines plus every complete line in the pipe now (and the partial one if ``final``
        or if it ends the invocation's output).

        ``read=False`` leaves the pipe alone (one syscall less per invocation) when the caller
        knows the loop has read it already: output written before a runtime sent its answer
        made the pipe readable first, so its reader ran in the same loop round or earlier.
        """
        lines = self._held + (self._read_available() if read else [])
        self._held = []
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
        lines = self._read_available()
        if lines:
            self._on_lines(lines)

    def _read_available(self) -> list[str]:
        """Read what the pipe holds; returns complete new lines (or holds them when draining)."""
        chunks = []
        while True:
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
