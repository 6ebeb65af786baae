"""Function URLs, function settings, code signing configs, role policies and secrets on a real
``redis-server``: what the SQLite stores keep, kept, and every write announced."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from flare.cluster.link import ClusterLink
from flare.cluster.redis_code_signing import RedisCodeSigningStore
from flare.cluster.redis_function_settings import RedisFunctionSettingsStore
from flare.cluster.redis_invoke_configs import RedisInvokeConfigStore
from flare.cluster.redis_role_policies import RedisRolePolicyStore
from flare.cluster.redis_schedules import CLAIM, RedisScheduleStore
from flare.cluster.redis_secrets import RedisSecretStore
from flare.cluster.redis_settings import RedisSettingsStore
from flare.cluster.redis_urls import RedisUrlStore
from flare.scope import Scope
from flare.store.code_signing import CodeSigningRow
from flare.store.function_settings import RuntimeManagementRow
from flare.store.schedules import ScheduleRow
from flare.store.settings import ProvisionedRow
from flare.store.storage import (
    CodeSigningStorage,
    FunctionSettingsStorage,
    InvokeConfigStorage,
    RolePolicyStorage,
    ScheduleStorage,
    SettingsStorage,
    UrlStorage,
)
from flare.store.urls import UrlRow
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed")

SCOPE = Scope("123456789012", "us-east-1")


@pytest.fixture
def heard(link: ClusterLink) -> Iterator[redis.client.PubSub]:
    listener = link.sync.pubsub()
    listener.subscribe(link.scoped(SCOPE, "changes"))
    assert listener.get_message(timeout=2)["type"] == "subscribe"
    yield listener
    listener.close()


def notices(listener: redis.client.PubSub, count: int) -> list[tuple[str, str]]:
    found = [json.loads(listener.get_message(timeout=2)["data"]) for _ in range(count)]
    return [(notice["concern"], notice["function"]) for notice in found]


def url(function: str, qualifier: str | None, url_id: str) -> UrlRow:
    return UrlRow(function, qualifier, url_id, "NONE", {"AllowOrigins": ["*"]}, None, "t0", "t1")


def test_urls_are_kept_by_function_and_alias_and_go_with_their_function(
    link: ClusterLink, heard: redis.client.PubSub
) -> None:
    urls: UrlStorage = RedisUrlStore(link, SCOPE)
    urls.put(url("f", None, "a" * 32))
    urls.put(url("f", "live", "b" * 32))
    urls.put(url("fx", None, "c" * 32))
    assert urls.all() == [url("f", None, "a" * 32), url("f", "live", "b" * 32), url("fx", None, "c" * 32)]
    assert urls.delete_function("f") == 2 and urls.delete_function("f") == 0
    assert urls.delete("fx", None) and not urls.delete("fx", None)
    assert notices(heard, 6) == [
        ("urls", "f"),
        ("urls", "f"),
        ("urls", "fx"),
        ("urls", "f"),
        ("urls", "fx"),
        ("urls", "fx"),
    ]


def test_function_settings_are_kept_and_go_with_their_version_or_function(
    link: ClusterLink, heard: redis.client.PubSub
) -> None:
    settings: FunctionSettingsStorage = RedisFunctionSettingsStore(link, SCOPE)
    settings.put_recursion("f", "Allow")
    settings.put_runtime_management(RuntimeManagementRow("f", "$LATEST", "Auto", None))
    settings.put_runtime_management(RuntimeManagementRow("f", "1", "Manual", "arn:runtime"))
    settings.delete_version("f", "$LATEST")
    assert settings.recursion() == {"f": "Allow"}
    assert settings.runtime_management() == [RuntimeManagementRow("f", "1", "Manual", "arn:runtime")]
    settings.delete_function("f")
    assert settings.recursion() == {} and settings.runtime_management() == []
    assert notices(heard, 5) == [("function_settings", "f")] * 5


def test_code_signing_configs_keep_their_order_and_bindings(
    link: ClusterLink, heard: redis.client.PubSub
) -> None:
    signing: CodeSigningStorage = RedisCodeSigningStore(link, SCOPE)
    first = signing.put_config(CodeSigningRow("csc-1", {"Description": "one"}, {"team": "a"}))
    second = signing.put_config(CodeSigningRow("csc-2", {"Description": "two"}))
    again = signing.put_config(CodeSigningRow("csc-1", {"Description": "changed"}))
    assert (first.seq, second.seq, again.seq) == (1, 2, 1)
    assert [(row.id, row.config["Description"]) for row in signing.configs()] == [
        ("csc-1", "changed"),
        ("csc-2", "two"),
    ]
    signing.bind("f", "csc-2")
    assert signing.bindings() == {"f": "csc-2"}
    assert signing.unbind("f") and not signing.unbind("f")
    assert signing.delete_config("csc-2") and [row.id for row in signing.configs()] == ["csc-1"]
    assert [concern for concern, _ in notices(heard, 7)] == ["code_signing"] * 7


def test_role_policies_are_global_listed_per_account_and_announced_on_the_cluster_channel(
    link: ClusterLink,
) -> None:
    listener = link.sync.pubsub()
    listener.subscribe("flare:cluster:changes")
    assert listener.get_message(timeout=2)["type"] == "subscribe"
    mine, theirs = "arn:aws:iam::123456789012:role/a/b", "arn:aws:iam::210987654321:role/c"
    store: RolePolicyStorage = RedisRolePolicyStore(link.sync, "node-a")
    store.put(mine, "second", '{"s": 2}')
    store.put(mine, "first", '{"s": 1}')
    store.put(theirs, "only", "{}")
    assert store.documents(mine) == [("first", '{"s": 1}'), ("second", '{"s": 2}')]
    assert store.roles("123456789012") == [(mine, ["first", "second"])]
    assert store.delete(mine, "first") and not store.delete(mine, "first")
    assert store.delete_role(mine) == 1 and store.roles("123456789012") == []
    heard = [json.loads(listener.get_message(timeout=2)["data"]) for _ in range(6)]
    listener.close()
    assert [(n["concern"], n["function"]) for n in heard] == [("role_policies", mine)] * 2 + [
        ("role_policies", theirs)
    ] + [("role_policies", mine)] * 3


def test_a_secret_is_made_once_for_every_node(link: ClusterLink, redis_server: RedisServer) -> None:
    first = RedisSecretStore(link.sync).key("code-url")
    other = ClusterLink(redis_server.url, "node-b")
    assert len(first) == 32 and RedisSecretStore(other.sync).key("code-url") == first
    assert RedisSecretStore(other.sync).key("another") != first
    other.sync.close()


def test_invoke_configs_are_kept_by_qualifier_and_go_with_their_function(
    link: ClusterLink, heard: redis.client.PubSub
) -> None:
    configs: InvokeConfigStorage = RedisInvokeConfigStore(link, SCOPE)
    configs.put_invoke_config("f", "$LATEST", {"MaximumRetryAttempts": 0})
    configs.put_invoke_config("f", "live", {"MaximumRetryAttempts": 1})
    configs.put_invoke_config("fx", "$LATEST", {})
    assert configs.invoke_configs() == {
        ("f", "$LATEST"): {"MaximumRetryAttempts": 0},
        ("f", "live"): {"MaximumRetryAttempts": 1},
        ("fx", "$LATEST"): {},
    }
    assert configs.delete_invoke_configs("f", "live") == 1
    assert configs.delete_invoke_configs("f") == 1 and configs.delete_invoke_configs("f") == 0
    assert list(configs.invoke_configs()) == [("fx", "$LATEST")]
    assert (
        notices(heard, 5)
        == [("invoke_configs", "f")] * 2 + [("invoke_configs", "fx")] + [("invoke_configs", "f")] * 2
    )


def test_a_schedules_firing_is_claimed_once_and_never_before_a_later_one(
    link: ClusterLink, heard: redis.client.PubSub
) -> None:
    schedules: ScheduleStorage = RedisScheduleStore(link, SCOPE, link.sync.register_script(CLAIM))
    row = ScheduleRow("s1", "f", None, "rate(1 minute)", '{"warm": true}', 100.0)
    schedules.put(row)
    schedules.put(ScheduleRow("s0", "g", "live", "rate(5 minutes)", None, 50.0))
    assert [r.id for r in schedules.all()] == ["s0", "s1"] and schedules.all()[1] == row
    assert schedules.claim("s1", 160.0) and not schedules.claim("s1", 160.0)  # the other node's timer
    assert not schedules.claim("s1", 100.0) and schedules.claim("s1", 220.0)
    assert schedules.delete("s1") and not schedules.delete("s1")
    assert schedules.claim("s1", 100.0)  # a schedule made again under the id starts afresh
    assert [concern for concern, _ in notices(heard, 4)] == ["schedules"] * 4


def test_concurrency_settings_are_kept_and_announced(link: ClusterLink, heard: redis.client.PubSub) -> None:
    settings: SettingsStorage = RedisSettingsStore(link, SCOPE)
    settings.put_reserved("f", 3)
    settings.put_provisioned(ProvisionedRow("f", "2", 1, "t0"))
    settings.put_provisioned(ProvisionedRow("f", "live", 2, "t1"))
    assert settings.reserved() == {"f": 3}
    assert settings.provisioned() == [ProvisionedRow("f", "2", 1, "t0"), ProvisionedRow("f", "live", 2, "t1")]
    assert settings.delete_reserved("f") and not settings.delete_reserved("f")
    assert settings.delete_provisioned("f", "2") and not settings.delete_provisioned("f", "2")
    assert notices(heard, 7) == [("settings", "f")] * 7
