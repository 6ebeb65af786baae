"""Event source mappings of one scope, on the cluster's Redis (a ``MappingStorage``), so that
every node lists, changes and polls the same mappings.

Keys (one scope's, one hash slot: ``ClusterLink.scoped``)::

    flare:{<scope>}:esm:configs    hash    uuid => the configuration as JSON (private keys too)
    flare:{<scope>}:esm:order      zset    uuid => its creation number (List's order)
    flare:{<scope>}:esm:seq        string  the last creation number given
    flare:{<scope>}:esm:revisions  hash    uuid => the ``_revision`` of the stored configuration
    flare:{<scope>}:esm:pairs      hash    "<source ARN> <function ARN>" => the uuid mapping them
    flare:{<scope>}:esm:pair-of    hash    uuid => its pair
    flare:{<scope>}:kinesis:checkpoints:<uuid>   (``redis_shard_leases``) dropped with it

A write is one Lua script (registered once per node, ``Scripts``) that compares and sets: a
new mapping only while its uuid is free and no other mapping has its source and function (two
nodes creating the same pair at once: one wins), a change only while the stored revision is
the one the writer read; otherwise ``StaleRevision``. The same script publishes the change
notice (concern ``mappings``, the uuid in place of a function: ``change_notice``), so a node
never sees the change without its notice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flare.cluster.change_notice import channel, notice, text
from flare.cluster.link import ClusterLink
from flare.cluster.redis_shard_leases import checkpoints_key
from flare.errors import StaleRevision
from flare.scope import Scope

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

CONCERN = "mappings"
NEW = ""  # the expected revision of a mapping that must not exist yet
ANY = "*"  # no expectation: the write is unconditional

# KEYS configs order seq revisions pairs pair-of; ARGV uuid json revision expected pair channel
# notice -> 1 when written, 0 when refused (moved, or the pair is another mapping's)
_PUT = """
local uuid, expected, pair = ARGV[1], ARGV[4], ARGV[5]
local current = redis.call('HGET', KEYS[4], uuid)
if expected == '' then
  if current then return 0 end
  local holder = redis.call('HGET', KEYS[5], pair)
  if holder and holder ~= uuid then return 0 end
elseif expected ~= '*' and current ~= expected then
  return 0
end
local old = redis.call('HGET', KEYS[6], uuid)
if old ~= pair then
  if old and redis.call('HGET', KEYS[5], old) == uuid then redis.call('HDEL', KEYS[5], old) end
  redis.call('HSET', KEYS[5], pair, uuid)
  redis.call('HSET', KEYS[6], uuid, pair)
end
if not redis.call('ZSCORE', KEYS[2], uuid) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), uuid)
end
redis.call('HSET', KEYS[1], uuid, ARGV[2])
redis.call('HSET', KEYS[4], uuid, ARGV[3])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
"""

# KEYS configs order revisions pairs pair-of checkpoints; ARGV uuid channel notice -> 1 if it was
_DELETE = """
local uuid = ARGV[1]
local pair = redis.call('HGET', KEYS[5], uuid)
if pair and redis.call('HGET', KEYS[4], pair) == uuid then redis.call('HDEL', KEYS[4], pair) end
redis.call('HDEL', KEYS[5], uuid)
redis.call('HDEL', KEYS[3], uuid)
redis.call('ZREM', KEYS[2], uuid)
redis.call('DEL', KEYS[6])
local existed = redis.call('HDEL', KEYS[1], uuid)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return existed
"""


@dataclass(frozen=True)
class Scripts:
    """The mapping stores' Lua scripts, registered once on a node's client."""

    put: Script
    delete: Script

    @classmethod
    def register(cls, client: redis.Redis) -> Scripts:
        return cls(client.register_script(_PUT), client.register_script(_DELETE))


class RedisMappingStore:
    """``scope``'s event source mappings in the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope, scripts: Scripts) -> None:
        self._client = link.sync
        self._node = link.node_name
        self._scope = scope
        self._scripts = scripts
        self._channel = channel(link, scope)
        names = ("configs", "order", "seq", "revisions", "pairs", "pair-of")
        self._configs, self._order, self._seq, self._revisions, self._pairs, self._pair_of = (
            link.scoped(scope, "esm", name) for name in names
        )

    def __repr__(self) -> str:
        return f"<RedisMappingStore {self._configs}>"

    def put_mapping(self, uuid: str, config: dict[str, Any], expected_revision: str | None = None) -> None:
        """Store ``config`` (its ``_revision`` becomes the stored one) if the stored mapping's
        revision is ``expected_revision`` (``NEW``: none is stored, and no other mapping has its
        source and function; None: whatever it is). Raises StaleRevision otherwise."""
        keys = [self._configs, self._order, self._seq, self._revisions, self._pairs, self._pair_of]
        args = [
            uuid,
            json.dumps(config),
            config.get("_revision", ""),
            ANY if expected_revision is None else expected_revision,
            f"{config['EventSourceArn']} {config['FunctionArn']}",
            self._channel,
            notice(self._node, CONCERN, uuid),
        ]
        if not int(self._scripts.put(keys=keys, args=args)):
            raise StaleRevision(f"event source mapping {uuid} moved")

    def delete_mapping(self, uuid: str) -> None:
        """Forget the mapping and its shards' checkpoints (nothing if it is gone)."""
        keys = [
            self._configs,
            self._order,
            self._revisions,
            self._pairs,
            self._pair_of,
            checkpoints_key(self._scope, uuid),
        ]
        self._scripts.delete(keys=keys, args=[uuid, self._channel, notice(self._node, CONCERN, uuid)])

    def get_mapping(self, uuid: str) -> dict[str, Any] | None:
        found = self._client.hget(self._configs, uuid)
        return None if found is None else dict(json.loads(text(found)))

    def mappings(self) -> list[dict[str, Any]]:
        """Every mapping's configuration, in creation order."""
        with self._client.pipeline(transaction=True) as pipe:
            pipe.zrange(self._order, 0, -1)
            pipe.hgetall(self._configs)
            order, configs = pipe.execute()
        by_uuid = {text(uuid): text(value) for uuid, value in configs.items()}
        return [json.loads(by_uuid[text(uuid)]) for uuid in order if text(uuid) in by_uuid]
