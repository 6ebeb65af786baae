"""The composition root: builds every component from a ``ServerConfig`` and owns their lives.

Nothing here decides anything; it wires the store, the registry, the zygotes, the pool and the
router together, and shuts them down in order.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flare.clock import Clock, SystemClock
from flare.config import ServerConfig
from flare.control.concurrency import Concurrency
from flare.control.model import FunctionVersion
from flare.control.registry import Registry
from flare.errors import ResourceNotFound
from flare.observe.logs import LogStore
from flare.sandbox.environment import Environment, EnvSettings
from flare.sandbox.isolation import build_isolation
from flare.sandbox.launcher import find_interpreter, plan_launch, sdk_dir
from flare.sandbox.zygote import Zygote
from flare.scheduling.ledger import Ledger
from flare.scheduling.pool import Pool
from flare.scheduling.router import Router
from flare.services.queue import QueueService
from flare.services.store import ServiceStore
from flare.services.stream import StreamService
from flare.store.blobs import BlobStore
from flare.store.settings import SettingsStore
from flare.store.sqlite import Database

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
        self.db = Database(data / "flare.db")
        self.blobs = BlobStore(data)
        self.registry = Registry(self.db, self.blobs, config.region, config.account_id, self.clock)
        self.logs = LogStore(data / "logs", self.clock)
        self.services_store = ServiceStore(data / "services.db")
        self.queues = QueueService(self.services_store, self.clock, config.region, config.account_id)
        self.streams = StreamService(self.services_store, self.clock, config.region, config.account_id)
        self.interpreters = {minor: find_interpreter(minor) for minor in PYTHON_MINORS}
        self._zygotes: dict[Path, Zygote] = {}
        self._env_settings = EnvSettings(config.endpoint_url, config.shutdown_grace_s)
        self.isolation = build_isolation(config, data, self.interpreters)
        self.pool = Pool(self._new_environment, self.clock, config.idle_timeout_s, config.init_timeout_s)
        self.ledger = Ledger(self.clock, config.account_concurrency, config.scaling_rate)
        self.settings = SettingsStore(self.db.path)
        self.concurrency = Concurrency(
            self.settings, self.ledger, self.registry, self.db, config.min_unreserved
        )
        self.router = Router(self.pool, self.ledger)
        self.registry.add_version_listener(self._function_changed)
        self.registry.add_listener(self.concurrency.function_changed)

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
        self.concurrency.load()

    async def stop(self) -> None:
        self.queues.close()
        self.streams.close()
        await self.pool.close()
        if self.isolation.scratch is not None:
            await self.isolation.scratch.close()
        for zygote in self._zygotes.values():
            await zygote.stop()
        self.logs.close()
        self.services_store.close()
        self.settings.close()
        self.db.close()

    def _zygote_for(self, interpreter: Path) -> Zygote:
        zygote = self._zygotes.get(interpreter)
        if zygote is None:
            zygote = self._zygotes[interpreter] = Zygote(interpreter)
        return zygote

    def _new_environment(self, version: FunctionVersion, pool: Pool) -> Environment:
        plan = plan_launch(version.runtime, self.interpreters)
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
            return
        try:
            current = self.registry.resolve(name, version)
        except ResourceNotFound:
            self.pool.retire(name, DELETED_REVISION, version)
            return
        self.pool.retire(name, current.revision_id, version)
