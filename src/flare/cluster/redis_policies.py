"""The resource-based policies of one scope's functions, on the cluster's Redis (a
``PolicyStorage``).

One hash per scope, ``flare:{<scope>}:policies``: ``<function name>/<qualifier>`` (qualifier ''
for the function's own policy; neither part can hold a '/') => ``{"document": ..., "revision":
...}``. A write replaces a policy only while its stored RevisionId is the one the writer cached
(Lua; '' : while there is none), so two nodes' AddPermission calls cannot lose each other's
statement: the second is refused (``StaleRevision``) and made again by ``FunctionPolicies``
against the policy read back. Each write publishes ``{"node", "concern": "policies",
"function"}`` on the scope's change channel, in the same script or ``MULTI``: every node then
reads the scope's policies back (``registry_changes.py``). A deleted function's policies also
go in the function store's delete script (``redis_functions.py``), with its versions.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flare.cluster.link import ClusterLink
from flare.errors import StaleRevision
from flare.scope import Scope
from flare.store.policies import PolicyRow

if TYPE_CHECKING:
    from redis.commands.core import Script

CONCERN = "policies"

# KEYS: policies; ARGV: field, value, expected RevisionId ('*': any, '': none), channel, message
PUT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[3] ~= '*' then
  local revision = ''
  if current then revision = cjson.decode(current)['revision'] end
  if revision ~= ARGV[3] then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""
# KEYS: policies; ARGV: function name: removes every field '<name>/...'; returns how many
DELETE_FUNCTION = """
local prefix = ARGV[1] .. '/'
local gone = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, #prefix) == prefix then
    redis.call('HDEL', KEYS[1], field)
    gone = gone + 1
  end
end
return gone
"""


def field(name: str, qualifier: str) -> str:
    return f"{name}/{qualifier}"


def policies_key(link: ClusterLink, scope: Scope) -> str:
    return link.scoped(scope, "policies")


class RedisPolicyStore:
    """The policies of ``scope`` in the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope, put: Script, delete_function: Script) -> None:
        self.scope = scope
        self._client = link.sync
        self._node = link.node_name
        self._key = policies_key(link, scope)
        self._channel = link.scoped(scope, "changes")
        self._put = put
        self._delete_function = delete_function

    def __repr__(self) -> str:
        return f"<RedisPolicyStore {self._key}>"

    def _notice(self, name: str) -> str:
        return json.dumps({"node": self._node, "concern": CONCERN, "function": name})

    def all(self) -> list[PolicyRow]:
        found: dict[Any, Any] = self._client.hgetall(self._key)
        rows = []
        for key, value in found.items():
            name, _, qualifier = (key.decode() if isinstance(key, bytes) else key).partition("/")
            record = json.loads(value)
            rows.append(PolicyRow(name, qualifier, record["document"], record["revision"]))
        return sorted(rows, key=lambda row: (row.name, row.qualifier))

    def put(self, row: PolicyRow, expected_revision: str | None = None) -> None:
        """Insert or replace ``row`` while the stored RevisionId is ``expected_revision`` ('':
        while there is no policy; None: whatever it is). Raises StaleRevision otherwise."""
        value = json.dumps({"document": row.document, "revision": row.revision})
        expected = "*" if expected_revision is None else expected_revision
        args = [field(row.name, row.qualifier), value, expected, self._channel, self._notice(row.name)]
        if not int(self._put(keys=[self._key], args=args)):
            raise StaleRevision(f"the policy of {row.name}:{row.qualifier} moved")

    def delete(self, name: str, qualifier: str) -> bool:
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(self._key, field(name, qualifier))
            pipe.publish(self._channel, self._notice(name))
            deleted, _ = pipe.execute()
        return bool(deleted)

    def delete_function(self, name: str) -> int:
        """Drop every policy of ``name`` (usually gone already, with the function: this node's
        listener asks once more)."""
        return int(self._delete_function(keys=[self._key], args=[name]))
