"""``flare dev``'s log: every function's lines in one terminal, each prefixed with its name in
a colour of its own, as ``serverless offline`` and ``sam local`` print them.

One thread polls Flare's log endpoint (``flare logs``' ``fetch_page``) for each function in
turn; a round that brings nothing waits ``POLL_INTERVAL_S``. Only lines written after the tail
began are shown. Functions may be added while it runs (a redeployed template).

With the log file of an engine ``flare dev`` started (``EngineLog``), the engine's hot-reload
lines are shown too, prefixed ``flare``: each reload, and why one did not happen (a failed
install of a changed requirements.txt, with pip's words; an unreadable directory).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import click

from flare.cli.client import CommandFailed
from flare.cli.logs import LogPage, fetch_page, newer_than

POLL_INTERVAL_S = 0.1
COLOURS = ("cyan", "yellow", "magenta", "green", "blue", "red")
Fetch = Callable[[str, int], LogPage]
ENGINE_PREFIX = "flare"
SHOWN_LOGGERS = frozenset({"flare.code_watch"})  # the engine's loggers whose lines dev shows
# a line of the engine's log: "2026-12-05 04:16:26,893 INFO flare.code_watch: hot reload of ..."
_RECORD = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ [A-Z]+ ([\w.]+): (.*)$")


def engine_lines(text: str, showing: bool) -> tuple[list[str], bool]:
    """The lines of the engine's log ``text`` (whole lines) that ``flare dev`` shows: the
    messages of ``SHOWN_LOGGERS`` and their continuation lines (a line that starts no record
    continues the one before; ``showing``: whether the record before ``text`` was shown).
    Returns them and whether the last record was shown. Pure."""
    shown: list[str] = []
    for line in text.splitlines():
        record = _RECORD.match(line)
        if record is not None:
            showing = record.group(1) in SHOWN_LOGGERS
            line = record.group(2)
        if showing:
            shown.append(line)
    return shown, showing


class EngineLog:
    """The engine's log file, read from where the last ``new_lines`` stopped (whole lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0
        self._showing = False

    def __repr__(self) -> str:
        return f"<EngineLog {self.path} at {self._offset}>"

    def new_lines(self) -> list[str]:
        """The shown lines (``engine_lines``) written since the last call."""
        try:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
        except OSError:
            return []
        whole = data[: data.rfind(b"\n") + 1]
        self._offset += len(whole)
        lines, self._showing = engine_lines(whole.decode(errors="replace"), self._showing)
        return lines


def prefixes(names: Iterable[str]) -> dict[str, str]:
    """Each name's prefix: the name padded to the longest, then `` | ``, in its colour (the
    colours taken in turn, in the order of the sorted names)."""
    ordered = sorted(set(names))
    width = max((len(name) for name in ordered), default=0)
    return {
        name: click.style(f"{name.ljust(width)} | ", fg=COLOURS[index % len(COLOURS)])
        for index, name in enumerate(ordered)
    }


class LogTail:
    """Prints new log lines of the functions it follows (and of ``engine``) until ``stop``; see
    the module docstring. ``emit(line)`` prints; ``fetch(name, offset)`` reads a page."""

    def __init__(
        self,
        endpoint: str,
        emit: Callable[[str], None],
        fetch: Fetch | None = None,
        engine: EngineLog | None = None,
    ) -> None:
        self._fetch = fetch or (lambda name, offset: fetch_page(endpoint, name, offset))
        self._engine = engine
        self._emit = emit
        self._offsets: dict[str, int] = {}
        self._prefixes: dict[str, str] = {}
        self._since_ms = int(time.time() * 1000)
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="flare-dev-logs", daemon=True)

    def __repr__(self) -> str:
        return f"<LogTail following={len(self._offsets)}>"

    def follow(self, names: Iterable[str]) -> None:
        """Follow ``names`` too (each function's colour is recomputed over all of them)."""
        with self._lock:
            for name in names:
                self._offsets.setdefault(name, 0)
            self._prefixes = prefixes(self._offsets)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the thread (at most one request's time)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def poll_once(self) -> bool:
        """One round over every function; whether it brought a line."""
        with self._lock:
            followed = dict(self._offsets)
            styles = dict(self._prefixes)
        shown = False
        if self._engine is not None:
            for line in self._engine.new_lines():
                self._emit(click.style(f"{ENGINE_PREFIX} | ", bold=True) + line)
                shown = True
        for name, offset in followed.items():
            try:
                page = self._fetch(name, offset)
            except CommandFailed:  # not deployed yet, or the engine is restarting
                continue
            for event in newer_than(page.events, self._since_ms):
                for line in event.message.rstrip("\n").split("\n"):
                    self._emit(styles[name] + line)
                shown = True
            with self._lock:
                self._offsets[name] = page.next_offset
        return shown

    def _run(self) -> None:
        while not self._stopped.is_set():
            if not self.poll_once():
                self._stopped.wait(POLL_INTERVAL_S)
