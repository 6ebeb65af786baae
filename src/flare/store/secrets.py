"""Flare's own secrets, durable: random keys made once per data directory.

Schema::

    secrets
        name   TEXT  what the key is for (``code-url``: signing GetFunction's code locations)
        value  BLOB  its bytes
        PRIMARY KEY (name)

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

import secrets

from flare.store.database import Database, Tables

KEY_BYTES = 32
_SCHEMA = """
CREATE TABLE IF NOT EXISTS secrets (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
);
"""


class SecretStore(Tables):
    def __init__(self, db: Database) -> None:
        super().__init__(db, _SCHEMA)

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
