"""Every scoped store keeps two scopes apart: same names, separate resources.

Each case below is one store: ``build`` makes resources (the same names in every scope, the
content marked with ``k``), ``change`` updates and deletes some of them, ``look`` is everything
the store answers (gets, listings, counters). Scope A builds, scope B builds the same names,
then A changes: each scope must then see exactly what it would see alone in a database of its
own, so nothing of one scope is visible to, counted with, updated or deleted by the other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from flare.scope import Scope
from flare.store.code_signing import CodeSigningRow, CodeSigningStore
from flare.store.database import Database
from flare.store.events import EventRow, EventStore
from flare.store.function_settings import FunctionSettingsStore, RuntimeManagementRow
from flare.store.functions import AliasRow, FunctionRow, FunctionStore
from flare.store.layers import LayerStore, LayerVersionRow
from flare.store.log_index import LogIndex, StreamGrowth
from flare.store.policies import PolicyRow, PolicyStore
from flare.store.schedules import ScheduleRow, ScheduleStore
from flare.store.services import MessageRow, QueueRow, RecordRow, ServiceStore, StreamRow
from flare.store.settings import ProvisionedRow, SettingsStore
from flare.store.urls import UrlRow, UrlStore

A = Scope("111111111111", "us-east-1")
B = Scope("222222222222", "us-east-1")
A_ELSEWHERE = Scope("111111111111", "eu-west-1")  # same account, other region: a scope apart
NOW = 1_000.0


@dataclass(frozen=True)
class Case:
    store: Callable[[Database, Scope], Any]
    build: Callable[[Any, int], None]
    change: Callable[[Any, int], Any]  # what it returns is compared too
    look: Callable[[Any], Any]

    def __str__(self) -> str:
        return getattr(self.store, "__name__", "store")


# -- functions -------------------------------------------------------------------------------------


def _functions_build(store: FunctionStore, k: int) -> None:
    store.insert_function(FunctionRow("fn", "$LATEST", {"k": k}, f"digest-{k}", {"tag": str(k)}))
    for number in range(1, k + 2):  # A publishes 2 versions, B 3
        store.publish_version(FunctionRow("fn", str(number), {"k": k}, f"digest-{k}"))
    store.put_alias(AliasRow("fn", "live", {"k": k}))
    store.insert_function(FunctionRow("gone", "$LATEST", {"k": k}, f"digest-{k}"))
    store.publish_version(FunctionRow("gone", "1", {"k": k}, f"digest-{k}"))
    store.put_alias(AliasRow("gone", "live", {"k": k}))


def _functions_change(store: FunctionStore, k: int) -> None:
    store.update_function(FunctionRow("fn", "$LATEST", {"k": k, "new": True}, f"digest-{k}-new"))
    store.delete_version("fn", "1")
    store.delete_alias("fn", "live")
    store.put_alias(AliasRow("fn", "beta", {"k": k}))
    store.delete_function("gone")


def _functions_look(store: FunctionStore) -> Any:
    return (
        store.all_functions(),
        store.version_counters(),
        store.all_aliases(),
        store.get_function("fn", "1"),
        store.get_function("gone", "$LATEST"),
    )


# -- layers ----------------------------------------------------------------------------------------


def _layer(k: int) -> Callable[[int], LayerVersionRow]:
    return lambda number: LayerVersionRow("", number, {"Version": number, "k": k}, f"digest-{k}", 10 * k)


def _layers_build(store: LayerStore, k: int) -> None:
    for _ in range(k + 1):
        store.publish("lib", _layer(k))
    store.publish("other", _layer(k))
    store.publish("old", _layer(k))
    store.mark_deleted("old", 1)
    store.set_policy("lib", 1, [{"Sid": f"s{k}"}], f"rev-{k}")


def _layers_change(store: LayerStore, k: int) -> list[tuple[str, int]]:
    store.mark_deleted("lib", 2)
    store.mark_deleted("other", 1)
    purged = store.purge_deleted({("other", 1)})
    store.publish("lib", _layer(k))  # the counter is not lowered: version 4 in A
    return purged


def _layers_look(store: LayerStore) -> Any:
    return (
        store.live(),
        store.live("lib"),
        [store.get(*key) for key in (("lib", 2), ("other", 1), ("old", 1))],
    )


# -- concurrency settings --------------------------------------------------------------------------


def _settings_build(store: SettingsStore, k: int) -> None:
    store.put_reserved("fn", k)
    store.put_reserved("gone", k)
    store.put_provisioned(ProvisionedRow("fn", "live", k, f"t{k}"))
    store.put_provisioned(ProvisionedRow("fn", "1", k, f"t{k}"))


def _settings_change(store: SettingsStore, k: int) -> None:
    store.put_reserved("fn", 10 + k)
    store.delete_reserved("gone")
    store.put_provisioned(ProvisionedRow("fn", "live", 10 + k, f"t{k}-new"))
    store.delete_provisioned("fn", "1")


def _settings_look(store: SettingsStore) -> Any:
    return store.reserved(), store.provisioned()


# -- policies --------------------------------------------------------------------------------------


def _policies_build(store: PolicyStore, k: int) -> None:
    for name, qualifier in (("fn", ""), ("fn", "1"), ("gone", "")):
        store.put(PolicyRow(name, qualifier, {"k": k}, f"rev-{k}"))


def _policies_change(store: PolicyStore, k: int) -> None:
    store.put(PolicyRow("fn", "", {"k": k, "new": True}, f"rev-{k}-new"))
    store.delete("fn", "1")
    store.delete_function("gone")


def _policies_look(store: PolicyStore) -> Any:
    return store.all()


# -- queues and streams ----------------------------------------------------------------------------


def _message(mid: str, k: int) -> MessageRow:
    return MessageRow(mid, f"body-{k}", {"k": k}, {}, NOW - 100 + k, NOW - 10)


def _services_build(store: ServiceStore, k: int) -> None:
    for name in ("q", "dlq", "gone"):
        store.insert_queue(QueueRow(name, NOW, NOW, {"k": str(k)}))
    store.insert_messages("q", [_message(mid, k) for mid in ("m1", "m2", "m3", "m4")])
    store.insert_messages("gone", [_message("m1", k)])
    store.insert_messages("dlq", [_message("d1", k)])
    for name in ("s", "gone"):
        store.insert_stream(StreamRow(name, NOW, 2, 24, "PROVISIONED"))
    store.append_records("s", [RecordRow(0, p, f"pk{k}", b"%d" % k, NOW - 100 + p) for p in (1, 2, 3)])
    store.append_records("gone", [RecordRow(0, 1, "pk", b"x", NOW)])


def _services_change(store: ServiceStore, k: int) -> int:
    store.update_queue(QueueRow("q", NOW, NOW + 1, {"k": str(k), "new": "1"}))
    received = replace(
        _message("m1", k), visible_at=NOW + 30, receive_count=1, first_receive=NOW, receipt="r"
    )
    store.record_receives("q", [received], {"m2": "dlq"}, NOW, "arn:q")
    store.set_visible_at("q", {"m3": NOW + 60})
    store.delete_messages("q", ["m4"])
    dropped = store.drop_expired("dlq", NOW - 50)
    store.purge("gone")
    store.delete_queue("gone")
    store.insert_queue(QueueRow("late", NOW, NOW, {}))  # seq 4 in A: its counter is its own
    store.set_retention("s", 48)
    store.trim("s", NOW - 99)
    store.delete_stream("gone")
    store.insert_stream(StreamRow("late", NOW, 1, 24, "ON_DEMAND"))
    return dropped + store.trim("late", NOW)


def _unsequenced(message: MessageRow | None) -> MessageRow | None:
    """``message`` without its ``seq``: send order across every scope's messages (a rowid)."""
    return None if message is None else replace(message, seq=0)


def _services_look(store: ServiceStore) -> Any:
    queues = {
        name: (
            [_unsequenced(m) for m in store.visible_messages(name, NOW + 1000, 10)],
            store.next_visible_at(name, NOW),
            store.counts(name, NOW),
            _unsequenced(store.get_message(name, "m2")),
        )
        for name in ("q", "dlq", "gone", "late")
    }
    records = [store.read_records(name, 0, 0, 0.0, 10) for name in ("s", "gone")]
    positions = [store.last_positions(name) for name in ("s", "gone")]
    return (
        store.all_queues(),
        queues,
        store.all_streams(),
        records,
        positions,
        store.first_position_at("s", 0, 0),
    )


# -- code signing ----------------------------------------------------------------------------------


def _code_signing_build(store: CodeSigningStore, k: int) -> None:
    for config_id in ("csc-1", "csc-2") if k == 1 else ("csc-2", "csc-1"):
        store.put_config(CodeSigningRow(config_id, {"k": k}, {"tag": str(k)}))
    store.bind("fn", "csc-1")
    store.bind("gone", "csc-2")


def _code_signing_change(store: CodeSigningStore, k: int) -> None:
    store.put_config(CodeSigningRow("csc-1", {"k": k, "new": True}))
    store.delete_config("csc-2")
    store.unbind("gone")
    store.put_config(CodeSigningRow("csc-3", {"k": k}))


def _code_signing_look(store: CodeSigningStore) -> Any:
    return store.configs(), store.bindings()


# -- log index -------------------------------------------------------------------------------------

GROUP = "/aws/lambda/fn"


def _growth(stream: str, k: int, seq: int) -> StreamGrowth:
    return StreamGrowth(GROUP, stream, 1000 * k, 1000 * k, 1000 * k + seq, 1000 * k + seq, 10 * k, seq)


def _logs_build(store: LogIndex, k: int) -> None:
    store.create_group(GROUP, 1000 * k)
    store.create_group("/gone", 1000 * k)
    store.create_stream(GROUP, "s1", 1000 * k)
    store.create_stream("/gone", "s", 1000 * k)
    store.record([_growth("s2", k, k)])


def _logs_change(store: LogIndex, k: int) -> None:
    store.set_retention(GROUP, 7)
    store.delete_stream(GROUP, "s1")
    store.delete_group("/gone")
    store.record([_growth("s2", k, 10 + k)])


def _logs_look(store: LogIndex) -> Any:
    return (
        store.groups(),
        store.group(GROUP),
        store.streams(GROUP),
        store.stream(GROUP, "s2"),
        store.stored_bytes(GROUP),
        store.streams("/gone"),
    )


# -- function settings -----------------------------------------------------------------------------


def _function_settings_build(store: FunctionSettingsStore, k: int) -> None:
    loop = "Allow" if k == 1 else "Terminate"
    for name in ("fn", "gone"):
        store.put_recursion(name, loop)
        for version in ("$LATEST", "1"):
            store.put_runtime_management(RuntimeManagementRow(name, version, "Manual", f"arn-{k}"))


def _function_settings_change(store: FunctionSettingsStore, k: int) -> None:
    store.delete_version("fn", "1")
    store.delete_function("gone")
    store.put_runtime_management(RuntimeManagementRow("fn", "$LATEST", "Auto", None))


def _function_settings_look(store: FunctionSettingsStore) -> Any:
    return store.recursion(), sorted(store.runtime_management(), key=lambda row: (row.name, row.version))


# -- async events, invoke configs, mappings --------------------------------------------------------


def _events_build(store: EventStore, k: int) -> None:
    for event_id in ("e1", "e2", "e3"):
        store.insert_event(EventRow(event_id, "fn", None, f"arn-{k}", b"%d" % k, NOW + k, NOW + k))
    for qualifier in ("$LATEST", "live"):
        store.put_invoke_config("fn", qualifier, {"k": k})
    for uuid in ("uuid-1", "uuid-2"):
        store.put_mapping(uuid, {"UUID": uuid, "k": k})
        store.put_checkpoint(uuid, "shard-0", f"seq-{k}")


def _events_change(store: EventStore, k: int) -> None:
    store.reschedule_event("e1", NOW + 60, 1, 0, {"statusCode": 200 + k})
    store.delete_event("e2")
    store.delete_invoke_configs("fn", "live")
    store.put_mapping("uuid-1", {"UUID": "uuid-1", "k": k, "new": True})
    store.delete_mapping("uuid-2")
    store.put_mapping("uuid-3", {"UUID": "uuid-3"})
    store.put_checkpoint("uuid-1", "shard-0", f"seq-{k}-new")


def _events_look(store: EventStore) -> Any:
    return (
        store.event_schedule(),
        [store.get_event(event_id) for event_id in ("e1", "e2", "e3")],
        store.event_stats(),
        store.invoke_configs(),
        store.mappings(),
        store.checkpoints("uuid-1"),
        store.checkpoints("uuid-2"),
    )


def _events_clear_configs(store: EventStore, k: int) -> None:
    _events_change(store, k)
    store.delete_invoke_configs("fn")


# -- function URLs ---------------------------------------------------------------------------------


def _url(function: str, qualifier: str | None, k: int, auth: str = "NONE") -> UrlRow:
    url_id = f"{k}{function}{qualifier or ''}".ljust(32, "0")  # ids are unique across scopes
    return UrlRow(function, qualifier, url_id, auth, {"AllowOrigins": [str(k)]}, None, "c", "m")


def _urls_build(store: UrlStore, k: int) -> None:
    for function, qualifier in (("fn", None), ("fn", "live"), ("gone", None)):
        store.put(_url(function, qualifier, k))


def _urls_change(store: UrlStore, k: int) -> None:
    store.put(_url("fn", None, k, "AWS_IAM"))
    store.delete("fn", "live")
    store.delete_function("gone")


def _urls_look(store: UrlStore) -> Any:
    return store.all()


# -- schedules -------------------------------------------------------------------------------------


def _schedules_build(store: ScheduleStore, k: int) -> None:
    for schedule_id in ("s1", "s2"):
        store.put(ScheduleRow(schedule_id, "fn", None, f"rate({k} minutes)", None, NOW + k))


def _schedules_change(store: ScheduleStore, k: int) -> None:
    store.delete("s2")
    store.put(ScheduleRow("s3", "fn", "live", "rate(1 hour)", "{}", NOW))


def _schedules_look(store: ScheduleStore) -> Any:
    return store.all()


SCOPED_STORES = (
    FunctionStore,
    LayerStore,
    SettingsStore,
    PolicyStore,
    ServiceStore,
    CodeSigningStore,
    LogIndex,
    FunctionSettingsStore,
    EventStore,
    UrlStore,
    ScheduleStore,
)

CASES = [
    Case(FunctionStore, _functions_build, _functions_change, _functions_look),
    Case(LayerStore, _layers_build, _layers_change, _layers_look),
    Case(SettingsStore, _settings_build, _settings_change, _settings_look),
    Case(PolicyStore, _policies_build, _policies_change, _policies_look),
    Case(ServiceStore, _services_build, _services_change, _services_look),
    Case(CodeSigningStore, _code_signing_build, _code_signing_change, _code_signing_look),
    Case(LogIndex, _logs_build, _logs_change, _logs_look),
    Case(FunctionSettingsStore, _function_settings_build, _function_settings_change, _function_settings_look),
    Case(EventStore, _events_build, _events_change, _events_look),
    Case(EventStore, _events_build, _events_clear_configs, _events_look),
    Case(UrlStore, _urls_build, _urls_change, _urls_look),
    Case(ScheduleStore, _schedules_build, _schedules_change, _schedules_look),
]


def _alone(case: Case, path: Path, scope: Scope, k: int, change: bool) -> Any:
    """What ``scope`` sees after ``build`` (and ``change``) in a database of its own, and
    what ``change`` returned."""
    store = case.store(Database(path, scope), scope)
    case.build(store, k)
    changed = case.change(store, k) if change else None
    return case.look(store), changed


@pytest.mark.parametrize("other", [B, A_ELSEWHERE], ids=["other account", "other region"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_scope_sees_what_it_would_see_alone(case: Case, other: Scope, tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", A)
    mine, theirs = case.store(db, A), case.store(db, other)
    case.build(mine, 1)
    case.build(theirs, 2)
    assert (case.look(mine), None) == _alone(case, tmp_path / "a-built.db", A, 1, change=False)
    changed = case.change(mine, 1)
    assert (case.look(mine), changed) == _alone(case, tmp_path / "a.db", A, 1, change=True)
    assert (case.look(theirs), None) == _alone(case, tmp_path / "b.db", other, 2, change=False)
    assert case.look(case.store(db, Scope("333333333333", "us-east-1"))) == case.look(
        case.store(Database(tmp_path / "empty.db", A), A)
    )


def test_stores_of_two_scopes_keep_their_rows_in_one_table(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", A)
    for scope in (A, B):
        FunctionStore(db, scope).insert_function(FunctionRow("fn", "$LATEST", {}, "d"))
    rows = db.connection.execute("SELECT scope, name FROM functions ORDER BY scope").fetchall()
    assert rows == [(A.key, "fn"), (B.key, "fn")]


def test_deleting_a_function_in_one_transaction_touches_only_its_scope(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", A)
    stores = {scope: (FunctionStore(db, scope), PolicyStore(db, scope)) for scope in (A, B)}
    for functions, policies in stores.values():
        functions.insert_function(FunctionRow("fn", "$LATEST", {}, "d"))
        policies.put(PolicyRow("fn", "", {}, "r"))
    functions, policies = stores[A]
    with db.transaction():
        functions.delete_function("fn")
        policies.delete_function("fn")
    assert functions.all_functions() == [] and policies.all() == []
    assert [row.name for row in stores[B][0].all_functions()] == ["fn"]
    assert [row.name for row in stores[B][1].all()] == ["fn"]


def test_code_in_use_is_counted_across_scopes_for_the_shared_blob_store(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", A)
    FunctionStore(db, A).insert_function(FunctionRow("fn", "$LATEST", {}, "digest-a"))
    FunctionStore(db, B).insert_function(FunctionRow("fn", "$LATEST", {}, "digest-b"))
    LayerStore(db, B).publish("lib", lambda n: LayerVersionRow("lib", n, {}, "layer-b", 1))
    assert FunctionStore(db, A).code_digests() == {"digest-a", "digest-b"}
    assert LayerStore(db, A).code_digests() == {"layer-b"}


def test_the_owner_of_a_url_id_is_found_without_knowing_its_scope(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", A)
    assert UrlStore.owner_of(db, "x" * 32) is None  # no UrlStore built yet: no table either
    UrlStore(db, A).put(_url("fn", None, 1))
    UrlStore(db, B).put(_url("fn", None, 2))
    assert UrlStore.owner_of(db, _url("fn", None, 1).url_id) == A
    assert UrlStore.owner_of(db, _url("fn", None, 2).url_id) == B
    assert UrlStore.owner_of(db, "x" * 32) is None


def test_a_url_id_of_another_scope_is_refused_and_theirs_kept(tmp_path: Path) -> None:
    db = Database(tmp_path / "flare.db", A)
    mine, theirs = UrlStore(db, A), UrlStore(db, B)
    theirs.put(_url("fn", None, 2))
    with pytest.raises(sqlite3.IntegrityError):
        mine.put(replace(_url("other", None, 1), url_id=_url("fn", None, 2).url_id))
    assert theirs.all() == [_url("fn", None, 2)] and mine.all() == []
