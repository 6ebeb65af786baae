"""Flare's own secrets, on the cluster's Redis (a ``SecretStorage``): one key per secret,
``flare:cluster:secret:<name>``, made once by whichever node asks first (``SET NX``) and read by
every node, so what one node signs (GetFunction's code locations) another verifies. Whoever
reads the cluster's Redis reads these too: protect it (``requirepass``/ACLs, ``rediss://``).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from flare.cluster.link import ClusterLink
from flare.store.secrets import KEY_BYTES

if TYPE_CHECKING:
    import redis


class RedisSecretStore:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def __repr__(self) -> str:
        return "<RedisSecretStore>"

    def key(self, name: str) -> bytes:
        """The secret ``name``: made (random, ``KEY_BYTES``) by the first node that asks, the
        same bytes for every node ever after."""
        key = ClusterLink.cluster_key("secret", name)
        self._client.set(key, secrets.token_bytes(KEY_BYTES), nx=True)
        value = self._client.get(key)
        assert value is not None  # set just above unless it was there already; never deleted
        return value.encode() if isinstance(value, str) else bytes(value)
