"""The composition root: builds every component from a ``ServerConfig`` and owns their lives.

Nothing here decides anything; it wires the store, the registry, the zygotes, the pool and the
router together, and shuts them down in order.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flare.clock import Clock, SystemClock
from flare.config import ServerConfig
from flare.control.model import FunctionVersion
from flare.control.registry import Registry
from flare.errors import ResourceNotFound
from flare.observe.logs import LogStore
from flare.sandbox.environment import Environment, EnvSettings
from flare.sandbox.launcher import find_interpreter, plan_launch, sdk_dir
from flare.sandbox.zygote import Zygote
from flare.scheduling.pool import Pool
from flare.scheduling.router import Router
from flare.store.blobs import BlobStore
from flare.store.sqlite import Database

log = logging.getLogger("flare.engine")

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
        self.interpreters = {minor: find_interpreter(minor) for minor in PYTHON_MINORS}
        self._zygotes: dict[Path, Zygote] = {}
        self._env_settings = EnvSettings(config.endpoint_url, config.shutdown_grace_s)
        self.pool = Pool(self._new_environment, self.clock, config.idle_timeout_s, config.init_timeout_s)
        self.router = Router(self.pool)
        self.registry.add_listener(self._function_changed)

    def notes(self) -> list[str]:
        """What a user should know about this host, for the start-up banner."""
        found = [f"python{minor}" for minor, path in self.interpreters.items() if path]
        notes = [f"python runtimes on their own interpreter: {', '.join(found) or 'none'}"]
        if not (sdk_dir() / "boto3").exists():
            notes.append(f"boto3 for functions not found at {sdk_dir()} (run `make install`)")
        notes.append("isolation: process-level only (namespaces and cgroups come with the sandbox work)")
        return notes

    async def start(self) -> None:
        self.registry.load()

    async def stop(self) -> None:
        await self.pool.close()
        for zygote in self._zygotes.values():
            await zygote.stop()
        self.logs.close()
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
            on_exit=pool.environment_exited,
        )

    def _function_changed(self, name: str) -> None:
        """Only ``$LATEST`` changes in place (published versions are immutable)."""
        try:
            current = self.registry.resolve(name, None)
        except ResourceNotFound:
            self.pool.retire(name)
            return
        self.pool.retire(name, current.revision_id, current.version)
