"""What every SQLite store of Flare shares: one connection, a lock around it, WAL, a schema.

Each store (functions, settings, schedules, async events, queues and streams) keeps its own
SQL; this base class only opens the file the same way for all of them. Contract: the
connection may be used from several threads, always under ``_lock``.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class SqliteStore:
    """Opens ``path`` (WAL, ``synchronous=NORMAL``) and runs ``schema`` (idempotent DDL)."""

    def __init__(self, path: Path, schema: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock, self._conn:
            self._migrate(schema)

    def _migrate(self, schema: str) -> None:
        """Create what is missing (runs in a transaction, under the lock)."""
        self._conn.executescript(schema)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path}>"

    def close(self) -> None:
        with self._lock:
            self._conn.close()
