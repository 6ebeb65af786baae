"""The one seam between Flare and where its durable state lives: every store a node uses is
built here (``StoreBackend``), and ``Machine`` and ``AccountRegion`` ask it for their stores;
neither names a SQLite class. ``SqliteStores`` is the single-node backend: today's classes,
unchanged, all in the data dir's one database (``store/database.py``). A cluster node
(``flare serve --cluster``) builds ``flare.cluster.redis_stores.RedisStores`` instead, which
answers most concerns from Redis and hands the rest to the ``SqliteStores`` it extends. What
each store must answer is in ``store/storage.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from flare.scope import Scope
from flare.store.access_keys import AccessKeyStore
from flare.store.blobs import BlobStore
from flare.store.code_signing import CodeSigningStore
from flare.store.database import Database
from flare.store.durable import DurableStore
from flare.store.events import EventStore
from flare.store.function_settings import FunctionSettingsStore
from flare.store.functions import FunctionStore
from flare.store.hot_reload import HotReloadStore
from flare.store.layers import LayerStore
from flare.store.log_index import LogIndex
from flare.store.opt_trees import OptTrees
from flare.store.policies import PolicyStore
from flare.store.role_policies import RolePolicyStore
from flare.store.schedules import ScheduleStore
from flare.store.secrets import SecretStore
from flare.store.services import ServiceStore
from flare.store.settings import SettingsStore
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
from flare.store.urls import UrlStore


class StoreBackend(Protocol):
    """Every store of one node. Scoped concerns are built per ``Scope``; the rest once.

    Concerns without a Protocol yet are SQLite's on every backend (``database``)."""

    database: Database
    blobs: BlobStore
    opt_trees: OptTrees

    def functions(self, scope: Scope) -> FunctionStorage: ...

    def access_keys(self) -> AccessKeyStorage: ...

    def scopes_in_use(self) -> set[Scope]:
        """Every scope some stored resource belongs to."""
        ...

    def secrets(self) -> SecretStorage: ...

    def role_policies(self) -> RolePolicyStorage: ...

    def layers(self, scope: Scope) -> LayerStorage: ...

    def hot_reload(self, scope: Scope) -> HotReloadStore: ...

    def log_index(self, scope: Scope) -> LogIndex: ...

    def services(self, scope: Scope) -> ServiceStore: ...

    def settings(self, scope: Scope) -> SettingsStorage: ...

    def schedules(self, scope: Scope) -> ScheduleStorage: ...

    def events(self, scope: Scope) -> EventStore: ...

    def invoke_configs(self, scope: Scope) -> InvokeConfigStorage: ...

    def mappings(self, scope: Scope) -> MappingStorage: ...

    def durable(self, scope: Scope) -> DurableStorage: ...

    def urls(self, scope: Scope) -> UrlStorage: ...

    def policies(self, scope: Scope) -> PolicyStorage: ...

    def code_signing(self, scope: Scope) -> CodeSigningStorage: ...

    def function_settings(self, scope: Scope) -> FunctionSettingsStorage: ...


class SqliteStores:
    """The single-node backend: every concern in ``<data>/flare.db``, code in ``<data>/blobs``."""

    def __init__(self, data: Path, legacy_scope: Scope) -> None:
        self.database = Database(data / "flare.db", legacy_scope)
        self.blobs = BlobStore(data)
        self.opt_trees = OptTrees(data, self.blobs)

    def __repr__(self) -> str:
        return f"<SqliteStores {self.database.path}>"

    def functions(self, scope: Scope) -> FunctionStorage:
        return FunctionStore(self.database, scope)

    def access_keys(self) -> AccessKeyStorage:
        return AccessKeyStore(self.database)

    def scopes_in_use(self) -> set[Scope]:
        return self.database.scopes_in_use()

    def secrets(self) -> SecretStorage:
        return SecretStore(self.database)

    def role_policies(self) -> RolePolicyStorage:
        return RolePolicyStore(self.database)

    def layers(self, scope: Scope) -> LayerStorage:
        return LayerStore(self.database, scope)

    def hot_reload(self, scope: Scope) -> HotReloadStore:
        return HotReloadStore(self.database, scope)

    def log_index(self, scope: Scope) -> LogIndex:
        return LogIndex(self.database, scope)

    def services(self, scope: Scope) -> ServiceStore:
        return ServiceStore(self.database, scope)

    def settings(self, scope: Scope) -> SettingsStorage:
        return SettingsStore(self.database, scope)

    def schedules(self, scope: Scope) -> ScheduleStorage:
        return ScheduleStore(self.database, scope)

    def events(self, scope: Scope) -> EventStore:
        return EventStore(self.database, scope)

    def invoke_configs(self, scope: Scope) -> InvokeConfigStorage:
        return EventStore(self.database, scope)

    def mappings(self, scope: Scope) -> MappingStorage:
        return EventStore(self.database, scope)

    def durable(self, scope: Scope) -> DurableStorage:
        return DurableStore(self.database, scope)

    def urls(self, scope: Scope) -> UrlStorage:
        return UrlStore(self.database, scope)

    def policies(self, scope: Scope) -> PolicyStorage:
        return PolicyStore(self.database, scope)

    def code_signing(self, scope: Scope) -> CodeSigningStorage:
        return CodeSigningStore(self.database, scope)

    def function_settings(self, scope: Scope) -> FunctionSettingsStorage:
        return FunctionSettingsStore(self.database, scope)
