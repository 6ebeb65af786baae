"""Which functions' ``$LATEST`` is bound to a host directory (hot reload), durable.

Schema (version ``SCHEMA_VERSION`` of concern ``hot_reload``; scoped: ``scope`` holds the owning
account and region's ``Scope.key`` and leads the key, see ``store/database.py``)::

    hot_reload_directories
        scope      TEXT
        name       TEXT  function name (unqualified)
        directory  TEXT  the absolute host path $LATEST's code is read from
        PRIMARY KEY (scope, name)

A function without a row has ordinary (zip) code. Only ``$LATEST`` is ever bound: a published
version keeps the snapshot it was published with. A table of Flare's one database, made if
missing; all its SQL is here.
"""

from __future__ import annotations

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hot_reload_directories (
    scope     TEXT NOT NULL,
    name      TEXT NOT NULL,
    directory TEXT NOT NULL,
    PRIMARY KEY (scope, name)
);
"""


class HotReloadStore(ScopedTables):
    """The bound directory of each of ``scope``'s hot-reload functions, by function name."""

    concern = "hot_reload"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def directories(self) -> dict[str, str]:
        """Every bound function's directory, by name."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, directory FROM hot_reload_directories WHERE scope = ?", (self._scope,)
            ).fetchall()
        return {str(name): str(directory) for name, directory in rows}

    def put(self, name: str, directory: str) -> None:
        """Bind ``name`` to ``directory`` (replacing any earlier binding)."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO hot_reload_directories (scope, name, directory) VALUES (?, ?, ?)",
                (self._scope, name, directory),
            )

    def delete(self, name: str) -> None:
        """Unbind ``name`` (nothing happens if it is not bound)."""
        with self._lock, self._conn:
            self._conn.execute(
                "DELETE FROM hot_reload_directories WHERE scope = ? AND name = ?", (self._scope, name)
            )
