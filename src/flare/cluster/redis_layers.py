"""The layer versions of one scope, on the cluster's Redis (a ``LayerStorage``).

Keys (the scope's hash tag, ``ClusterLink.scoped``)::

    flare:{<scope>}:layer:<name>        HASH  version => {"config", "code_digest", "unzipped_size"}
    flare:{<scope>}:layer-names         SET   every layer name with a stored version
    flare:{<scope>}:layer-counters      HASH  name => highest version number ever given out
    flare:{<scope>}:layer-deleted       HASH  "<name>/<version>" => 1 once DeleteLayerVersion ran
    flare:{<scope>}:layer-policies      HASH  "<name>/<version>" => {"policy", "revision"}

A version's number comes from ``HINCRBY`` on its counter, so two nodes publishing at once get
two numbers and a number is never given out twice (one that a failed publish took is skipped,
as a deleted one is). Deleting hides the version (``layer-deleted``); a version still listed by
some function stays stored until ``purge_deleted`` finds it unused, as in SQLite. A version's
zip is a shared code blob (``redis_blobs``). Layers are read from Redis at every use (the
``Layers`` controller keeps no cache), so no change notice is needed: every node sees a
publish, a delete or a permission at its next read.

A permission is written with compare-and-set (one Lua script): the policy is replaced only
while its RevisionId is still the one the controller read, so two nodes changing one version's
permissions at the same instant both land, one after the other (``control/stale_writes``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flare.cluster.link import PREFIX, ClusterLink
from flare.errors import StaleRevision
from flare.scope import Scope
from flare.store.layers import LayerVersionRow

# KEYS: policies; ARGV: field, new value, expected RevisionId ('' : none stored). 0: refused.
_POLICY_PUT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local revision = ''
if current then
  local stored = cjson.decode(current)['revision']
  if type(stored) == 'string' then revision = stored end
end
if revision ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisLayerStore:
    """The layer versions of ``scope`` in the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope) -> None:
        self.scope = scope
        self._link = link
        self._client = link.sync
        self._names = link.scoped(scope, "layer-names")
        self._counters = link.scoped(scope, "layer-counters")
        self._deleted = link.scoped(scope, "layer-deleted")
        self._policies = link.scoped(scope, "layer-policies")
        self._policy_put = link.sync.register_script(_POLICY_PUT)

    def __repr__(self) -> str:
        return f"<RedisLayerStore {self.scope.key}>"

    def _versions(self, name: str) -> str:
        return self._link.scoped(self.scope, "layer", name)

    def publish(self, name: str, build: Callable[[int], LayerVersionRow]) -> LayerVersionRow:
        number = int(self._client.hincrby(self._counters, name, 1))
        row = replace(build(number), name=name)
        record = {"config": row.config, "code_digest": row.code_digest, "unzipped_size": row.unzipped_size}
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(self._versions(name), str(row.version), json.dumps(record))
            pipe.sadd(self._names, name)
            if row.policy or row.policy_revision is not None:
                pipe.hset(self._policies, f"{name}/{row.version}", _policy(row.policy, row.policy_revision))
            pipe.execute()
        return row

    def get(self, name: str, version: int) -> LayerVersionRow | None:
        field = f"{name}/{version}"
        with self._client.pipeline(transaction=False) as pipe:
            pipe.hget(self._versions(name), str(version))
            pipe.hget(self._deleted, field)
            pipe.hget(self._policies, field)
            record, deleted, policy = pipe.execute()
        return None if record is None else _row(name, version, record, deleted is not None, policy)

    def live(self, name: str | None = None) -> list[LayerVersionRow]:
        names = [name] if name is not None else sorted(_text(n) for n in self._client.smembers(self._names))
        with self._client.pipeline(transaction=False) as pipe:
            for each in names:
                pipe.hgetall(self._versions(each))
            pipe.hgetall(self._deleted)
            pipe.hgetall(self._policies)
            *found, deleted, policies = pipe.execute()
        gone = {_text(key) for key in deleted}
        statements = {_text(key): value for key, value in policies.items()}
        rows = [
            _row(each, int(version), record, False, statements.get(f"{each}/{_text(version)}"))
            for each, versions in zip(names, found, strict=True)
            for version, record in versions.items()
            if f"{each}/{_text(version)}" not in gone
        ]
        return sorted(rows, key=lambda row: (row.name, -row.version))

    def mark_deleted(self, name: str, version: int) -> bool:
        if not self._client.hexists(self._versions(name), str(version)):
            return False
        return bool(self._client.hsetnx(self._deleted, f"{name}/{version}", 1))

    def set_policy(
        self,
        name: str,
        version: int,
        policy: list[dict[str, Any]],
        revision: str | None,
        expected_revision: str | None = None,
    ) -> None:
        field, value = f"{name}/{version}", _policy(policy, revision)
        if expected_revision is None:
            self._client.hset(self._policies, field, value)
        elif not self._policy_put(keys=[self._policies], args=[field, value, expected_revision]):
            raise StaleRevision(f"layer {name}:{version}'s policy moved")

    def purge_deleted(self, keep: set[tuple[str, int]]) -> list[tuple[str, int]]:
        deleted = [_text(key).rpartition("/") for key in self._client.hkeys(self._deleted)]
        doomed = [(name, int(number)) for name, _, number in deleted if (name, int(number)) not in keep]
        with self._client.pipeline(transaction=True) as pipe:
            for name, version in doomed:
                pipe.hdel(self._versions(name), str(version))
                pipe.hdel(self._deleted, f"{name}/{version}")
                pipe.hdel(self._policies, f"{name}/{version}")
            pipe.execute()
        return doomed

    def code_digests(self) -> set[str]:
        """The zip digest of every layer version of any scope in the cluster."""
        digests: set[str] = set()
        for key in self._client.scan_iter(match=f"{PREFIX}:{{*}}:layer:*", count=500):
            digests |= {json.loads(value)["code_digest"] for value in self._client.hvals(key)}
        return digests


def _policy(policy: list[dict[str, Any]], revision: str | None) -> str:
    return json.dumps({"policy": policy, "revision": revision})


def _row(
    name: str, version: int, record: bytes | str, deleted: bool, policy: bytes | str | None
) -> LayerVersionRow:
    fields = json.loads(record)
    statements = json.loads(policy) if policy is not None else {"policy": [], "revision": None}
    return LayerVersionRow(
        name,
        version,
        fields["config"],
        fields["code_digest"],
        int(fields["unzipped_size"]),
        deleted,
        statements["policy"],
        statements["revision"],
    )
