"""The composition root: the host's ``Machine`` and one ``AccountRegion`` per account and region.

The default scope (``ServerConfig``'s account and region: what a request whose key names no
account acts in, and every data dir written before scopes existed) is built first; every other
scope with stored resources is brought up at start, and a new one the first time a request acts
in it. The ``Authenticator`` says who each request is (``auth/``). Nothing here decides anything
about a request.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flare.account_region import AccountRegion
from flare.auth.authenticator import Authenticator, AuthMode
from flare.auth.connection_origin import ConnectionOrigins
from flare.auth.identity import Identity
from flare.clock import Clock, JumpClock
from flare.config import ServerConfig
from flare.control import arns, cross_account, unused_code
from flare.control.model import LATEST
from flare.iam.authorize import Authorizer
from flare.machine import Machine
from flare.observe.live_feed import EnvironmentSeen
from flare.observe.metrics import Metrics
from flare.observe.trace_format import Header
from flare.observe.trace_record import TraceRecorder
from flare.placement.ledger import DEFAULT_SCALING_WINDOW_S
from flare.sandbox.isolation import is_sandbox_uid
from flare.sandbox.phase import seen
from flare.sandbox.socket_owner import OWNERS
from flare.scope import Scope

if TYPE_CHECKING:
    from flare.cluster.node import ClusterNode
    from flare.cluster.registry_changes import RegistryChanges
    from flare.store.access_keys import AccessKey

log = logging.getLogger("flare.engine")


def _secret(key: AccessKey | None) -> str | None:
    return None if key is None else key.secret


class Engine:
    """Builds every component from a ``ServerConfig`` and owns their lives."""

    def __init__(self, config: ServerConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.machine = Machine(config, clock)
        self.clock = self.machine.clock
        self.metrics = Metrics(busy=self._busy, bill=self.machine.bill)
        self.metrics.add_source(self._event_source_metrics)
        self.metrics.add_durable_source(self._durable_metrics)
        self._regions: dict[Scope, AccountRegion] = {}
        self.trace: TraceRecorder | None = None
        self._started = False
        self.cluster_changes: RegistryChanges | None = None  # other nodes' changes, heard (--cluster)
        self.authenticator = Authenticator(
            AuthMode(config.auth),
            self.machine.access_keys.find,
            self.machine.credentials,
            self.clock,
            self.machine.default_scope,
            # clients sign with their own (real) time, whatever a test did to the engine's clock
            time.time if isinstance(self.clock, JumpClock) else None,
        )
        # Which environment opened a connection, told by the uid the kernel names, or by the
        # isolated network's listener it came through: only where environments have uids of
        # their own (auth/connection_origin.py).
        isolation = self.machine.isolation
        owner_of = OWNERS.owner_of if isolation.callers_named else None
        self.connection_origins = (
            ConnectionOrigins(owner_of, is_sandbox_uid) if isolation.namespaces else None
        )
        self.feed = self.machine.feed
        self.feed.environments = self._environments_seen
        self.home = self.region(self.machine.default_scope)
        self.cluster_node: ClusterNode | None = None  # with --cluster: membership (flare/cluster/)
        if self.machine.cluster is not None:
            from flare.cluster.node import ClusterNode

            keys = self.machine.access_keys
            self.cluster_node = ClusterNode(
                self.machine.cluster, config, self.clock, self._load, lambda key: _secret(keys.find(key))
            )
        for older in ("events.db", "services.db"):  # files of Flares before the one database
            moved = self.machine.database.absorb(self.machine.data / older)
            if moved:
                log.info("moved %d rows of %s into %s", moved, older, self.machine.database.path)

    @property
    def default_scope(self) -> Scope:
        return self.machine.default_scope

    def region(self, scope: Scope) -> AccountRegion:
        """``scope``'s resources; made (and, once the engine runs, started) the first time."""
        found = self._regions.get(scope)
        if found is None:
            found = self._regions[scope] = AccountRegion(self.machine, scope, self.metrics, self._regions.get)
            found.router.trace = self.trace
            if self._started:
                found.load()
                found.start()
        return found

    def region_for_function(
        self, who: Identity, operation: str, function_name: str, qualifier: str | None
    ) -> AccountRegion:
        """The ``AccountRegion`` a function operation by ``who`` acts in: the caller's own, or
        the owner's when ``function_name`` is an ARN of another account whose policy allows it
        (the caller's role session, for a function's own request). Raises ResourceNotFound
        (another region) or AccessDenied (``control/cross_account.py``)."""
        caller = who.scope
        owner = cross_account.owner_of(caller, function_name)
        if owner == caller:
            return self.region(caller)
        region = self._regions.get(owner)
        name, parsed = arns.parse_function_name(function_name, qualifier)
        resource = arns.function_arn(owner.region, owner.account, name, parsed)
        statements = region.policies.statements(name, parsed) if region is not None else []
        principal = who.function.arn if who.function is not None else None
        action = cross_account.action_of(operation)
        cross_account.check_allowed(caller, action, resource, statements, principal)
        assert region is not None  # a policy allowed it, so the owner has one
        return region

    def url_owner(self, url_id: str) -> AccountRegion | None:
        """The ``AccountRegion`` that has the function URL ``url_id`` (ids are unique across
        every account and region), or None."""
        for region in self._regions.values():
            if region.function_urls.resolve(url_id) is not None:
                return region
        return None

    def function_policy(self, arn: str) -> list[dict[str, Any]]:
        """The statements of the resource-based policy (``AddPermission``) of the function,
        version or alias ``arn`` names (``$LATEST``: the function's); ``[]`` when it has none or
        its account and region have never been seen. What ``authorizer`` reads."""
        parts = arn.split(":")
        if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
            return []
        region = self._regions.get(Scope(parts[4], parts[3]))
        qualifier = parts[7] if len(parts) == 8 and parts[7] != LATEST else None
        return region.policies.statements(parts[6], qualifier) if region is not None else []

    @functools.cached_property
    def authorizer(self) -> Authorizer:
        """IAM's decisions on the requests functions sign with their environment's credentials
        (``iam/authorize.py``): their roles' policies and the resources' own."""
        return Authorizer(self.machine.role_policies, self.function_policy)

    def regions(self) -> list[AccountRegion]:
        return list(self._regions.values())

    def _environments_seen(self) -> list[EnvironmentSeen]:
        wall = self.clock.wall()
        return [seen(env, wall) for region in self._regions.values() for env in region.pool.environments()]

    def _load(self) -> tuple[int, int]:
        """This node's environments, and how many run an invocation now."""
        environments = sum(len(region.pool.environments()) for region in self._regions.values())
        return environments, self._busy()

    def _busy(self) -> int:
        return sum(region.pool.busy() for region in self._regions.values())

    def _event_source_metrics(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        return [row for region in self._regions.values() for row in region.event_source_stats()]

    def _durable_metrics(self) -> list[tuple[dict[str, str], int]]:
        return [
            ({"function": function, "status": status}, count)
            for region in self._regions.values()
            for function, status, count in region.durable_store.counts()
        ]

    def notes(self) -> list[str]:
        """What a user should know about this host, for the start-up banner."""
        notes = self.machine.notes()
        if self.config.cluster_url is not None:
            notes.insert(0, f"node {self.config.node_name} of the cluster on {self.config.cluster_url}")
        return notes

    async def start(self) -> None:
        if self.config.trace is not None:
            self._start_trace(self.config.trace)
        await self.machine.start()
        if self.cluster_node is not None:
            await self.cluster_node.start()
        for scope in sorted(self.machine.stores.scopes_in_use(), key=lambda scope: scope.key):
            self.region(scope)
        for region in self.regions():
            region.load()
        regions = [(region.registry, region.layers) for region in self.regions()]
        unused_code.delete_unused(self.machine.blobs, self.machine.opt_trees, regions)
        for region in self.regions():
            region.start()
        self._started = True
        if self.cluster_node is not None:  # each node takes the retention the cluster set
            self.cluster_node.log_retention.start(lambda: [(r.scope, r.log_index) for r in self.regions()])
        if self.machine.cluster is not None:
            from flare.cluster.registry_changes import RegistryChanges

            self.cluster_changes = RegistryChanges(
                self.machine.cluster, lambda: self._regions, self.machine, self.clock
            )
            self.cluster_changes.start()

    def _start_trace(self, path: Path) -> None:
        """Record every invocation of every account and region to ``path`` from now on."""
        config = self.config
        header = Header(
            self.clock.now(),
            self.clock.wall(),
            config.idle_timeout_s,
            config.account_concurrency,
            config.scaling_rate,
            DEFAULT_SCALING_WINDOW_S,
        )
        self.trace = TraceRecorder(path, self.clock, header, config.trace_max_mb * 1024 * 1024)
        for region in self.regions():
            region.router.trace = self.trace

    async def stop(self) -> None:
        self.feed.close()
        if self.cluster_changes is not None:
            await self.cluster_changes.stop()
        if self.cluster_node is not None:  # before the log indexes it writes close
            await self.cluster_node.log_retention.stop()
        for region in self.regions():
            await region.stop()
        if self.trace is not None:
            self.trace.close()
        if self.cluster_node is not None:
            await self.cluster_node.stop()
        await self.machine.stop()
