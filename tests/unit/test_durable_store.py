"""The durable executions' tables of schema version 1 (the first slice) opened by version 2: the
new columns added, every row kept and writable."""

from __future__ import annotations

from pathlib import Path

from flare.scope import Scope
from flare.store.database import Database
from flare.store.durable import SCHEMA_VERSION, DurableStore

SCOPE = Scope("123456789012", "us-east-1")
VERSION_1 = """
CREATE TABLE durable_executions (
    scope TEXT NOT NULL, arn TEXT NOT NULL, function TEXT NOT NULL, version TEXT NOT NULL,
    name TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, result TEXT, error TEXT,
    started REAL NOT NULL, ended REAL, deadline REAL NOT NULL, token TEXT NOT NULL DEFAULT '',
    retention INTEGER NOT NULL DEFAULT 14,
    PRIMARY KEY (scope, arn), UNIQUE (scope, function, name)
);
INSERT INTO durable_executions VALUES
    ('123456789012:us-east-1', 'arn-1', 'fn', '$LATEST', 'one', 'RUNNING', '{}', NULL, NULL,
     10.0, NULL, 3610.0, 'tok', 7);
INSERT INTO schema_versions VALUES ('durable', 1);
"""


def test_a_version_1_table_gets_the_new_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", SCOPE)
    db.connection.executescript(VERSION_1)
    store = DurableStore(db, SCOPE)
    row = store.get("arn-1")
    assert row is not None
    assert (row.name, row.status, row.deadline, row.token, row.retention) == (
        "one",
        "RUNNING",
        3610.0,
        "tok",
        7,
    )
    assert (row.failures, row.paused, row.tokens, row.synchronous) == (0, None, "{}", False)
    store.update(row.with_(failures=2, paused='{"x": 1}'))
    again = store.get("arn-1")
    assert again is not None and (again.failures, again.paused) == (2, '{"x": 1}')
    assert db.schema_version("durable") == SCHEMA_VERSION == 2
