"""Flare's own secrets, durable: random keys made once per data directory.

Schema::

    secrets
        name   TEXT  what the key is for (``code-url``: signing GetFunction's code locations)
        value  BLOB  its bytes
        PRIMARY KEY (name)

Like ``SettingsStore``: the same file as ``Database`` (``Database.path``), a connection of its
own, the table created if missing, a lock around the connection.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from flare.store.connection import SqliteStore

KEY_BYTES = 32
_SCHEMA = """
CREATE TABLE IF NOT EXISTS secrets (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
);
"""


class SecretStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def key(self, name: str) -> bytes:
        """The key called ``name``: made (random, 32 bytes) and stored the first time it is
        asked for, the same bytes ever after."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)",
                (name, secrets.token_bytes(KEY_BYTES)),
            )
            (value,) = self._conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return bytes(value)
