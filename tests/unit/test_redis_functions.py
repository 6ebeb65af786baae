"""The registry's stores on a real ``redis-server``: compare-and-set, one-script deletes, the
change notices written with each change, access keys and shared code blobs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from flare.clock import ManualClock
from flare.cluster.link import ClusterLink
from flare.cluster.redis_access_keys import RedisAccessKeyStore
from flare.cluster.redis_blobs import UNUSED_GRACE_S, SharedBlobStore, blob_key, unused_key
from flare.cluster.redis_functions import FunctionScripts, RedisFunctionStore
from flare.cluster.redis_layers import RedisLayerStore
from flare.cluster.redis_policies import RedisPolicyStore
from flare.errors import InvalidZipFile, StaleRevision
from flare.scope import Scope
from flare.store.access_keys import KeyExists
from flare.store.database import Database
from flare.store.functions import AliasRow, FunctionRow
from flare.store.layers import LayerVersionRow
from flare.store.policies import PolicyRow
from flare.store.storage import FunctionStorage, PolicyStorage
from tests.redis_server import available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed")

SCOPE = Scope("123456789012", "us-east-1")
OTHER = Scope("210987654321", "eu-west-1")


def function_store(link: ClusterLink, tmp_path: Path, scope: Scope = SCOPE) -> FunctionStorage:
    return RedisFunctionStore(
        link, scope, FunctionScripts.register(link.sync), Database(tmp_path / "f.db", scope)
    )


def row(name: str, version: str = "$LATEST", revision: str = "r1", digest: str = "d1") -> FunctionRow:
    config = {"FunctionName": name, "Version": version, "RevisionId": revision, "Layers": []}
    return FunctionRow(name, version, config, digest, {"team": "x"})


def test_a_version_is_inserted_once_with_the_next_seq(link: ClusterLink, tmp_path: Path) -> None:
    functions = function_store(link, tmp_path)
    first = functions.insert_function(row("f"))
    second = functions.insert_function(row("g"))
    assert (first.seq, second.seq) == (1, 2)
    with pytest.raises(StaleRevision):
        functions.insert_function(row("f", revision="other"))
    assert functions.get_function("f", "$LATEST") == first
    assert [r.name for r in functions.all_functions()] == ["f", "g"]


def test_an_update_against_a_moved_revision_is_refused_and_changes_nothing(
    link: ClusterLink, tmp_path: Path
) -> None:
    functions = function_store(link, tmp_path)
    functions.insert_function(row("f"))
    functions.update_function(row("f", revision="r2", digest="d2"), expected_revision="r1")
    with pytest.raises(StaleRevision):
        functions.update_function(row("f", revision="r3", digest="d3"), expected_revision="r1")
    kept = functions.get_function("f", "$LATEST")
    assert kept is not None and (kept.config["RevisionId"], kept.code_digest, kept.seq) == ("r2", "d2", 1)
    assert kept.config["Layers"] == []  # the record is stored as given (an empty list stays a list)
    with pytest.raises(StaleRevision):
        functions.update_function(row("gone"), expected_revision=None)


def test_publishing_raises_the_counter_and_deleting_a_version_keeps_it(
    link: ClusterLink, tmp_path: Path
) -> None:
    functions = function_store(link, tmp_path)
    functions.insert_function(row("f"))
    functions.publish_version(row("f", "1"))
    functions.publish_version(row("f", "2"))
    with pytest.raises(StaleRevision):
        functions.publish_version(row("f", "2"))
    assert functions.delete_version("f", "2") == 1
    assert functions.version_counters() == {"f": 2}
    assert [r.version for r in functions.function_rows("f")] == ["$LATEST", "1"]


def test_deleting_a_function_takes_its_versions_aliases_and_counter_in_one_script(
    link: ClusterLink, tmp_path: Path
) -> None:
    functions = function_store(link, tmp_path)
    functions.insert_function(row("f"))
    functions.publish_version(row("f", "1"))
    functions.put_alias(AliasRow("f", "live", {"Name": "live", "FunctionVersion": "1"}))
    functions.insert_function(row("g"))
    functions.put_alias(AliasRow("g", "live", {"Name": "live", "FunctionVersion": "$LATEST"}))
    assert functions.delete_function("f") == 2
    assert functions.function_rows("f") == [] and "f" not in functions.version_counters()
    assert [(a.name, a.alias) for a in functions.all_aliases()] == [("g", "live")]
    assert [r.name for r in functions.all_functions()] == ["g"]
    functions.insert_function(row("f"))  # made again: nothing of the old one comes back
    assert [(a.name, a.alias) for a in functions.all_aliases()] == [("g", "live")]
    assert [r.version for r in functions.function_rows("f")] == ["$LATEST"]


def test_every_change_publishes_a_notice_naming_the_writer_and_function(
    link: ClusterLink, tmp_path: Path
) -> None:
    functions = function_store(link, tmp_path)
    listener = link.sync.pubsub()
    listener.psubscribe("flare:{*}:changes")
    assert listener.get_message(timeout=2)["type"] == "psubscribe"
    functions.insert_function(row("f"))
    functions.update_function(row("f", revision="r2"), "r1")
    functions.put_alias(AliasRow("f", "live", {"Name": "live"}))
    functions.delete_function("f")
    heard = [listener.get_message(timeout=2) for _ in range(4)]
    listener.close()
    assert {message["channel"] for message in heard} == {b"flare:{123456789012:us-east-1}:changes"}
    assert [json.loads(message["data"]) for message in heard] == [{"node": "node-a", "function": "f"}] * 4


def test_code_digests_and_scopes_span_every_scope(link: ClusterLink, tmp_path: Path) -> None:
    function_store(link, tmp_path).insert_function(row("f", digest="one"))
    function_store(link, tmp_path, OTHER).insert_function(row("f", digest="two"))
    assert function_store(link, tmp_path).code_digests() == {"one", "two"}
    assert link.sync.smembers("flare:cluster:scopes") == {SCOPE.key.encode(), OTHER.key.encode()}


def test_access_keys_are_shared_and_an_account_has_one(link: ClusterLink) -> None:
    keys = RedisAccessKeyStore(link.sync)
    made = keys.create("210987654321", "123456789012", 100.0)
    admin = keys.create("123456789012", "123456789012", 50.0, admin=True)
    with pytest.raises(KeyExists):
        keys.create("210987654321", "123456789012", 200.0)
    assert RedisAccessKeyStore(link.sync).find(made.access_key_id) == made
    assert keys.list() == [admin, made] and keys.count() == 2
    assert keys.delete(made.access_key_id) and not keys.delete(made.access_key_id)
    assert keys.find(made.access_key_id) is None


def test_a_blob_is_fetched_once_by_another_node_and_refused_when_it_does_not_hash(
    link: ClusterLink, tmp_path: Path
) -> None:
    data, forged = b"PK\x05\x06" + b"\x00" * 18, b"not the same bytes"
    digest = SharedBlobStore(tmp_path / "a", link.sync).put(data)
    assert digest == hashlib.sha256(data).hexdigest() and link.sync.get(blob_key(digest)) == data
    other = SharedBlobStore(tmp_path / "b", link.sync)
    assert other.path(digest).read_bytes() == data
    link.sync.set(blob_key(digest), forged)
    third = SharedBlobStore(tmp_path / "c", link.sync)
    with pytest.raises(InvalidZipFile):
        third.path(digest)
    assert not (tmp_path / "c" / "blobs" / "sha256" / f"{digest}.zip").exists()
    with pytest.raises(InvalidZipFile):
        third.path("0" * 64)  # in no store at all


def test_a_shared_directory_holds_the_blobs_instead_of_redis(link: ClusterLink, tmp_path: Path) -> None:
    data = b"PK\x05\x06" + b"\x00" * 18
    shared = tmp_path / "shared"
    digest = SharedBlobStore(tmp_path / "a", link.sync, shared).put(data)
    assert link.sync.get(blob_key(digest)) is None and (shared / f"{digest}.zip").read_bytes() == data
    assert SharedBlobStore(tmp_path / "b", link.sync, shared).path(digest).read_bytes() == data


def zip_of(text: str) -> bytes:
    return b"PK\x05\x06" + b"\x00" * 18 + text.encode()


def test_a_shared_zip_nothing_uses_goes_after_the_grace_and_a_used_one_stays(
    link: ClusterLink, tmp_path: Path
) -> None:
    clock = ManualClock()
    used, unused = zip_of("used"), zip_of("unused")
    uploader = SharedBlobStore(tmp_path / "a", link.sync, clock=clock)
    kept, dropped = uploader.put(used), uploader.put(unused)
    sweeper = SharedBlobStore(tmp_path / "b", link.sync, clock=clock)
    sweeper.delete_unused({kept})  # first seen unused: marked, not deleted
    clock.advance(UNUSED_GRACE_S - 1)
    sweeper.delete_unused({kept})
    assert link.sync.get(blob_key(dropped)) == unused
    clock.advance(2)
    sweeper.delete_unused({kept})
    assert link.sync.get(blob_key(dropped)) is None and link.sync.get(unused_key(dropped)) is None
    assert link.sync.get(blob_key(kept)) == used and link.sync.get(unused_key(kept)) is None


def test_uploading_a_zip_again_or_using_it_again_starts_its_grace_over(
    link: ClusterLink, tmp_path: Path
) -> None:
    clock = ManualClock()
    data = zip_of("again")
    node_a = SharedBlobStore(tmp_path / "a", link.sync, clock=clock)
    digest = node_a.put(data)
    sweeper = SharedBlobStore(tmp_path / "b", link.sync, clock=clock)
    sweeper.delete_unused(set())
    clock.advance(UNUSED_GRACE_S + 1)
    node_a.put(data)  # another node uploads it for a function it is about to store
    sweeper.delete_unused(set())
    assert link.sync.get(blob_key(digest)) == data
    clock.advance(UNUSED_GRACE_S - 1)
    sweeper.delete_unused({digest})  # stored meanwhile: its mark goes
    clock.advance(UNUSED_GRACE_S + 1)
    sweeper.delete_unused(set())  # unused from here on: marked anew, not deleted
    assert link.sync.get(blob_key(digest)) == data


def policies(link: ClusterLink, scope: Scope = SCOPE) -> PolicyStorage:
    scripts = FunctionScripts.register(link.sync)
    return RedisPolicyStore(link, scope, scripts.policy_put, scripts.policy_delete_function)


def test_a_policy_is_replaced_only_over_the_revision_its_writer_read(link: ClusterLink) -> None:
    store = policies(link)
    store.put(PolicyRow("f", "", {"Statement": [1]}, "p1"), expected_revision="")
    with pytest.raises(StaleRevision):
        store.put(PolicyRow("f", "", {"Statement": [2]}, "p2"), expected_revision="")  # it exists now
    with pytest.raises(StaleRevision):
        store.put(PolicyRow("f", "", {"Statement": [3]}, "p3"), expected_revision="p0")
    store.put(PolicyRow("f", "", {"Statement": [1, 4]}, "p4"), expected_revision="p1")
    store.put(PolicyRow("f", "live", {"Statement": [5]}, "p5"))  # None: whatever is stored
    assert store.all() == [
        PolicyRow("f", "", {"Statement": [1, 4]}, "p4"),
        PolicyRow("f", "live", {"Statement": [5]}, "p5"),
    ]


def test_deleting_a_function_takes_its_policies_and_only_its_own(link: ClusterLink, tmp_path: Path) -> None:
    functions, store = function_store(link, tmp_path), policies(link)
    functions.insert_function(row("f"))
    store.put(PolicyRow("f", "", {}, "a"))
    store.put(PolicyRow("f", "1", {}, "b"))
    store.put(PolicyRow("fx", "", {}, "c"))  # a name that starts like it
    functions.delete_function("f")
    assert [(p.name, p.qualifier) for p in store.all()] == [("fx", "")]
    assert store.delete("fx", "") and not store.delete("fx", "")


def layer_row(version: int, digest: str = "z1") -> LayerVersionRow:
    return LayerVersionRow("ignored", version, {"Version": version, "CompatibleRuntimes": []}, digest, 10)


def test_layer_numbers_are_never_given_out_twice_and_deleted_versions_wait_for_their_users(
    link: ClusterLink,
) -> None:
    layers = RedisLayerStore(link, SCOPE)
    assert [layers.publish("lib", layer_row).version for _ in range(3)] == [1, 2, 3]
    assert (
        layers.mark_deleted("lib", 3)
        and not layers.mark_deleted("lib", 3)
        and not layers.mark_deleted("lib", 9)
    )
    assert layers.publish("lib", layer_row).version == 4  # 3 is not reused
    assert [row.version for row in layers.live("lib")] == [4, 2, 1]
    stored = layers.get("lib", 3)
    assert stored is not None and stored.deleted and stored.config == {"Version": 3, "CompatibleRuntimes": []}
    layers.mark_deleted("lib", 1)
    assert layers.purge_deleted(keep={("lib", 1)}) == [("lib", 3)]
    assert layers.get("lib", 3) is None and layers.get("lib", 1) is not None
    layers.set_policy("lib", 2, [{"Sid": "s"}], "rev")
    assert [
        (row.version, row.policy, row.policy_revision) for row in RedisLayerStore(link, SCOPE).live()
    ] == [
        (4, [], None),
        (2, [{"Sid": "s"}], "rev"),
    ]
    assert layers.code_digests() == {"z1"}
