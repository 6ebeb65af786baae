"""What every account and region on one Flare host shares: the clock, the one database, the
code blobs, the Python interpreters and their zygotes, the sandbox, Flare's own keys, the access
keys of ``--auth sigv4`` and the credentials of live environments.

An ``AccountRegion`` (``account_region.py``) holds the resources of one account in one region
and starts its environments through this: an environment of any account forks from the same
zygote and is sandboxed by the same ``Isolation``; only what it runs and where it logs differ.
Nothing here decides anything about a request.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from flare.auth.admin_key import auth_banner
from flare.auth.environment_credentials import EnvironmentCredentials
from flare.clock import Clock, JumpClock, SystemClock
from flare.config import ServerConfig
from flare.control.code_url import CodeUrls
from flare.control.model import FunctionVersion
from flare.iam.roles import RolePolicies
from flare.observe.bill import Bill
from flare.observe.live_feed import LiveFeed
from flare.sandbox.api_door import ApiDoors
from flare.sandbox.environment import EnvSettings
from flare.sandbox.forkserver import Zygote
from flare.sandbox.isolation import build_isolation
from flare.sandbox.java_runtime import JavaHomes, find_java_homes
from flare.sandbox.launcher import LaunchPlan, find_interpreter, plan_launch, sdk_dir
from flare.sandbox.node_runtime import NodeBinaries, find_node_binaries
from flare.scope import Scope
from flare.store.backend import SqliteStores, StoreBackend

if TYPE_CHECKING:
    from flare.cluster.link import ClusterLink

log = logging.getLogger("flare.machine")

PYTHON_MINORS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
NODE_MAJORS = ("18", "20", "22", "24")
# a log group's directory (observe/logs.py names it by a 32-hex-digit digest of the group)
_GROUP_DIR = re.compile(r"[0-9a-f]{32}")


class Machine:
    """The shared parts, built from a ``ServerConfig``; started before and stopped after every
    ``AccountRegion``."""

    def __init__(self, config: ServerConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or (JumpClock() if config.test_clock else SystemClock())
        self.default_scope = Scope(config.account_id, config.region)
        self.data = Path(config.data_dir)
        self.data.mkdir(parents=True, exist_ok=True)
        # this node's link to the cluster's Redis (flare/cluster/), only with --cluster
        self.cluster: ClusterLink | None = None
        self.stores: StoreBackend
        if config.cluster_url is not None and config.node_name is not None:
            from flare.cluster.link import ClusterLink
            from flare.cluster.redis_stores import RedisStores

            self.cluster = ClusterLink(config.cluster_url, config.node_name)
            self.stores = RedisStores(
                self.cluster, self.data, self.default_scope, config.cluster_blob_dir, self.clock
            )
        else:
            self.stores = SqliteStores(self.data, self.default_scope)
        self.database = self.stores.database
        self.blobs = self.stores.blobs
        self.role_policies = RolePolicies(self.stores.role_policies())  # execution roles span regions
        self.opt_trees = self.stores.opt_trees
        self.secrets = self.stores.secrets()
        self.code_urls = CodeUrls(self.secrets.key("code-url"), self.clock)
        self.access_keys = self.stores.access_keys()
        self.credentials = EnvironmentCredentials()
        self._auth_notes: list[str] = []
        self.interpreters = {minor: find_interpreter(minor) for minor in PYTHON_MINORS}
        self.api_doors = ApiDoors()  # the server attaches its front door (sandbox/api_door.py)
        self.feed = LiveFeed()  # what environments and invocations do, live (observe/live_feed.py)
        self.bill = Bill(self.clock)  # what the work would cost on Lambda (observe/bill.py)
        self.env_settings = EnvSettings(
            config.endpoint_url,
            config.shutdown_grace_s,
            self.credentials,
            self.api_doors,
            feed=self.feed,
            on_billed=self.bill.charge,
        )
        self.isolation = build_isolation(config, self.data, self.interpreters)
        self._nodes: NodeBinaries | None = None  # looked for when a Node.js function first needs them
        self._javas: JavaHomes | None = None  # and the JDKs when a Java function first does
        self._zygotes: dict[Path, Zygote] = {}
        self._warming: dict[Path, asyncio.Task[None]] = {}  # zygotes started ahead of use
        self._adopt_unscoped_logs()

    def log_root(self, scope: Scope) -> Path:
        """Where the log files of ``scope``'s log groups live."""
        return self.data / "logs" / scope.account / scope.region

    def _adopt_unscoped_logs(self) -> None:
        """Log groups written before accounts and regions existed (``logs/<group digest>/``)
        belong to the default scope, as their index rows do (``Database``'s legacy scope)."""
        logs = self.data / "logs"
        if not logs.is_dir():
            return
        home = self.log_root(self.default_scope)
        for entry in logs.iterdir():
            if entry.is_dir() and _GROUP_DIR.fullmatch(entry.name):
                home.mkdir(parents=True, exist_ok=True)
                entry.rename(home / entry.name)

    def notes(self) -> list[str]:
        """What a user should know about this host, for the start-up banner."""
        found = [f"python{minor}" for minor, path in self.interpreters.items() if path]
        notes = [f"python runtimes on their own interpreter: {', '.join(found) or 'none'}", *self._auth_notes]
        if not (sdk_dir() / "boto3").exists():
            notes.append(f"boto3 for functions not found at {sdk_dir()} (run `make install`)")
        return notes + self.isolation.notes

    async def start(self) -> None:
        self._auth_notes = auth_banner(self.config, self.access_keys, self.clock.wall())
        if self.isolation.scratch is not None:
            await self.isolation.scratch.sweep()
            self.isolation.scratch.prefill(512)
        if self.isolation.cgroups is not None:
            self.isolation.cgroups.sweep()
        self.isolation.block_link_local()

    async def stop(self) -> None:
        """After every account and region has stopped its environments."""
        if self.isolation.scratch is not None:
            await self.isolation.scratch.close()
        if self.isolation.cgroups is not None:
            self.isolation.cgroups.close()
        self.isolation.unblock_link_local()
        for task in list(self._warming.values()):
            task.cancel()
        await asyncio.gather(*self._warming.values(), return_exceptions=True)
        for zygote in self._zygotes.values():
            await zygote.stop()
        self.database.close()
        if self.cluster is not None:
            await self.cluster.close()

    def heard_change(self, concern: str, subject: str) -> None:
        """Another node of the cluster changed a global ``concern`` (``role_policies`` of the
        role ARN ``subject``): what was compiled of it is read again when next needed."""
        if concern == "role_policies":
            self.role_policies.forget(subject)

    def read_back(self) -> None:
        """This node may have missed changes of the cluster's global concerns: read them again."""
        self.role_policies.forget_all()

    def launch_plan(self, runtime: str) -> LaunchPlan:
        """How ``runtime``'s environments start on this host (``launcher.plan_launch``)."""
        if runtime.startswith("nodejs") and self._nodes is None:
            self._nodes = find_node_binaries(NODE_MAJORS)
        if runtime.startswith("java") and self._javas is None:
            self._javas = find_java_homes()
        return plan_launch(runtime, self.interpreters, self._nodes, self._javas)

    def snap_start(self, version: FunctionVersion) -> bool:
        """SnapStart restores need the sandbox (the template's user namespace is made by root);
        without it a SnapStart version simply cold-starts."""
        return version.snap_start and self.isolation.namespaces

    def zygote_for(self, interpreter: Path) -> Zygote:
        zygote = self._zygotes.get(interpreter)
        if zygote is None:
            scratch = self.isolation.scratch
            private = (scratch.root,) if scratch is not None else ()
            zygote = self._zygotes[interpreter] = Zygote(interpreter, private)
        return zygote

    def warm_zygote(self, runtime: str) -> None:
        """Start the zygote ``runtime``'s environments fork from, in the background, as soon as a
        function needs it (deployed, changed, or stored when the engine starts): its first invoke
        then pays a cold start, not an interpreter's start-up (~0.1 s) too."""
        interpreter = self.launch_plan(runtime).interpreter
        zygote = self.zygote_for(interpreter)
        if zygote.alive or interpreter in self._warming:
            return
        task = asyncio.get_running_loop().create_task(zygote.start())
        self._warming[interpreter] = task
        task.add_done_callback(lambda _: self._warmed(interpreter, task))

    def _warmed(self, interpreter: Path, task: asyncio.Task[None]) -> None:
        self._warming.pop(interpreter, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("the %s zygote did not start: %s", interpreter, task.exception())
