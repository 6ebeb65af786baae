"""Code signing configs and which function uses which, durable: tables in Flare's SQLite file.

Schema::

    code_signing_configs
        id      TEXT     CodeSigningConfigId (``csc-`` and 17 characters)
        seq     INTEGER  creation order, increasing
        config  TEXT     the CodeSigningConfig, JSON with AWS's field names
        tags    TEXT     its tags, a JSON object
        PRIMARY KEY (id)

    function_code_signing
        name       TEXT  function name (unqualified)
        config_id  TEXT  the CodeSigningConfigId it uses
        PRIMARY KEY (name)

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flare.store.database import Database, Tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS code_signing_configs (
    id     TEXT    NOT NULL PRIMARY KEY,
    seq    INTEGER NOT NULL,
    config TEXT    NOT NULL,
    tags   TEXT    NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS function_code_signing (
    name      TEXT NOT NULL PRIMARY KEY,
    config_id TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class CodeSigningRow:
    """One stored code signing config; ``seq`` orders listings."""

    id: str
    config: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    seq: int = 0


class CodeSigningStore(Tables):
    """Configs by id and bindings by function name. Opening creates the tables if missing."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, _SCHEMA)

    def configs(self) -> list[CodeSigningRow]:
        """Every config, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, config, tags, seq FROM code_signing_configs ORDER BY seq"
            ).fetchall()
        return [CodeSigningRow(str(i), json.loads(c), json.loads(t), int(s)) for i, c, t, s in rows]

    def put_config(self, row: CodeSigningRow) -> CodeSigningRow:
        """Insert or replace a config (a new one gets the next ``seq``); returns it as stored."""
        with self._lock, self._conn:
            found = self._conn.execute(
                "SELECT seq FROM code_signing_configs WHERE id = ?", (row.id,)
            ).fetchone()
            if found is None:
                (seq,) = self._conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM code_signing_configs"
                ).fetchone()
            else:
                (seq,) = found
            self._conn.execute(
                "INSERT OR REPLACE INTO code_signing_configs (id, seq, config, tags) VALUES (?, ?, ?, ?)",
                (row.id, seq, json.dumps(row.config), json.dumps(row.tags)),
            )
        return CodeSigningRow(row.id, row.config, row.tags, int(seq))

    def delete_config(self, config_id: str) -> bool:
        with self._lock, self._conn:
            return (
                self._conn.execute("DELETE FROM code_signing_configs WHERE id = ?", (config_id,)).rowcount > 0
            )

    def bindings(self) -> dict[str, str]:
        """Function name => the config id it uses."""
        with self._lock:
            rows = self._conn.execute("SELECT name, config_id FROM function_code_signing").fetchall()
        return {str(name): str(config_id) for name, config_id in rows}

    def bind(self, name: str, config_id: str) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO function_code_signing (name, config_id) VALUES (?, ?)",
                (name, config_id),
            )

    def unbind(self, name: str) -> bool:
        with self._lock, self._conn:
            return (
                self._conn.execute("DELETE FROM function_code_signing WHERE name = ?", (name,)).rowcount > 0
            )
