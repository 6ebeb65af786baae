"""Function URL configs, durable: a table of their own in Flare's SQLite file.

Schema (version ``SCHEMA_VERSION`` of concern ``urls``; scoped: ``scope`` holds the owning
account and region's ``Scope.key`` and leads the key, see ``store/database.py``; schema 1,
never recorded, had no ``scope``: its table is rebuilt, its rows in the database's legacy
scope)::

    function_urls
        scope        TEXT
        function     TEXT  function name (unqualified)
        qualifier    TEXT  the alias the URL invokes, '' for the function itself ($LATEST)
        url_id       TEXT  the URL's 32-character id (its host's first label), unique across
                           *every* scope
        auth_type    TEXT  NONE | AWS_IAM
        cors         TEXT  the Cors object as JSON, NULL when not configured
        invoke_mode  TEXT  BUFFERED | RESPONSE_STREAM as last given, NULL when never given
        created      TEXT  CreationTime as answered
        modified     TEXT  LastModifiedTime as answered
        PRIMARY KEY (scope, function, qualifier)

The one key without ``scope`` is ``url_id``: a request to a function URL names only the id (in
its host), so the id must name one config in the whole database, and ``UrlStore.owner_of``
tells which scope owns it before any scope's stores are consulted.

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS function_urls (
    scope       TEXT NOT NULL,
    function    TEXT NOT NULL,
    qualifier   TEXT NOT NULL,
    url_id      TEXT NOT NULL UNIQUE,
    auth_type   TEXT NOT NULL,
    cors        TEXT,
    invoke_mode TEXT,
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    PRIMARY KEY (scope, function, qualifier)
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


class UrlStore(ScopedTables):
    """``scope``'s function URL configs by (function, qualifier). Opening creates the table if
    missing."""

    concern = "urls"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    @staticmethod
    def owner_of(db: Database, url_id: str) -> Scope | None:
        """The scope whose function URL has id ``url_id``, or None when no scope has one (or
        no ``UrlStore`` was built on ``db`` yet, so its table may not exist). For the HTTP
        front door, which sees only the id in a request's host."""
        with db.lock:
            exists = db.connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'function_urls'"
            ).fetchone()
            found = (
                db.connection.execute(
                    "SELECT scope FROM function_urls WHERE url_id = ?", (url_id,)
                ).fetchone()
                if exists
                else None
            )
        return None if found is None else Scope.from_key(found[0])

    def all(self) -> list[UrlRow]:
        """Every config of this scope, by function then qualifier."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM function_urls WHERE scope = ? ORDER BY function, qualifier",
                (self._scope,),
            ).fetchall()
        return [
            UrlRow(f, q or None, u, a, json.loads(c) if c is not None else None, m, cr, mo)
            for f, q, u, a, c, m, cr, mo in rows
        ]

    def put(self, row: UrlRow) -> None:
        """Insert ``row``, or replace the config of its (function, qualifier).

        Raises sqlite3.IntegrityError if another config (of any scope) has its ``url_id``."""
        cors = json.dumps(row.cors) if row.cors is not None else None
        with self._lock, self._conn:
            self._conn.execute(
                f"INSERT INTO function_urls (scope, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (scope, function, qualifier) DO UPDATE SET url_id = excluded.url_id, "
                "auth_type = excluded.auth_type, cors = excluded.cors, invoke_mode = excluded.invoke_mode, "
                "created = excluded.created, modified = excluded.modified",
                (
                    self._scope,
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
                "DELETE FROM function_urls WHERE scope = ? AND function = ? AND qualifier = ?",
                (self._scope, function, qualifier or ""),
            )
            return cursor.rowcount > 0

    def delete_function(self, function: str) -> int:
        """Drop every config of ``function``; how many there were."""
        with self._lock, self._conn:
            return self._conn.execute(
                "DELETE FROM function_urls WHERE scope = ? AND function = ?", (self._scope, function)
            ).rowcount
