"""Function URL configs, durable: a table of their own in Flare's SQLite file.

Schema::

    function_urls
        function     TEXT  function name (unqualified)
        qualifier    TEXT  the alias the URL invokes, '' for the function itself ($LATEST)
        url_id       TEXT  the URL's 32-character id (its host's first label), unique
        auth_type    TEXT  NONE | AWS_IAM
        cors         TEXT  the Cors object as JSON, NULL when not configured
        invoke_mode  TEXT  BUFFERED | RESPONSE_STREAM as last given, NULL when never given
        created      TEXT  CreationTime as answered
        modified     TEXT  LastModifiedTime as answered
        PRIMARY KEY (function, qualifier)

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flare.store.database import Database, Tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS function_urls (
    function    TEXT NOT NULL,
    qualifier   TEXT NOT NULL,
    url_id      TEXT NOT NULL UNIQUE,
    auth_type   TEXT NOT NULL,
    cors        TEXT,
    invoke_mode TEXT,
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    PRIMARY KEY (function, qualifier)
);
"""

_COLUMNS = "function, qualifier, url_id, auth_type, cors, invoke_mode, created, modified"


@dataclass(frozen=True)
class UrlRow:
    """One function URL config. ``qualifier`` is the alias, or None for the function itself."""

    function: str
    qualifier: str | None
    url_id: str
    auth_type: str
    cors: dict[str, Any] | None
    invoke_mode: str | None
    created: str
    modified: str


class UrlStore(Tables):
    """Function URL configs by (function, qualifier). Opening creates the table if missing."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, _SCHEMA)

    def all(self) -> list[UrlRow]:
        """Every config, by function then qualifier."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM function_urls ORDER BY function, qualifier"
            ).fetchall()
        return [
            UrlRow(f, q or None, u, a, json.loads(c) if c is not None else None, m, cr, mo)
            for f, q, u, a, c, m, cr, mo in rows
        ]

    def put(self, row: UrlRow) -> None:
        """Insert ``row``, or replace the config of its (function, qualifier)."""
        cors = json.dumps(row.cors) if row.cors is not None else None
        with self._lock, self._conn:
            self._conn.execute(
                f"INSERT OR REPLACE INTO function_urls ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.function,
                    row.qualifier or "",
                    row.url_id,
                    row.auth_type,
                    cors,
                    row.invoke_mode,
                    row.created,
                    row.modified,
                ),
            )

    def delete(self, function: str, qualifier: str | None) -> bool:
        """Drop one config; True if there was one."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM function_urls WHERE function = ? AND qualifier = ?", (function, qualifier or "")
            )
            return cursor.rowcount > 0

    def delete_function(self, function: str) -> int:
        """Drop every config of ``function``; how many there were."""
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM function_urls WHERE function = ?", (function,)).rowcount
