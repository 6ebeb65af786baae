"""Flare's one database: nested transactions, schema versions, older files moved in, scopes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from flare.config import ServerConfig
from flare.engine import Engine
from flare.scope import Scope
from flare.store.database import Database, Tables
from flare.store.events import EventRow, EventStore
from flare.store.functions import FunctionRow, FunctionStore
from flare.store.log_index import LogIndex
from flare.store.policies import PolicyRow, PolicyStore
from flare.store.secrets import SecretStore
from flare.store.services import QueueRow, ServiceStore
from tests.unit.test_registry import SCOPE, create_body, database_of, open_registry
from tests.unit.test_store_scopes import SCOPED_STORES


class Notes(Tables):
    concern = "notes"
    version = 3

    def __init__(self, db: Database) -> None:
        super().__init__(db, "CREATE TABLE IF NOT EXISTS notes (text TEXT NOT NULL);")

    def add(self, text: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("INSERT INTO notes (text) VALUES (?)", (text,))

    def all(self) -> list[str]:
        with self._lock:
            return [text for (text,) in self._conn.execute("SELECT text FROM notes ORDER BY rowid")]


def test_writes_inside_one_transaction_commit_together_or_not_at_all(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", SCOPE)
    notes, reader = Notes(db), Notes(Database(tmp_path / "flare.db", SCOPE))
    with db.transaction():
        notes.add("a")
        notes.add("b")
        assert reader.all() == []  # not committed yet
    assert reader.all() == ["a", "b"]
    with pytest.raises(RuntimeError), db.transaction():
        notes.add("c")
        raise RuntimeError("half way")
    assert notes.all() == ["a", "b"]


def test_each_concern_keeps_its_schema_version(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", SCOPE)
    Notes(db)
    assert db.schema_version("notes") == 3
    assert db.schema_version("never") == 0


def test_a_file_of_an_older_flare_keeps_its_functions_schema_version(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "flare.db")
    raw.execute("PRAGMA user_version=2")
    raw.close()
    assert Database(tmp_path / "flare.db", SCOPE).schema_version("functions") == 2


def test_rows_of_an_older_flares_separate_file_are_moved_in_once(tmp_path: Path) -> None:
    old = EventStore(Database(tmp_path / "events.db", SCOPE), SCOPE)
    old.insert_event(EventRow("req-1", "fn", None, "arn:fn", b"{}", 1.0, 1.0))
    old.db.close()
    db = Database(tmp_path / "flare.db", SCOPE)
    events = EventStore(db, SCOPE)
    assert db.absorb(tmp_path / "events.db") >= 1
    assert events.get_event("req-1") is not None
    assert not (tmp_path / "events.db").exists() and (tmp_path / "events.db.merged").exists()
    assert db.absorb(tmp_path / "events.db") == 0


def test_a_function_and_what_belongs_to_it_are_deleted_in_one_transaction(tmp_path: Path) -> None:
    registry = open_registry(tmp_path)
    store = PolicyStore(database_of(registry), SCOPE)
    registry.create_function(create_body())

    def listener(name: str, version: str | None) -> None:
        with store._lock, store._conn:
            store._conn.execute("DELETE FROM function_policies WHERE name = ?", (name,))
        raise RuntimeError("a listener failed")

    registry.add_version_listener(listener)
    with pytest.raises(RuntimeError):
        registry.delete_function("fn", None)
    assert registry.get_configuration("fn", None)["FunctionName"] == "fn"
    assert open_registry(tmp_path).get_configuration("fn", None)["FunctionName"] == "fn"


def test_an_engine_on_a_data_dir_of_separate_files_finds_its_events_and_queues(tmp_path: Path) -> None:
    data = tmp_path / "data"
    events = EventStore(Database(data / "events.db", SCOPE), SCOPE)
    events.insert_event(EventRow("req-9", "fn", None, "arn:fn", b'{"a": 1}', 1.0, 1.0))
    services = ServiceStore(Database(data / "services.db", SCOPE), SCOPE)
    services.insert_queue(QueueRow("q", 1.0, 1.0, {}, {}))
    events.db.close()
    services.db.close()

    async def scenario() -> None:
        engine = Engine(ServerConfig(data_dir=data, sandbox=False))
        try:
            assert engine.home.events_store.get_event("req-9") is not None
            assert "q" in [row.name for row in engine.home.services_store.all_queues()]
        finally:
            await engine.stop()

    asyncio.run(scenario())
    assert sorted(path.name for path in data.glob("*.merged")) == ["events.db.merged", "services.db.merged"]


def test_the_stores_of_one_more_scope_run_no_sql_at_all(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", SCOPE)
    for store in SCOPED_STORES:
        store(db, SCOPE)
    SecretStore(db)
    statements: list[str] = []
    db.connection._raw.set_trace_callback(statements.append)
    for scope in (Scope("111111111111", SCOPE.region), Scope(SCOPE.account, "eu-west-1")):
        for store in SCOPED_STORES:
            store(db, scope)
        SecretStore(db)
    assert statements == []


def test_a_scope_is_in_use_once_any_of_its_tables_has_a_row(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", SCOPE)
    for store in SCOPED_STORES:
        store(db, SCOPE)
    assert db.scopes_in_use() == set()
    queues, logs = Scope("111111111111", "us-east-1"), Scope("111111111111", "eu-west-1")
    ServiceStore(db, queues).insert_queue(QueueRow("q", 1.0, 1.0, {}))
    LogIndex(db, logs).create_group("/aws/lambda/fn", 1)
    assert db.scopes_in_use() == {queues, logs}
    PolicyStore(db, SCOPE).put(PolicyRow("fn", "", {}, "r"))
    gone = Scope("222222222222", "us-east-1")
    FunctionStore(db, gone).insert_function(FunctionRow("fn", "$LATEST", {}, "d"))
    FunctionStore(db, gone).delete_function("fn")
    assert db.scopes_in_use() == {SCOPE, queues, logs}
