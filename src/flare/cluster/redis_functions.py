"""The functions, versions and aliases of one scope, on the cluster's Redis (a ``FunctionStorage``).

Keys (all in the scope's hash tag, ``ClusterLink.scoped``, so every script touches one slot)::

    flare:{<scope>}:function:<name>     HASH  version => "[<seq>,<record>]"; <record> is the JSON
                                              {"config": ..., "code_digest": ..., "tags": ...}
    flare:{<scope>}:function-names      SET   every function name
    flare:{<scope>}:function-seq        STRING the scope's creation counter (a version's ``seq``)
    flare:{<scope>}:version-counters    HASH  name => highest version number ever published
    flare:{<scope>}:aliases:<name>      HASH  alias => its AliasConfiguration (JSON)
    flare:{<scope>}:policies            HASH  the scope's resource policies (``redis_policies``)
    flare:cluster:scopes                SET   every scope that ever held a function

Every write publishes ``{"node": <writer>, "function": <name>}`` on ``flare:{<scope>}:changes``
in the same script or ``MULTI``, so a node that hears it (``registry_changes.py``) reads the
function back: the change and its notice are one. Compare-and-set happens in Lua: a version is
inserted only if absent (``StaleRevision`` otherwise: another node made it first) and replaced
only while its stored RevisionId is the one the writer cached; an alias likewise, and only while
its function exists. Deleting a function (versions,
aliases, counter, resource policies) is one script.

A version's counter stays when the version is deleted (numbers are not reused) and goes with
the function, as in the SQLite store. The scripts are registered once per node
(``FunctionScripts``); all calls use the node's synchronous client (control-plane calls, off the
invoke path: the registry answers invokes from memory).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flare.cluster import redis_policies
from flare.cluster.link import PREFIX, ClusterLink
from flare.errors import StaleRevision
from flare.scope import Scope
from flare.store.database import Database
from flare.store.functions import AliasRow, FunctionRow

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

SCOPES_KEY = ClusterLink.cluster_key("scopes")

# KEYS: function, names, seq[, counters]; ARGV: version, record, name, channel, message[, number]
_INSERT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], '[' .. seq .. ',' .. ARGV[2] .. ']')
redis.call('SADD', KEYS[2], ARGV[3])
if KEYS[4] then
  local last = tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0')
  if tonumber(ARGV[6]) > last then redis.call('HSET', KEYS[4], ARGV[3], ARGV[6]) end
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return seq
"""
# KEYS: function; ARGV: version, record, expected RevisionId ('' for any), channel, message
_UPDATE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local seq, stored = string.match(current, '^%[(%d+),(.*)%]$')
if ARGV[3] ~= '' and cjson.decode(stored)['config']['RevisionId'] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '[' .. seq .. ',' .. ARGV[2] .. ']')
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""
# KEYS: function, aliases; ARGV: alias, config, expected ('' absent, '*' any, else the stored
# RevisionId), channel, message. Refused (0) when the function went or the alias moved.
_ALIAS_PUT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if ARGV[3] == '' then
  if current then return 0 end
elseif ARGV[3] ~= '*' then
  if not current or cjson.decode(current)['RevisionId'] ~= ARGV[3] then return 0 end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""
# KEYS: function, aliases, counters, names, policies; ARGV: name, channel, message
_DELETE = """
local versions = redis.call('HLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
local prefix = ARGV[1] .. '/'
for _, field in ipairs(redis.call('HKEYS', KEYS[5])) do
  if string.sub(field, 1, #prefix) == prefix then redis.call('HDEL', KEYS[5], field) end
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return versions
"""


@dataclass(frozen=True)
class FunctionScripts:
    """The Lua scripts of the function stores, registered once on a node's client."""

    insert: Script
    update: Script
    delete: Script
    policy_put: Script
    policy_delete_function: Script
    alias_put: Script

    @classmethod
    def register(cls, client: redis.Redis) -> FunctionScripts:
        return cls(
            *(
                client.register_script(script)
                for script in (
                    _INSERT,
                    _UPDATE,
                    _DELETE,
                    redis_policies.PUT,
                    redis_policies.DELETE_FUNCTION,
                    _ALIAS_PUT,
                )
            )
        )


def _record(row: FunctionRow) -> str:
    return json.dumps({"config": row.config, "code_digest": row.code_digest, "tags": row.tags})


def _parse(name: str, version: str, value: bytes | str) -> FunctionRow:
    seq, record = json.loads(value)
    return FunctionRow(name, version, record["config"], record["code_digest"], record.get("tags") or {}, seq)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisFunctionStore:
    """The functions of ``scope`` in the cluster's Redis (see the module docstring); ``local``
    is the node's SQLite database, whose transaction the other concerns' writes still share."""

    def __init__(self, link: ClusterLink, scope: Scope, scripts: FunctionScripts, local: Database) -> None:
        self.scope = scope
        self._client = link.sync
        self._node = link.node_name
        self._scripts = scripts
        self._local = local
        self._names = link.scoped(scope, "function-names")
        self._seq = link.scoped(scope, "function-seq")
        self._counters = link.scoped(scope, "version-counters")
        self.channel = link.scoped(scope, "changes")
        self._link = link

    def __repr__(self) -> str:
        return f"<RedisFunctionStore {self.scope.key} on {self._link.url}>"

    def _function(self, name: str) -> str:
        return self._link.scoped(self.scope, "function", name)

    def _aliases(self, name: str) -> str:
        return self._link.scoped(self.scope, "aliases", name)

    def _notice(self, name: str) -> str:
        return json.dumps({"node": self._node, "function": name})

    def transaction(self) -> AbstractContextManager[object]:
        """The node's SQLite transaction: the concerns still kept there change together; this
        store's own writes are each one script."""
        return self._local.transaction()

    def insert_function(self, row: FunctionRow) -> FunctionRow:
        """Store a new version. Raises StaleRevision when it exists (another node made it)."""
        return self._insert(row, [])

    def publish_version(self, row: FunctionRow) -> FunctionRow:
        """Store published version ``row.version`` and raise the counter to it, at once. Raises
        StaleRevision when that version exists (another node published it first)."""
        return self._insert(row, [self._counters])

    def _insert(self, row: FunctionRow, counters: list[str]) -> FunctionRow:
        keys = [self._function(row.name), self._names, self._seq, *counters]
        args: list[Any] = [row.version, _record(row), row.name, self.channel, self._notice(row.name)]
        seq = int(self._scripts.insert(keys=keys, args=[*args, row.version if counters else "0"]))
        if seq == 0:
            raise StaleRevision(f"{row.name}:{row.version} exists")
        self._client.sadd(SCOPES_KEY, self.scope.key)
        return FunctionRow(row.name, row.version, row.config, row.code_digest, row.tags, seq)

    def update_function(self, row: FunctionRow, expected_revision: str | None = None) -> None:
        """Replace a stored version (its ``seq`` kept), if its RevisionId is still
        ``expected_revision`` (any, when None). Raises StaleRevision when it moved or went."""
        args = [row.version, _record(row), expected_revision or "", self.channel, self._notice(row.name)]
        if not int(self._scripts.update(keys=[self._function(row.name)], args=args)):
            raise StaleRevision(f"{row.name}:{row.version} moved")

    def version_counters(self) -> dict[str, int]:
        found: dict[Any, Any] = self._client.hgetall(self._counters)
        return {_text(name): int(last) for name, last in found.items()}

    def version_counter(self, name: str) -> int | None:
        last = self._client.hget(self._counters, name)
        return None if last is None else int(last)

    def delete_function(self, name: str) -> int:
        """Delete every version, alias and the counter of ``name`` in one script."""
        keys = [
            self._function(name),
            self._aliases(name),
            self._counters,
            self._names,
            redis_policies.policies_key(self._link, self.scope),
        ]
        return int(self._scripts.delete(keys=keys, args=[name, self.channel, self._notice(name)]))

    def delete_version(self, name: str, version: str) -> int:
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(self._function(name), version)
            pipe.publish(self.channel, self._notice(name))
            deleted, _ = pipe.execute()
        return int(deleted)

    def get_function(self, name: str, version: str) -> FunctionRow | None:
        value = self._client.hget(self._function(name), version)
        return None if value is None else _parse(name, version, value)

    def function_rows(self, name: str) -> list[FunctionRow]:
        found: dict[Any, Any] = self._client.hgetall(self._function(name))
        return sorted((_parse(name, _text(v), value) for v, value in found.items()), key=lambda row: row.seq)

    def all_functions(self) -> list[FunctionRow]:
        names = sorted(_text(name) for name in self._client.smembers(self._names))
        with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self._function(name))
            found = pipe.execute()
        rows = [
            _parse(name, _text(version), value)
            for name, versions in zip(names, found, strict=True)
            for version, value in versions.items()
        ]
        return sorted(rows, key=lambda row: row.seq)

    def code_digests(self) -> set[str]:
        """Every code digest a version of any scope in the cluster uses."""
        digests: set[str] = set()
        pattern = f"{PREFIX}:{{*}}:function:*"
        for key in self._client.scan_iter(match=pattern, count=500):
            for value in self._client.hvals(key):
                digests.add(json.loads(value)[1]["code_digest"])
        return digests

    def put_alias(self, row: AliasRow, expected_revision: str | None = None) -> None:
        """Store ``row`` while its function exists and, with ``expected_revision``, while the
        stored alias has that RevisionId ('' : while there is none). Raises StaleRevision."""
        expected = "*" if expected_revision is None else expected_revision
        keys = [self._function(row.name), self._aliases(row.name)]
        args = [row.alias, json.dumps(row.config), expected, self.channel, self._notice(row.name)]
        if not self._scripts.alias_put(keys=keys, args=args):
            raise StaleRevision(f"alias {row.name}:{row.alias} moved")

    def delete_alias(self, name: str, alias: str) -> int:
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(self._aliases(name), alias)
            pipe.publish(self.channel, self._notice(name))
            deleted, _ = pipe.execute()
        return int(deleted)

    def function_aliases(self, name: str) -> list[AliasRow]:
        found: dict[Any, Any] = self._client.hgetall(self._aliases(name))
        return [AliasRow(name, _text(alias), json.loads(config)) for alias, config in sorted(found.items())]

    def all_aliases(self) -> list[AliasRow]:
        names = sorted(_text(name) for name in self._client.smembers(self._names))
        with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self._aliases(name))
            found = pipe.execute()
        return [
            AliasRow(name, _text(alias), json.loads(config))
            for name, aliases in zip(names, found, strict=True)
            for alias, config in sorted(aliases.items())
        ]
