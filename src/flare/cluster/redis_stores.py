"""A cluster node's stores: the registry's concerns on the cluster's Redis, the rest in SQLite.

``RedisStores`` is the ``StoreBackend`` (``store/backend.py``) of ``flare serve --cluster``.

On Redis, shared by every node:

    redis_functions          functions, versions, aliases, version counters
    redis_policies           resource-based policies
    redis_layers             layer versions, their counters and permissions
    redis_urls               function URL configs
    redis_function_settings  recursion and runtime management configs
    redis_code_signing       code signing configs and bindings
    redis_invoke_configs     event invoke configs
    redis_mappings           event source mapping definitions (every node polls each enabled
                             one; SQS messages are shared by their visibility timeout, stream
                             shards by ``redis_shard_leases``, whose checkpoints are there too)
    redis_schedules          keep-warm schedules (each firing run by one node)
    redis_settings           reserved and provisioned concurrency settings
    redis_role_policies      execution roles' policies
    redis_access_keys        the access keys of ``--auth sigv4``
    redis_secrets            Flare's own secrets
    redis_blobs              code and layer zips
    redis_durable            durable executions, their operations and history (and
                             ``durable_homes``: which node runs each one)

Async events, queues and streams are on Redis too, outside this backend (``queue_homes.py``).
In the node's own SQLite still: the log index (a log event is a file on the node that ran the
function) and hot-reload bindings; so a node still keeps a data dir. A change to a shared
concern is heard by every node (``registry_changes``).
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from flare.clock import Clock
from flare.cluster import redis_durable
from flare.cluster.link import ClusterLink
from flare.cluster.redis_access_keys import RedisAccessKeyStore
from flare.cluster.redis_blobs import SharedBlobStore
from flare.cluster.redis_code_signing import RedisCodeSigningStore
from flare.cluster.redis_function_settings import RedisFunctionSettingsStore
from flare.cluster.redis_functions import SCOPES_KEY, FunctionScripts, RedisFunctionStore
from flare.cluster.redis_invoke_configs import RedisInvokeConfigStore
from flare.cluster.redis_layers import RedisLayerStore
from flare.cluster.redis_mappings import RedisMappingStore, Scripts
from flare.cluster.redis_policies import RedisPolicyStore
from flare.cluster.redis_role_policies import RedisRolePolicyStore
from flare.cluster.redis_schedules import CLAIM, RedisScheduleStore
from flare.cluster.redis_secrets import RedisSecretStore
from flare.cluster.redis_settings import RedisSettingsStore
from flare.cluster.redis_urls import RedisUrlStore
from flare.scope import Scope
from flare.store.access_keys import KeyExists
from flare.store.backend import SqliteStores
from flare.store.opt_trees import OptTrees
from flare.store.storage import (
    AccessKeyStorage,
    CodeSigningStorage,
    DurableStorage,
    FunctionSettingsStorage,
    FunctionStorage,
    InvokeConfigStorage,
    LayerStorage,
    MappingStorage,
    PolicyStorage,
    RolePolicyStorage,
    ScheduleStorage,
    SecretStorage,
    SettingsStorage,
    UrlStorage,
)


class RedisStores(SqliteStores):
    """The stores of the node ``link`` names, its data dir ``data`` (see the module docstring);
    ``blob_dir``: the shared directory code zips go to instead of Redis; ``clock``: the node's
    (the shared zips' sweep reads its wall time)."""

    def __init__(
        self,
        link: ClusterLink,
        data: Path,
        legacy_scope: Scope,
        blob_dir: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(data, legacy_scope)
        self.link = link
        self.blobs = SharedBlobStore(data, link.sync, blob_dir, clock)
        self.opt_trees = OptTrees(data, self.blobs)
        self._scripts = FunctionScripts.register(link.sync)
        self._claim = link.sync.register_script(CLAIM)
        self._mapping_scripts = Scripts.register(link.sync)
        self._durable_batch = redis_durable.register(link.sync)

    def __repr__(self) -> str:
        return f"<RedisStores {self.link.node_name} on {self.link.url}>"

    def functions(self, scope: Scope) -> FunctionStorage:
        return RedisFunctionStore(self.link, scope, self._scripts, self.database)

    def policies(self, scope: Scope) -> PolicyStorage:
        scripts = self._scripts
        return RedisPolicyStore(self.link, scope, scripts.policy_put, scripts.policy_delete_function)

    def layers(self, scope: Scope) -> LayerStorage:
        return RedisLayerStore(self.link, scope)

    def urls(self, scope: Scope) -> UrlStorage:
        return RedisUrlStore(self.link, scope)

    def function_settings(self, scope: Scope) -> FunctionSettingsStorage:
        return RedisFunctionSettingsStore(self.link, scope)

    def code_signing(self, scope: Scope) -> CodeSigningStorage:
        return RedisCodeSigningStore(self.link, scope)

    def role_policies(self) -> RolePolicyStorage:
        return RedisRolePolicyStore(self.link.sync, self.link.node_name)

    def secrets(self) -> SecretStorage:
        return RedisSecretStore(self.link.sync)

    def invoke_configs(self, scope: Scope) -> InvokeConfigStorage:
        return RedisInvokeConfigStore(self.link, scope)

    def mappings(self, scope: Scope) -> MappingStorage:
        return RedisMappingStore(self.link, scope, self._mapping_scripts)

    def schedules(self, scope: Scope) -> ScheduleStorage:
        return RedisScheduleStore(self.link, scope, self._claim)

    def durable(self, scope: Scope) -> DurableStorage:
        return redis_durable.RedisDurableStore(self.link, scope, self._durable_batch)

    def settings(self, scope: Scope) -> SettingsStorage:
        return RedisSettingsStore(self.link, scope)

    def access_keys(self) -> AccessKeyStorage:
        """The cluster's keys, after adopting the keys of this node's data dir (a node that
        joins brings its keys; one already in the cluster stays as it is)."""
        shared = RedisAccessKeyStore(self.link.sync)
        for key in super().access_keys().list():
            with suppress(KeyExists):
                shared.add(key)
        return shared

    def scopes_in_use(self) -> set[Scope]:
        """The node's own scopes and every scope that holds a function in the cluster."""
        keys = self.link.sync.smembers(SCOPES_KEY)
        shared = {Scope.from_key(key.decode() if isinstance(key, bytes) else key) for key in keys}
        return super().scopes_in_use() | shared
