"""Per-function concurrency settings, durable: a table of their own in Flare's SQLite file.

Schema::

    function_concurrency
        name      TEXT     function name (unqualified)
        reserved  INTEGER  ReservedConcurrentExecutions, >= 0
        PRIMARY KEY (name)

The table lives in the same file as ``Database``'s tables (``Database.path``) but is reached
through a connection of its own, so this module owns all of its SQL; ``Database``'s
``user_version`` is not touched (the table is created if missing). A lock serialises the
connection, which may be used from several threads.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS function_concurrency (
    name     TEXT    NOT NULL PRIMARY KEY,
    reserved INTEGER NOT NULL CHECK (reserved >= 0)
);
"""


class SettingsStore:
    """Reserved concurrency by function name. Opening creates the table if it is missing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
        with self._lock, self._conn:
            self._conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"<SettingsStore {self.path}>"

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def reserved(self) -> dict[str, int]:
        """Every stored reservation."""
        with self._lock:
            rows = self._conn.execute("SELECT name, reserved FROM function_concurrency").fetchall()
        return {str(name): int(reserved) for name, reserved in rows}

    def put_reserved(self, name: str, reserved: int) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO function_concurrency (name, reserved) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET reserved = excluded.reserved",
                (name, reserved),
            )

    def delete_reserved(self, name: str) -> bool:
        """Drop ``name``'s reservation; True if there was one."""
        with self._lock, self._conn:
            cursor = self._conn.execute("DELETE FROM function_concurrency WHERE name = ?", (name,))
            return cursor.rowcount > 0
