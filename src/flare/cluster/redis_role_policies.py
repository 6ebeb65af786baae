"""The policies of execution roles, on the cluster's Redis (a ``RolePolicyStorage``): global,
as roles span regions.

``flare:cluster:role-policies:<role ARN>`` (a hash: policy name => document) and
``flare:cluster:roles`` (the set of role ARNs with a policy). Every write publishes
``{"node", "concern": "role_policies", "function": <role ARN>}`` on ``flare:cluster:changes``
in the same ``MULTI``, so every node forgets what it compiled of that role
(``RolePolicies.forget``, through ``registry_changes.py``) and the next authorization reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flare.cluster.change_notice import notice, text
from flare.cluster.link import ClusterLink

if TYPE_CHECKING:
    import redis

CONCERN = "role_policies"
CHANNEL = ClusterLink.cluster_key("changes")
ROLES_KEY = ClusterLink.cluster_key("roles")


def _policies(role_arn: str) -> str:
    return ClusterLink.cluster_key("role-policies", role_arn)


class RedisRolePolicyStore:
    """Named policy documents (JSON text) by role ARN, shared by every node."""

    def __init__(self, client: redis.Redis, node: str) -> None:
        self._client = client
        self._node = node

    def __repr__(self) -> str:
        return "<RedisRolePolicyStore>"

    def _announce(self, pipe: Any, role_arn: str) -> None:
        pipe.publish(CHANNEL, notice(self._node, CONCERN, role_arn))

    def put(self, role_arn: str, name: str, document: str) -> None:
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(_policies(role_arn), name, document)
            pipe.sadd(ROLES_KEY, role_arn)
            self._announce(pipe, role_arn)
            pipe.execute()

    def documents(self, role_arn: str) -> list[tuple[str, str]]:
        found: dict[Any, Any] = self._client.hgetall(_policies(role_arn))
        return sorted((text(name), text(document)) for name, document in found.items())

    def roles(self, account: str) -> list[tuple[str, list[str]]]:
        arns = sorted(
            arn
            for arn in (text(each) for each in self._client.smembers(ROLES_KEY))
            if f":iam::{account}:role/" in arn
        )
        with self._client.pipeline(transaction=False) as pipe:
            for arn in arns:
                pipe.hkeys(_policies(arn))
            names = pipe.execute()
        return [
            (arn, sorted(text(name) for name in found))
            for arn, found in zip(arns, names, strict=True)
            if found
        ]

    def delete(self, role_arn: str, name: str) -> bool:
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(_policies(role_arn), name)
            self._announce(pipe, role_arn)
            deleted, _ = pipe.execute()
        return bool(deleted)

    def delete_role(self, role_arn: str) -> int:
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hlen(_policies(role_arn))
            pipe.delete(_policies(role_arn))
            pipe.srem(ROLES_KEY, role_arn)
            self._announce(pipe, role_arn)
            count, *_ = pipe.execute()
        return int(count)
