"""A data directory of the Flare before scopes: every row kept, in the legacy scope, writable."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from flare.scope import Scope
from flare.store.database import Database
from flare.store.events import EventStore
from flare.store.functions import FunctionRow, FunctionStore
from flare.store.layers import LayerStore, LayerVersionRow
from flare.store.log_index import LogIndex, StreamGrowth
from flare.store.services import QueueRow, RecordRow, ServiceStore
from flare.store.urls import UrlStore
from tests.unit import legacy_stores
from tests.unit.test_store_scopes import CASES, SCOPED_STORES

LEGACY = Scope("123456789012", "eu-central-1")
OTHER = Scope("123456789012", "us-east-1")
ALL_TABLES = [table for tables in legacy_stores.TABLES.values() for table in tables]


def _open(path: Path) -> tuple[Database, dict[type, Any]]:
    """The database at ``path`` as the engine opens it: the legacy scope's stores first."""
    db = Database(path, LEGACY)
    return db, {store: store(db, LEGACY) for store in SCOPED_STORES}


def _old_columns(table: str) -> list[str]:
    concern = next(concern for concern, tables in legacy_stores.TABLES.items() if table in tables)
    raw = sqlite3.connect(":memory:")
    raw.executescript(legacy_stores.DDL[concern])
    return [row[1] for row in raw.execute(f"PRAGMA table_info({table})")]


def _rows(db: Database, table: str) -> list[tuple[Any, ...]]:
    """Every row of ``table`` as (scope, the old columns...), in a stable order."""
    columns = ", ".join(_old_columns(table))
    rows = db.connection.execute(f"SELECT scope, {columns} FROM {table}").fetchall()
    return sorted(rows, key=repr)


def _expected(table: str) -> list[tuple[Any, ...]]:
    return sorted(((LEGACY.key, *row) for row in legacy_stores.ROWS[table]), key=repr)


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    path = tmp_path / "flare.db"
    legacy_stores.build(path)
    return path


@pytest.mark.parametrize("table", ALL_TABLES)
def test_every_row_of_a_flare_before_scopes_is_kept_in_the_legacy_scope(legacy: Path, table: str) -> None:
    db, _ = _open(legacy)
    assert _rows(db, table) == _expected(table)


@pytest.mark.parametrize("table", ALL_TABLES)
def test_every_key_and_index_of_a_migrated_table_leads_with_the_scope(legacy: Path, table: str) -> None:
    db, _ = _open(legacy)
    indexes = [row[1] for row in db.connection.execute(f"PRAGMA index_list({table})")]
    leading = {index: db.connection.execute(f"PRAGMA index_info({index})").fetchone()[2] for index in indexes}
    if table == "function_urls":  # a url id names one config in every scope: the front door's key
        unique_url_id = [index for index, column in leading.items() if column == "url_id"]
        assert len(unique_url_id) == 1
        del leading[unique_url_id[0]]
    assert leading and set(leading.values()) == {"scope"}


def test_the_schema_version_of_every_scoped_concern_is_raised(legacy: Path) -> None:
    db, _ = _open(legacy)
    for store in SCOPED_STORES:
        assert (
            db.schema_version(store.concern) == store.version > legacy_stores.VERSIONS.get(store.concern, 1)
        )


def test_migrated_rows_are_seen_and_written_through_the_legacy_scope(legacy: Path) -> None:
    db, stores = _open(legacy)
    functions: FunctionStore = stores[FunctionStore]
    assert functions.version_counters() == {"fn": 4}
    assert [(row.name, row.version) for row in functions.all_functions()][-1] == ("other", "$LATEST")
    assert functions.publish_version(FunctionRow("fn", "5", {}, "d")).seq == 5
    assert functions.version_counters() == {"fn": 5}
    layers: LayerStore = stores[LayerStore]
    assert layers.publish("lib", lambda n: LayerVersionRow("lib", n, {}, "d", 1)).version == 3
    services: ServiceStore = stores[ServiceStore]
    assert services.insert_queue(QueueRow("new", 1.0, 1.0, {})).seq == 3
    assert (services.get_message("q", "m2") or pytest.fail()).receipt == "nonce"
    services.append_records("s", [RecordRow(0, 2, "pk", b"x", 3.0)])
    assert services.last_positions("s") == {0: 2, 1: 1}
    events: EventStore = stores[EventStore]
    assert (events.get_event("req-2") or pytest.fail()).tenant_id == "t"
    events.put_mapping("uuid-2", {"UUID": "uuid-2"})
    assert [mapping["UUID"] for mapping in events.mappings()] == ["uuid-1", "uuid-2"]
    logs: LogIndex = stores[LogIndex]
    logs.record([StreamGrowth("/aws/lambda/fn", "new", 1, 1, 1, 1, 1, 3)])
    assert (logs.group("/aws/lambda/fn") or pytest.fail()).next_seq == 4
    assert UrlStore.owner_of(db, "a" * 32) == LEGACY
    assert db.scopes_in_use() == {LEGACY}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_another_scope_sees_nothing_of_the_migrated_rows(legacy: Path, tmp_path: Path, case: Any) -> None:
    db, _ = _open(legacy)
    empty = Database(tmp_path / "empty.db", OTHER)
    assert case.look(case.store(db, OTHER)) == case.look(case.store(empty, OTHER))


def test_a_second_open_of_a_migrated_file_changes_nothing(legacy: Path) -> None:
    db, _ = _open(legacy)
    before = {table: _rows(db, table) for table in ALL_TABLES}
    db.close()
    statements: list[str] = []
    again = Database(legacy, LEGACY)
    again.connection._raw.set_trace_callback(statements.append)
    for store in SCOPED_STORES:
        store(again, LEGACY)
    assert [s for s in statements if s.split()[0].upper() in ("ALTER", "DROP", "INSERT", "DELETE")] == []
    assert {table: _rows(again, table) for table in ALL_TABLES} == before
    assert "__unscoped" not in str(again.connection.execute("SELECT name FROM sqlite_master").fetchall())


@pytest.mark.parametrize("concern", ["events", "services"])
def test_an_older_flares_separate_file_is_absorbed_into_the_legacy_scope(
    tmp_path: Path, concern: str
) -> None:
    legacy_stores.build_separate(tmp_path / f"{concern}.db", concern)
    db, stores = _open(tmp_path / "flare.db")
    moved = db.absorb(tmp_path / f"{concern}.db")
    tables = legacy_stores.TABLES[concern]
    assert moved == sum(len(legacy_stores.ROWS[table]) for table in tables)
    for table in tables:
        assert _rows(db, table) == _expected(table)
    if concern == "events":
        assert [event_id for event_id, _ in stores[EventStore].event_schedule()] == ["req-1", "req-2"]
    else:
        assert [queue.name for queue in stores[ServiceStore].all_queues()] == ["q", "dlq"]
    assert db.scopes_in_use() == {LEGACY}


def test_a_migration_that_fails_half_way_leaves_the_old_tables_as_they_were(
    legacy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(store: FunctionStore, found: int) -> None:
        raise sqlite3.OperationalError("disk full")  # after its three tables were rebuilt

    monkeypatch.setattr(FunctionStore, "_upgrade", fail)
    with pytest.raises(sqlite3.OperationalError):
        FunctionStore(Database(legacy, LEGACY), LEGACY)
    raw = sqlite3.connect(legacy)
    for table in legacy_stores.TABLES["functions"]:
        assert [row[1] for row in raw.execute(f"PRAGMA table_info({table})")] == _old_columns(table)
        assert sorted(raw.execute(f"SELECT * FROM {table}"), key=repr) == sorted(
            legacy_stores.ROWS[table], key=repr
        )
    assert raw.execute("SELECT version FROM schema_versions WHERE concern = 'functions'").fetchone() == (2,)
    raw.close()
    monkeypatch.undo()
    db, _ = _open(legacy)
    assert _rows(db, "functions") == _expected("functions")
