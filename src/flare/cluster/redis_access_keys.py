"""The access keys ``--auth sigv4`` verifies, on the cluster's Redis (an ``AccessKeyStorage``).

One hash, ``flare:cluster:access-keys``: key id => the key as JSON (its secret in the clear, as
HMAC needs it: whoever reads the cluster's Redis can sign as anyone; protect it as the SQLite
file is, with ``requirepass``/ACLs and TLS, ``rediss://``). A key made on any node, or with
``flare keys --cluster URL``, signs requests to every node: each node's authenticator asks the
store (``auth/authenticator.py`` re-reads a key at most a second later).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flare.cluster.link import ClusterLink
from flare.store.access_keys import AccessKey, KeyExists, new_key_id, new_secret

if TYPE_CHECKING:
    import redis

KEYS_KEY = ClusterLink.cluster_key("access-keys")


def _key(value: bytes | str) -> AccessKey:
    fields = json.loads(value)
    return AccessKey(fields["id"], fields["secret"], fields["account"], fields["created"], fields["admin"])


class RedisAccessKeyStore:
    """Every node's access keys, in the Redis ``client`` reaches (see the module docstring)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<RedisAccessKeyStore {KEYS_KEY}>"

    def create(self, account: str, default_account: str, now: float, admin: bool = False) -> AccessKey:
        """A new key of ``account`` (``new_key_id``), stored. Raises KeyExists when the account
        (not the default one) already has its key."""
        key = AccessKey(new_key_id(account, default_account), new_secret(), account, now, admin)
        self.add(key)
        return key

    def add(self, key: AccessKey) -> None:
        """Store ``key`` as it is, unless its id is taken (KeyExists): one HSETNX."""
        value = json.dumps(
            {
                "id": key.access_key_id,
                "secret": key.secret,
                "account": key.account,
                "created": key.created,
                "admin": key.admin,
            }
        )
        if not self._client.hsetnx(KEYS_KEY, key.access_key_id, value):
            raise KeyExists(key.access_key_id)

    def find(self, access_key_id: str) -> AccessKey | None:
        value = self._client.hget(KEYS_KEY, access_key_id)
        return None if value is None else _key(value)

    def list(self) -> list[AccessKey]:
        """Every key, oldest first."""
        values: list[Any] = self._client.hvals(KEYS_KEY)
        return sorted((_key(value) for value in values), key=lambda key: (key.created, key.access_key_id))

    def delete(self, access_key_id: str) -> bool:
        return bool(self._client.hdel(KEYS_KEY, access_key_id))

    def count(self) -> int:
        return int(self._client.hlen(KEYS_KEY))
