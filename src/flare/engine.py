"""The composition root: builds every component from a ``ServerConfig`` and owns their lives.

Nothing here decides anything; it wires the store, the registry, the zygotes, the pool and the
router together, and shuts them down in order.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from flare.clock import Clock, SystemClock
from flare.config import ServerConfig
from flare.control import tags
from flare.control.capacity_providers import CapacityProviders
from flare.control.code_signing import CodeSigning
from flare.control.code_url import CodeUrls
from flare.control.concurrency import Concurrency
from flare.control.function_settings import FunctionSettings
from flare.control.layers import Layers
from flare.control.model import FunctionVersion
from flare.control.policies import FunctionPolicies
from flare.control.provisioned_concurrency import ProvisionedConcurrency
from flare.control.registry import Registry
from flare.control.urls import FunctionUrls
from flare.errors import ResourceNotFound
from flare.events.async_queue import AsyncQueue
from flare.events.destinations import Destinations
from flare.events.invoke_config import InvokeConfigs
from flare.events.invoker import SyncInvoker
from flare.events.mappings import EventSourceMappings
from flare.events.sources import Sources
from flare.observe.logs import LogStore
from flare.observe.metrics import Metrics
from flare.placement.ledger import Ledger
from flare.placement.pool import Pool
from flare.placement.prewarm import Provisioner
from flare.placement.router import Router
from flare.rules.scheduler import Schedules
from flare.sandbox.environment import Environment, EnvSettings
from flare.sandbox.forkserver import Zygote
from flare.sandbox.isolation import build_isolation
from flare.sandbox.launcher import find_interpreter, plan_launch, sdk_dir
from flare.sandbox.restored import RestoredEnvironment
from flare.sandbox.snapshot import Snapshot, Snapshots
from flare.services.live_tail import LiveTails
from flare.services.logs import LogService
from flare.services.queue import QueueService
from flare.services.stream import StreamService
from flare.store.blobs import BlobStore
from flare.store.code_signing import CodeSigningStore
from flare.store.database import Database
from flare.store.events import EventStore
from flare.store.function_settings import FunctionSettingsStore
from flare.store.functions import FunctionStore
from flare.store.layers import LayerStore
from flare.store.log_index import LogIndex
from flare.store.opt_trees import OptTrees
from flare.store.policies import PolicyStore
from flare.store.schedules import ScheduleStore
from flare.store.secrets import SecretStore
from flare.store.services import ServiceStore
from flare.store.settings import SettingsStore
from flare.store.urls import UrlStore

log = logging.getLogger("flare.engine")

# The revision recorded for a deleted version: no environment has it, so all of its retire.
DELETED_REVISION = ""
PYTHON_MINORS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")


class Engine:
    def __init__(self, config: ServerConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        data = Path(config.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.database = Database(data / "flare.db")
        self.db = FunctionStore(self.database)
        self.blobs = BlobStore(data)
        self.layer_store = LayerStore(self.database)
        opt_trees = OptTrees(data, self.blobs)
        self.layers = Layers(
            self.layer_store, self.blobs, opt_trees, config.region, config.account_id, self.clock
        )
        self.registry = Registry(
            self.db, self.blobs, config.region, config.account_id, self.clock, self.layers
        )
        self.secrets = SecretStore(self.database)
        self.code_urls = CodeUrls(self.secrets.key("code-url"), self.clock)
        self.log_index = LogIndex(self.database)
        self.logs = LogStore(data / "logs", self.log_index, self.clock)
        self.log_service = LogService(self.logs, self.clock, config.region, config.account_id)
        self.live_tails = LiveTails(self.log_service, self.clock)
        self.services_store = ServiceStore(self.database)
        self.queues = QueueService(self.services_store, self.clock, config.region, config.account_id)
        self.streams = StreamService(self.services_store, self.clock, config.region, config.account_id)
        self.interpreters = {minor: find_interpreter(minor) for minor in PYTHON_MINORS}
        self._zygotes: dict[Path, Zygote] = {}
        self._warming: dict[Path, asyncio.Task[None]] = {}  # zygotes started ahead of use
        self._env_settings = EnvSettings(config.endpoint_url, config.shutdown_grace_s)
        self.isolation = build_isolation(config, data, self.interpreters)
        self.pool = Pool(self._new_environment, self.clock, config.idle_timeout_s, config.init_timeout_s)
        self.snapshots = Snapshots(self._new_snapshot, self.registry.set_version_state)
        self.registry.add_publish_listener(self._version_published)
        self.registry.add_create_listener(lambda version: self._warm_zygote(version.runtime))
        self.ledger = Ledger(self.clock, config.account_concurrency, config.scaling_rate)
        self.settings = SettingsStore(self.database)
        self.concurrency = Concurrency(
            self.settings, self.ledger, self.registry, self.db, config.min_unreserved
        )
        self.metrics = Metrics(busy=self.pool.busy)
        self.router = Router(self.pool, self.ledger, self.metrics, self.clock)
        self.provisioner = Provisioner(self.pool, self.ledger)
        self.provisioned = ProvisionedConcurrency(
            self.settings, self.registry, self.provisioner, self.concurrency, self.clock
        )
        self.concurrency.provisioned = self.provisioned.totals
        self.registry.add_version_listener(self.provisioned.function_changed)  # before the pool's
        self.schedule_store = ScheduleStore(self.database)
        self.schedules = Schedules(
            self.schedule_store, self.registry, self.router, self.clock, config.region, config.account_id
        )
        self.registry.add_listener(self.schedules.function_changed)
        self.registry.add_version_listener(self._function_changed)
        self.registry.add_listener(self.concurrency.function_changed)
        self.events_store = EventStore(self.database)
        self.invoke_configs = InvokeConfigs(self.events_store, self.registry, self.clock)
        self.destinations = Destinations(self.queues)
        self.async_queue = AsyncQueue(
            self.events_store,
            self.registry,
            self.router,
            self.invoke_configs,
            self.destinations,
            self.concurrency.reserved,
            self.clock,
            config.async_retry_base_delay_s,
        )
        self.registry.add_version_listener(self.invoke_configs.function_changed)
        self.sources = Sources(
            self.queues,
            self.streams,
            SyncInvoker(self.registry, self.router, self.clock),
            self.destinations,
            self.events_store,
            self.clock,
            config.sqs_endpoint,
            config.kinesis_endpoint,
        )
        self.mappings = EventSourceMappings(
            self.events_store,
            self.registry,
            self.clock,
            config.region,
            config.account_id,
            self.sources.check,
            self.sources.poller,
        )
        self.metrics.add_source(self._event_source_metrics)
        for older in ("events.db", "services.db"):  # files of Flares before the one database
            moved = self.database.absorb(data / older)
            if moved:
                log.info("moved %d rows of %s into %s", moved, older, self.database.path)
        self.url_store = UrlStore(self.database)
        self.function_urls = FunctionUrls(
            self.url_store, self.registry, self.clock, config.region, config.account_id, config.port
        )
        self.registry.add_version_listener(self.function_urls.function_changed)
        self._wire_function_resources(config)

    def _wire_function_resources(self, config: ServerConfig) -> None:
        """Resource policies, code signing, recursion and runtime settings and tags: each kept
        with what it belongs to, so the registry's listeners drop it with its function."""
        region, account = config.region, config.account_id
        self.policy_store = PolicyStore(self.database)
        self.policies = FunctionPolicies(self.policy_store, self.registry, region, account)
        self.registry.add_version_listener(self.policies.function_changed)
        self.registry.add_alias_listener(self.policies.alias_deleted)
        self.code_signing_store = CodeSigningStore(self.database)
        self.code_signing = CodeSigning(self.code_signing_store, self.registry, self.clock, region, account)
        self.registry.add_deploy_guard(self.code_signing)
        self.registry.add_version_listener(self.code_signing.function_changed)
        self.function_settings_store = FunctionSettingsStore(self.database)
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

    def _event_source_metrics(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        rows = [
            ({"kind": "mapping", "uuid": stats["UUID"], "function": stats["FunctionArn"]}, stats)
            for stats in self.mappings.stats()
        ]
        rows += [
            ({"kind": "async", "function": name}, stats) for name, stats in self.async_queue.stats().items()
        ]
        return rows

    def notes(self) -> list[str]:
        """What a user should know about this host, for the start-up banner."""
        found = [f"python{minor}" for minor, path in self.interpreters.items() if path]
        notes = [f"python runtimes on their own interpreter: {', '.join(found) or 'none'}"]
        if not (sdk_dir() / "boto3").exists():
            notes.append(f"boto3 for functions not found at {sdk_dir()} (run `make install`)")
        return notes + self.isolation.notes

    async def start(self) -> None:
        if self.isolation.scratch is not None:
            await self.isolation.scratch.sweep()
            self.isolation.scratch.prefill(512)
        if self.isolation.cgroups is not None:
            self.isolation.cgroups.sweep()
        self.registry.load()
        self.policies.load()
        self.code_signing.load()
        self.function_settings.load()
        self.function_urls.load()
        for runtime in sorted(self.registry.runtimes()):
            self._warm_zygote(runtime)
        self.concurrency.load()
        self.provisioned.load()
        self.provisioned.start()
        self.schedules.start()
        self.invoke_configs.load()
        self.async_queue.start()
        self.mappings.start()
        self.log_service.start()

    async def stop(self) -> None:
        self.live_tails.close()
        await self.async_queue.stop()
        await self.mappings.stop()
        self.queues.close()
        self.streams.close()
        await self.schedules.stop()
        self.provisioned.stop()
        await self.provisioner.close()
        await self.pool.close()
        await self.snapshots.close()
        if self.isolation.scratch is not None:
            await self.isolation.scratch.close()
        if self.isolation.cgroups is not None:
            self.isolation.cgroups.close()
        for task in list(self._warming.values()):
            task.cancel()
        await asyncio.gather(*self._warming.values(), return_exceptions=True)
        for zygote in self._zygotes.values():
            await zygote.stop()
        self.log_service.close()
        self.database.close()

    def _zygote_for(self, interpreter: Path) -> Zygote:
        zygote = self._zygotes.get(interpreter)
        if zygote is None:
            zygote = self._zygotes[interpreter] = Zygote(interpreter)
        return zygote

    def _snap_start(self, version: FunctionVersion) -> bool:
        """SnapStart restores need the sandbox (the template's user namespace is made by root);
        without it a SnapStart version simply cold-starts."""
        return version.snap_start and self.isolation.namespaces

    def _version_published(self, version: FunctionVersion) -> None:
        if self._snap_start(version):
            self.snapshots.published(version)
        elif version.snap_start:
            self.registry.set_version_state(version.name, version.version, "Active", None, None)

    def _new_snapshot(self, version: FunctionVersion) -> Snapshot:
        plan = plan_launch(version.runtime, self.interpreters)
        zygote = self._zygote_for(plan.interpreter)
        return Snapshot(
            version, plan, zygote, self.isolation, self.logs, self.clock, self.config.endpoint_url
        )

    def _new_environment(self, version: FunctionVersion, pool: Pool) -> Environment:
        plan = plan_launch(version.runtime, self.interpreters)
        if self._snap_start(version):
            return RestoredEnvironment(
                version,
                plan,
                self._zygote_for(plan.interpreter),
                self.clock,
                self.logs,
                self._env_settings,
                self.isolation,
                on_exit=pool.environment_exited,
                restore_from=lambda: self.snapshots.take(version),
            )
        return Environment(
            version,
            plan,
            self._zygote_for(plan.interpreter),
            self.clock,
            self.logs,
            self._env_settings,
            self.isolation,
            on_exit=pool.environment_exited,
        )

    def _function_changed(self, name: str, version: str | None) -> None:
        """Registry listener: ``version`` of ``name`` changed (only ``$LATEST`` changes in place)
        or was deleted, or the whole function was (``version`` None). Environments of what is
        gone or stale are retired; other versions keep theirs."""
        if version is None:
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
        self._warm_zygote(current.runtime)

    def _warm_zygote(self, runtime: str) -> None:
        """Start the zygote ``runtime``'s environments fork from, in the background, as soon as a
        function needs it (deployed, changed, or stored when the engine starts): its first invoke
        then pays a cold start, not an interpreter's start-up (~0.1 s) too."""
        interpreter = plan_launch(runtime, self.interpreters).interpreter
        zygote = self._zygote_for(interpreter)
        if zygote.alive or interpreter in self._warming:
            return
        task = asyncio.get_running_loop().create_task(zygote.start())
        self._warming[interpreter] = task
        task.add_done_callback(lambda _: self._warmed(interpreter, task))

    def _warmed(self, interpreter: Path, task: asyncio.Task[None]) -> None:
        self._warming.pop(interpreter, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("the %s zygote did not start: %s", interpreter, task.exception())
