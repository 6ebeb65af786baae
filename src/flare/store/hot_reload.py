"""Which functions' ``$LATEST`` is bound to a host directory (hot reload), durable.

Schema (version ``SCHEMA_VERSION`` of concern ``hot_reload``; scoped: ``scope`` holds the owning
account and region's ``Scope.key`` and leads the key, see ``store/database.py``)::

    hot_reload_directories
        scope      TEXT
        name       TEXT  function name (unqualified)
        directory  TEXT  the absolute host path $LATEST's code is read from
        PRIMARY KEY (scope, name)

    hot_reload_layer_directories
        scope      TEXT
        arn        TEXT  a layer version's ARN
        directory  TEXT  the absolute host path functions' $LATEST read that version from
        PRIMARY KEY (scope, arn)

A function (a layer version) without a row has ordinary (zip) code. Only ``$LATEST`` is ever
bound: a published version keeps the snapshot it was published with. Tables of Flare's one
database, made if missing; all their SQL is here.
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
CREATE TABLE IF NOT EXISTS hot_reload_layer_directories (
    scope     TEXT NOT NULL,
    arn       TEXT NOT NULL,
    directory TEXT NOT NULL,
    PRIMARY KEY (scope, arn)
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

    def layer_directories(self) -> dict[str, str]:
        """Every bound layer version's directory, by its ARN."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT arn, directory FROM hot_reload_layer_directories WHERE scope = ?", (self._scope,)
            ).fetchall()
        return {str(arn): str(directory) for arn, directory in rows}

    def put_layer(self, arn: str, directory: str) -> None:
        """Bind the layer version ``arn`` to ``directory`` (replacing any earlier binding)."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO hot_reload_layer_directories (scope, arn, directory) "
                "VALUES (?, ?, ?)",
                (self._scope, arn, directory),
            )

    def delete_layer(self, arn: str) -> None:
        """Unbind the layer version ``arn`` (nothing happens if it is not bound)."""
        with self._lock, self._conn:
            self._conn.execute(
                "DELETE FROM hot_reload_layer_directories WHERE scope = ? AND arn = ?", (self._scope, arn)
            )
