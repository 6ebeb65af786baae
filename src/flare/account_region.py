"""The resources of one account in one region, and the actors that serve them.

Lambda keeps an account's functions in each region apart from every other account's and
region's: names, ARNs, versions, layers, queues, streams, log groups, concurrency limits. So does
Flare: one ``AccountRegion`` per ``Scope``, built on the host's ``Machine`` (the database, blobs,
zygotes and sandbox they all share), owning its registry, its environments' pool and router,
its concurrency ledger (the account's limit is per region, as on Lambda), its event sources and
its logs. Nothing here decides anything; it wires the pieces together and starts and stops them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from flare.build.dependency_cache import DependencyCache, default_root
from flare.control import tags
from flare.control.capacity_providers import CapacityProviders
from flare.control.code_signing import CodeSigning
from flare.control.code_watch import CodeWatch
from flare.control.concurrency import Concurrency
from flare.control.function_settings import FunctionSettings
from flare.control.hot_reload import HotReload, HotReloadPolicy
from flare.control.layers import Layers
from flare.control.model import FunctionVersion
from flare.control.policies import FunctionPolicies
from flare.control.provisioned_concurrency import ProvisionedConcurrency
from flare.control.registry import Registry
from flare.control.urls import FunctionUrls
from flare.durable.executions import DurableExecutions
from flare.durable.homes import ExecutionHomes, LocalHomes
from flare.errors import ResourceNotFound
from flare.events.async_queue import AsyncQueue
from flare.events.destinations import Destinations
from flare.events.invoke_config import InvokeConfigs
from flare.events.invoker import SyncInvoker
from flare.events.mappings import EventSourceMappings
from flare.events.sources import Sources
from flare.machine import Machine
from flare.observe.logs import LogStore
from flare.observe.metrics import Metrics
from flare.placement.ledger import Lease, Ledger
from flare.placement.pool import Pool
from flare.placement.prewarm import Provisioner
from flare.placement.router import Router
from flare.placement.spares import REPLACE_AFTER_S, Spares, wants_spare
from flare.queue_homes import QueueHomes
from flare.rules.scheduler import Schedules
from flare.sandbox.environment import Environment
from flare.sandbox.late_binding import LateKey, late_key
from flare.sandbox.restored import RestoredEnvironment
from flare.sandbox.snapshot import Snapshot, Snapshots
from flare.scope import Scope
from flare.services.live_tail import LiveTails
from flare.services.logs import LogLimits, LogService

log = logging.getLogger("flare.account_region")

# The revision recorded for a deleted version: no environment has it, so all of its retire.
DELETED_REVISION = ""


class AccountRegion:
    """Everything of one account in one region (see the module docstring)."""

    def __init__(
        self, machine: Machine, scope: Scope, metrics: Metrics, peers: Callable[[Scope], AccountRegion | None]
    ) -> None:
        """``peers(scope)``: another account's or region's ``AccountRegion``, if it exists (for
        what may be shared across accounts: layer versions)."""
        self.machine = machine
        self.scope = scope
        config, clock, stores = machine.config, machine.clock, machine.stores
        region, account = scope.region, scope.account
        self.clock = clock
        self.function_store = stores.functions(scope)
        self.layer_store = stores.layers(scope)

        def peer_layers(other: str) -> Layers | None:
            peer = peers(Scope(other, region))
            return peer.layers if peer is not None else None

        self.hot_reload = HotReload(
            stores.hot_reload(scope),
            HotReloadPolicy.for_server(config.auth, config.hot_reload_roots),
            DependencyCache(default_root(os.environ), wheels_only=True),
        )
        self.layers = Layers(
            self.layer_store,
            machine.blobs,
            machine.opt_trees,
            region,
            account,
            clock,
            peer_layers,
            self.hot_reload,
        )
        self.registry = Registry(
            self.function_store, machine.blobs, region, account, clock, self.layers, self.hot_reload
        )
        self.registry.add_version_listener(self.hot_reload.function_changed)
        self.code_watch = CodeWatch(self.hot_reload, self.registry, machine.blobs)
        self.log_index = stores.log_index(scope)
        self.logs = LogStore(machine.log_root(scope), self.log_index, clock)
        limits = LogLimits(machine.config.log_retention_days, machine.config.log_group_max_mb * 1024 * 1024)
        self.log_service = LogService(self.logs, clock, region, account, limits)
        self.live_tails = LiveTails(self.log_service, clock)
        self.services_store = stores.services(scope)
        self.queue_homes = QueueHomes(machine.cluster, scope, clock, config)
        self.queues = self.queue_homes.queue_service(self.services_store)
        self.streams = self.queue_homes.stream_service(self.services_store)
        self.pool = Pool(self._new_environment, clock, config.idle_timeout_s, config.init_timeout_s)
        self.spares = Spares(
            lambda version: self._new_environment(version, self.pool),
            clock=clock,
            idle_s=config.idle_timeout_s,
            late_key_of=self._late_key,
        )
        self.pool.take_spare = self._take_spare
        self.snapshots = Snapshots(self._new_snapshot, self.registry.set_version_state)
        self.registry.add_publish_listener(self._version_published)
        self.registry.add_create_listener(self._function_created)
        self.ledger = self._new_ledger()
        self.settings = stores.settings(scope)
        self.concurrency = Concurrency(
            self.settings, self.ledger, self.registry, self.function_store, config.min_unreserved
        )
        self.router = Router(self.pool, self.ledger, metrics, clock, machine.feed)
        if machine.cluster is not None:
            self.router.acquire_shared = self._acquire_shared
        self.provisioner = self._new_provisioner()
        self.provisioned = ProvisionedConcurrency(
            self.settings, self.registry, self.provisioner, self.concurrency, clock
        )
        self.concurrency.provisioned = self.provisioned.totals
        self.registry.add_version_listener(self.provisioned.function_changed)  # before the pool's
        self.schedule_store = stores.schedules(scope)
        self.schedules = Schedules(self.schedule_store, self.registry, self.router, clock, region, account)
        self.registry.add_listener(self.schedules.function_changed)
        self.registry.add_version_listener(self._function_changed)
        self.registry.add_listener(self.concurrency.function_changed)
        self._wire_events(config.async_retry_base_delay_s)
        self.durable_store = stores.durable(scope)
        self.durable = DurableExecutions(
            self.durable_store, self.registry, self.router, clock, self._new_durable_homes()
        )
        self.async_queue.durable = self.durable
        self.registry.add_version_listener(self.durable.function_changed)
        self.url_store = stores.urls(scope)
        self.function_urls = FunctionUrls(self.url_store, self.registry, clock, region, account, config.port)
        self.registry.add_version_listener(self.function_urls.function_changed)
        self._wire_function_resources()

    def __repr__(self) -> str:
        return f"<AccountRegion {self.scope.key}>"

    def _new_durable_homes(self) -> ExecutionHomes:
        """Where durable executions run: here, or with ``--cluster`` on the node Redis names
        (``cluster/durable_homes.py``)."""
        if self.machine.cluster is None:
            return LocalHomes()
        from flare.cluster.durable_homes import RedisExecutionHomes

        return RedisExecutionHomes(self.machine.cluster, self.scope)

    def _new_ledger(self) -> Ledger:
        """The account's concurrency in this region: this host's alone, or with ``--cluster``
        the one every node shares (``cluster/shared_ledger.py``)."""
        machine, config = self.machine, self.machine.config
        if machine.cluster is None:
            return Ledger(self.clock, config.account_concurrency, config.scaling_rate)
        from flare.cluster.shared_ledger import SharedLedger

        return SharedLedger(
            machine.cluster,
            self.scope,
            self.clock,
            config.account_concurrency,
            config.scaling_rate,
            config.cluster_ttl_s,
        )

    def _new_provisioner(self) -> Provisioner:
        """Provisioned environments: all of each target here, or with ``--cluster`` this
        node's share of it (``cluster/provisioned_spread.py``)."""
        machine = self.machine
        if machine.cluster is None:
            return Provisioner(self.pool, self.ledger, on_target=machine.bill.provisioned)
        from flare.cluster.provisioned_spread import ClusterProvisioner

        return ClusterProvisioner(
            self.pool, self.ledger, machine.cluster, self.scope, on_target=machine.bill.provisioned
        )

    async def _acquire_shared(self, function: str, request_id: str, cold_start: bool) -> Lease:
        """The router's grant from the shared ledger (with ``--cluster`` only)."""
        from flare.cluster.shared_ledger import SharedLedger

        assert isinstance(self.ledger, SharedLedger)
        return await self.ledger.acquire_async(function, request_id, cold_start=cold_start)

    def _wire_events(self, retry_base_delay_s: float) -> None:
        """Async invokes, destinations and event source mappings."""
        config, clock, scope = self.machine.config, self.clock, self.scope
        self.events_store = self.machine.stores.events(scope)
        self.invoke_configs = InvokeConfigs(self.machine.stores.invoke_configs(scope), self.registry, clock)
        self.destinations = Destinations(self.queues)
        self.async_queue = AsyncQueue(
            self.queue_homes.event_book(self.events_store),
            self.registry,
            self.router,
            self.invoke_configs,
            self.destinations,
            self.concurrency.reserved,
            clock,
            retry_base_delay_s,
        )
        self.registry.add_version_listener(self.invoke_configs.function_changed)
        self.sources = Sources(
            self.queues,
            self.streams,
            SyncInvoker(self.registry, self.router, clock),
            self.destinations,
            self.events_store,
            clock,
            config.sqs_endpoint,
            config.kinesis_endpoint,
            self.queue_homes.shard_claims(),
        )
        self.mappings = EventSourceMappings(
            self.machine.stores.mappings(scope),
            self.registry,
            clock,
            scope.region,
            scope.account,
            self.sources.check,
            self.sources.poller,
            None if self.machine.cluster is None else config.cluster_ttl_s,
        )

    def _wire_function_resources(self) -> None:
        """Resource policies, code signing, recursion and runtime settings and tags: each kept
        with what it belongs to, so the registry's listeners drop it with its function."""
        stores, scope, clock = self.machine.stores, self.scope, self.clock
        region, account = scope.region, scope.account
        self.policy_store = stores.policies(scope)
        self.policies = FunctionPolicies(self.policy_store, self.registry, region, account)
        self.registry.add_version_listener(self.policies.function_changed)
        self.registry.add_alias_listener(self.policies.alias_deleted)
        self.code_signing_store = stores.code_signing(scope)
        self.code_signing = CodeSigning(self.code_signing_store, self.registry, clock, region, account)
        self.registry.add_deploy_guard(self.code_signing)
        self.registry.add_version_listener(self.code_signing.function_changed)
        self.function_settings_store = stores.function_settings(scope)
        self.function_settings = FunctionSettings(
            self.function_settings_store, self.registry, region, account
        )
        self.registry.add_version_listener(self.function_settings.function_changed)
        self.registry.add_publish_listener(self.function_settings.version_published)
        self.capacity_providers = CapacityProviders(self.registry, region, account)
        self.tagging = tags.Tagging(
            {
                tags.FUNCTION: tags.FunctionTags(self.registry),
                tags.CODE_SIGNING_CONFIG: self.code_signing,
                tags.EVENT_SOURCE_MAPPING: self.mappings,
            }
        )

    def event_source_stats(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        """The counters of this scope's mappings and async queues, labelled for ``/metrics``."""
        rows = [
            ({"kind": "mapping", "uuid": stats["UUID"], "function": stats["FunctionArn"]}, stats)
            for stats in self.mappings.stats()
        ]
        rows += [
            ({"kind": "async", "function": name}, stats) for name, stats in self.async_queue.stats().items()
        ]
        return rows

    def load(self) -> None:
        """Fill every cache from what is stored. Call once, before ``start``."""
        self.registry.load()
        self.hot_reload.load()
        self.policies.load()
        self.code_signing.load()
        self.function_settings.load()
        self.function_urls.load()
        self.concurrency.load()
        self.invoke_configs.load()

    def heard_change(self, concern: str, function: str) -> None:
        """Another node of the cluster changed ``concern`` of ``function`` in the shared store
        (``cluster/registry_changes.py``): read it back, so this node acts on it too."""
        if concern == "functions":
            self.registry.refresh(function)
            return
        if concern == "mappings":  # ``function`` is the mapping's UUID
            self.mappings.refresh(function)
            return
        if concern in ("durable", "durable-ended"):  # an execution's, not a cache to re-read
            self.durable.heard_wake(function, ended=concern == "durable-ended")
            return
        reload = self._shared_caches().get(concern)
        if reload is not None:
            reload()

    def read_back(self) -> None:
        """Read every concern the cluster shares back (this node may have missed changes)."""
        self.registry.refresh_all()
        for reload in self._shared_caches().values():
            reload()
        self.mappings.refresh_all()

    def _shared_caches(self) -> dict[str, Callable[[], None]]:
        """What reads each cached concern a cluster shares back from its store, by concern."""
        return {
            "policies": self.policies.load,
            "urls": self.function_urls.load,
            "function_settings": self.function_settings.load,
            "code_signing": self.code_signing.load,
            "invoke_configs": self.invoke_configs.load,
            "schedules": self.schedules.sync,
            "settings": self._settings_changed,
        }

    def _settings_changed(self) -> None:
        self.concurrency.sync()
        self.provisioned.sync()

    def start(self) -> None:
        """Start the background actors (on the running event loop), after ``load``:
        provisioned environments, schedules, retries of async events, pollers, log retention."""
        for runtime in sorted(self.registry.runtimes()):
            self.machine.warm_zygote(runtime)
        self.provisioned.load()
        self.provisioned.start()
        self.schedules.start()
        self.async_queue.start()
        self.durable.start()
        self.mappings.start()
        self.log_service.start()
        self.code_watch.start()

    async def stop(self) -> None:
        """Stop the actors and every environment of this scope."""
        self.live_tails.close()
        await self.code_watch.stop()
        await self.async_queue.stop()
        await self.durable.stop()
        await self.mappings.stop()
        self.queues.close()
        self.streams.close()
        await self.schedules.stop()
        self.provisioned.stop()
        await self.provisioner.close()
        await self.spares.close()
        await self.pool.close()
        await self.snapshots.close()
        self.log_service.close()
        if self.machine.cluster is not None:
            from flare.cluster.shared_ledger import SharedLedger

            if isinstance(self.ledger, SharedLedger):
                await self.ledger.close()

    def _version_published(self, version: FunctionVersion) -> None:
        if self.machine.snap_start(version):
            self.snapshots.published(version)
        elif version.snap_start:
            self.registry.set_version_state(version.name, version.version, "Active", None, None)

    def _new_snapshot(self, version: FunctionVersion) -> Snapshot:
        machine = self.machine
        plan = machine.launch_plan(version.runtime)
        zygote = machine.zygote_for(plan.interpreter)
        return Snapshot(
            version,
            plan,
            zygote,
            machine.isolation,
            self.logs,
            self.clock,
            machine.config.endpoint_url,
            machine.credentials,
        )

    async def _take_spare(self, version: FunctionVersion) -> Environment | None:
        """A Node.js cold start's environment, started ahead (``placement/spares.py``); the
        version's next spare starts now, so the next cold start finds one too."""
        if not wants_spare(version, self.machine.snap_start(version)):
            return None
        spare = await self.spares.take(version)
        self.clock.call_later(REPLACE_AFTER_S, lambda: self.spares.prepare(version))
        return spare

    def _late_key(self, version: FunctionVersion) -> LateKey | None:
        """``version``'s key among late-bound spares, None when those cannot serve it."""
        isolation = self.machine.isolation
        if isolation.code_staging is None:
            return None
        return late_key(version, isolation.network_of(version))

    def _new_environment(self, version: FunctionVersion, pool: Pool) -> Environment:
        machine = self.machine
        plan = machine.launch_plan(version.runtime)
        zygote = machine.zygote_for(plan.interpreter)
        if machine.snap_start(version):
            return RestoredEnvironment(
                version,
                plan,
                zygote,
                self.clock,
                self.logs,
                machine.env_settings,
                machine.isolation,
                on_exit=pool.environment_exited,
                restore_from=lambda: self.snapshots.take(version),
            )
        return Environment(
            version,
            plan,
            zygote,
            self.clock,
            self.logs,
            machine.env_settings,
            machine.isolation,
            on_exit=pool.environment_exited,
        )

    def _function_created(self, version: FunctionVersion) -> None:
        """Registry listener: a new function's first invoke finds its runtime started (its
        zygote; for Node.js, a spare)."""
        self.machine.warm_zygote(version.runtime)
        if wants_spare(version, self.machine.snap_start(version)):
            self.spares.prepare(version)

    def _function_changed(self, name: str, version: str | None) -> None:
        """Registry listener: ``version`` of ``name`` changed (only ``$LATEST`` changes in place)
        or was deleted, or the whole function was (``version`` None). Environments of what is
        gone or stale are retired; other versions keep theirs."""
        if version is None:
            self.spares.retire(name)
            self.pool.retire(name)
            self.snapshots.retire(name, None)
            return
        try:
            current = self.registry.resolve(name, version)
        except ResourceNotFound:
            self.pool.retire(name, DELETED_REVISION, version)
            self.snapshots.retire(name, version)
            return
        self.pool.retire(name, current.revision_id, version)
        self.spares.retire(name)
        self.machine.warm_zygote(current.runtime)
        if wants_spare(current, self.machine.snap_start(current)):
            self.spares.prepare(current)
