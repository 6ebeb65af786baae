"""The one contract of durable executions' stores (``store/storage.py``'s ``DurableStorage``),
held by the SQLite store and by the cluster's Redis store on a real ``redis-server``: rows,
unique names, the status, function, queued and retention indexes, operations in checkpoint
order, numbered history, a write guarded by the checkpoint token, and a transaction kept whole
or not at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flare.errors import StaleRevision
from flare.scope import Scope
from flare.store.database import Database
from flare.store.durable import DurableStore, ExecutionRow
from flare.store.storage import DurableStorage
from tests.redis_server import RedisServer, available

SCOPE = Scope("123456789012", "us-east-1")
DAY = 86400


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DurableStorage]:
    if request.param == "sqlite":
        yield DurableStore(Database(tmp_path / "flare.db", SCOPE), SCOPE)
        return
    if not available():
        pytest.skip("redis-server is not installed")
    from flare.cluster import redis_durable
    from flare.cluster.link import ClusterLink

    server: RedisServer = request.getfixturevalue("redis_server")
    link = ClusterLink(server.url, "node-a")
    link.sync.flushdb()
    yield redis_durable.RedisDurableStore(link, SCOPE, redis_durable.register(link.sync))
    link.sync.close()


def execution(arn: str, name: str, started: float, function: str = "fn", **changes: object) -> ExecutionRow:
    row = ExecutionRow(
        arn, function, "$LATEST", name, "RUNNING", '{"a": 1}', None, None, started, None, started + 60
    )
    return row.with_(**changes)


def test_a_row_reads_back_as_written_and_a_name_is_unique_per_function(store: DurableStorage) -> None:
    row = execution("arn-1", "one", 10.25, token="t1", synchronous=True, queued="req-1", tokens='{"x": 1}')
    store.insert(row)
    assert store.get("arn-1") == row
    assert store.named("fn", "one") == row
    assert store.queued_as("req-1") == row
    assert store.get("arn-2") is None and store.named("fn", "two") is None
    with pytest.raises(StaleRevision):
        store.insert(execution("arn-2", "one", 11.0))
    store.insert(execution("arn-3", "one", 12.0, function="other"))  # another function: its own names
    assert store.get("arn-2") is None


def test_updates_move_the_indexes_and_an_ended_execution_expires_after_its_retention(
    store: DurableStorage,
) -> None:
    store.insert(execution("arn-1", "one", 10.0, queued="req-1"))
    store.insert(execution("arn-2", "two", 20.0))
    store.insert(execution("arn-3", "three", 5.0, function="other"))
    assert [row.arn for row in store.with_status("RUNNING")] == ["arn-3", "arn-1", "arn-2"]
    assert [row.arn for row in store.of_function("fn")] == ["arn-1", "arn-2"]
    row = store.get("arn-1")
    assert row is not None
    store.update(row.with_(status="SUCCEEDED", result='"done"', ended=100.0, queued=None, retention=1))
    done = store.get("arn-1")
    assert done is not None and (done.status, done.result, done.ended, done.queued) == (
        "SUCCEEDED",
        '"done"',
        100.0,
        None,
    )
    assert store.queued_as("req-1") is None
    assert [row.arn for row in store.with_status("RUNNING", "PAUSED")] == ["arn-3", "arn-2"]
    assert store.counts() == [("fn", "RUNNING", 1), ("fn", "SUCCEEDED", 1), ("other", "RUNNING", 1)]
    assert store.expired(100.0 + 14 * DAY - 1) == []  # the retention an insert stored (14 days)
    assert store.expired(100.0 + 14 * DAY) == ["arn-1"]
    store.delete(["arn-1"])
    assert store.get("arn-1") is None and store.named("fn", "one") is None
    assert store.expired(10**12) == [] and store.of_function("fn")[0].arn == "arn-2"
    assert store.delete_function("fn") == 1 and store.of_function("fn") == []
    assert store.counts() == [("other", "RUNNING", 1)]


def test_operations_keep_their_first_checkpoint_order_and_pages(store: DurableStorage) -> None:
    store.insert(execution("arn-1", "one", 10.0))
    store.put_operations("arn-1", [{"Id": "a", "v": 1}, {"Id": "b", "v": 1}])
    store.put_operations("arn-1", [{"Id": "a", "v": 2}, {"Id": "c", "v": 1, "At": 1764931022.123456}])
    page = store.operations("arn-1")
    assert [operation for _, operation in page] == [
        {"Id": "a", "v": 2},
        {"Id": "b", "v": 1},
        {"Id": "c", "v": 1, "At": 1764931022.123456},  # an epoch time kept to the microsecond
    ]
    assert [seq for seq, _ in page] == sorted(seq for seq, _ in page)
    assert store.operations("arn-1", after=page[0][0], limit=1) == [page[1]]
    assert store.operation("arn-1", "c") == {"Id": "c", "v": 1, "At": 1764931022.123456}
    assert store.operation("arn-1", "z") is None


def test_history_is_numbered_from_one_and_updated_operations_are_merged(store: DurableStorage) -> None:
    store.insert(execution("arn-1", "one", 10.0))
    store.add_events("arn-1", [{"EventType": "A"}, {"EventType": "B"}])
    store.add_events("arn-1", [{"EventType": "C"}])
    assert store.events("arn-1") == [
        {"EventType": "A", "EventId": 1},
        {"EventType": "B", "EventId": 2},
        {"EventType": "C", "EventId": 3},
    ]
    store.mark_updated("arn-1", ["x", "y"])
    store.mark_updated("arn-1", ["y", "z"])
    row = store.get("arn-1")
    assert row is not None and json.loads(row.updated) == ["x", "y", "z"]


def test_a_write_guarded_by_a_token_that_moved_keeps_nothing_of_its_transaction(
    store: DurableStorage,
) -> None:
    store.insert(execution("arn-1", "one", 10.0, token="t1"))
    row = store.get("arn-1")
    assert row is not None
    with store.transaction():
        store.put_operations("arn-1", [{"Id": "a"}])
        store.add_events("arn-1", [{"EventType": "A"}])
        store.update(row.with_(token="t2"), expect_token="t1")
    with pytest.raises(StaleRevision), store.transaction():
        store.put_operations("arn-1", [{"Id": "b"}])
        store.add_events("arn-1", [{"EventType": "B"}])
        store.update(row.with_(token="t3"), expect_token="t1")  # spent: t2 is current
    after = store.get("arn-1")
    assert after is not None and after.token == "t2"
    assert [operation["Id"] for _, operation in store.operations("arn-1")] == ["a"]
    assert [event["EventType"] for event in store.events("arn-1")] == ["A"]


def test_an_update_of_some_fields_leaves_another_writers_change_of_the_others(store: DurableStorage) -> None:
    store.insert(execution("arn-1", "one", 10.0, queued="req-1"))
    read = store.get("arn-1")  # one node reads it...
    assert read is not None
    store.update(
        read.with_(status="PAUSED", paused='{"p": 1}'), only=("status", "paused")
    )  # ...another pauses it
    store.update(read.with_(token="t9", failures=2), only=("token", "failures"))  # the first writes its own
    row = store.get("arn-1")
    assert row is not None
    assert (row.status, row.paused, row.token, row.failures, row.queued) == (
        "PAUSED",
        '{"p": 1}',
        "t9",
        2,
        "req-1",
    )
    assert [found.arn for found in store.with_status("PAUSED")] == ["arn-1"]
    assert store.with_status("RUNNING") == [] and store.queued_as("req-1") == row
    store.update(row.with_(queued=None), only=("queued",))
    assert store.queued_as("req-1") is None
    assert [found.arn for found in store.with_status("PAUSED")] == ["arn-1"]
