"""Event source mappings: the control plane (Create/Get/Update/Delete/List) and their pollers.

Every mapping's configuration is kept in AWS's shape, durable in ``EventStore``, plus private
keys (``_function``, ``_qualifier``, ``_enabled``: what the user asked for; ``_tags``: its
tags, read and changed through ``tags`` / ``replace_tags``) never shown. A
change moves the mapping to a transitional state at once (``Creating``, ``Enabling``,
``Disabling``, ``Updating``, ``Deleting``: see ``esm.ALLOWED``) and answers; a timer of the
clock then *settles* it: stops its poller, starts a new one if it is to be enabled, and moves
it to ``Enabled`` or ``Disabled`` (or forgets it, after ``Deleting``).

On start, every stored mapping settles the same way: what was enabled polls again from its
checkpoints. Contract: used from the event loop's thread.

On a node of a cluster (``takeover_s`` given) the store is shared (``cluster/redis_mappings.py``)
and every write compares and sets: it is made against the revision (``_revision``) this node
last read, and when another node moved the mapping meanwhile, the mapping is read back and the
change made again on it (``TRIES`` times at most, then ResourceConflict). Two updates on two
nodes both land, one after the other; two creates of one source and function: one wins.

Who settles a transitional state: the node that made the change, as on one node (it stops and
starts its own poller, then writes ``Enabled``/``Disabled`` or deletes the mapping, again
compare-and-set). The other nodes hear the change (``refresh``, from ``registry_changes``),
read it back and *follow* it: each starts, restarts (the configuration changed) or stops its
own poller to match ``esm.polls``, so an enabled mapping is polled by every live node (an SQS
queue's messages go to one node at a time by their visibility timeout; a stream's shards by
their leases). They do not write its state, except to take over: a node that still sees the
same revision in a transitional state ``takeover_s`` after it heard it (the writer died before
settling it: ``--cluster-ttl``, the time a dead node's leases take to expire) settles it
itself; of several nodes doing so at once, the compare-and-set lets one write.
"""

from __future__ import annotations

import asyncio
import collections.abc
import copy
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from flare.clock import Clock, TimerHandle
from flare.control import tenancy
from flare.control.arns import parse_function_name
from flare.control.registry import Registry
from flare.control.stale_writes import redone
from flare.control.tags import ResourceArn, check_new
from flare.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound, StaleRevision
from flare.events import esm
from flare.events.esm import Mapping, State
from flare.events.mapping_pollers import MappingPollers, PollerFactory
from flare.store.storage import MappingStorage

log = logging.getLogger("flare.events")

DEFAULT_LIST = 100
# Tries of a write, each on a fresh read when another node moved the mapping: more than
# control/stale_writes.py's two, since a mapping is also written by the settling of a state
# (the writer's, right after its change), not by API calls alone.
TRIES = 5
NEW = ""  # the revision a new mapping is written against: none stored yet


# Raises InvalidParameterValue when the source does not exist.
SourceCheck = Callable[[str], None]


class EventSourceMappings:
    """Mappings by UUID, and the poller of each enabled one."""

    def __init__(
        self,
        store: MappingStorage,
        registry: Registry,
        clock: Clock,
        region: str,
        account_id: str,
        check_source: SourceCheck,
        make_poller: PollerFactory,
        takeover_s: float | None = None,
    ) -> None:
        """``takeover_s``: on a node of a cluster, how long another node's transitional state
        may last before this one settles it (None: one node, the only writer)."""
        self._store = store
        self._registry = registry
        self._clock = clock
        self._region = region
        self._account_id = account_id
        self._check_source = check_source
        self._pollers = MappingPollers(make_poller)
        self._takeover_s = takeover_s
        # uuid => stored configuration (with the private keys), in creation order
        self._configs: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[TimerHandle] = set()
        self._started = False

    def __repr__(self) -> str:
        return f"<EventSourceMappings {len(self._configs)} polling={len(self._pollers)}>"

    def start(self) -> None:
        """Load the stored mappings and settle each (enabled ones start polling); on a node of
        a cluster, follow each instead (the writer of a transitional state settles it)."""
        self._started = True
        for config in self._store.mappings():
            self._configs[config["UUID"]] = config
            if self._takeover_s is None:
                self._schedule(config["UUID"])
            else:
                self._follow(config["UUID"])

    async def stop(self) -> None:
        self._started = False
        for timer in self._timers:
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._pollers.stop_all()

    # -- API ------------------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """CreateEventSourceMapping (State ``Creating``). Raises InvalidParameterValue,
        ResourceNotFound (function), ResourceConflict (function and source already mapped)."""
        function_name: str = body["FunctionName"]  # required by the model
        config = esm.normalise_create(body)
        mapping_tags = check_new({}, body.get("Tags") or {})
        name, qualifier = parse_function_name(function_name, None)
        function_arn = self._function_arn(name, qualifier)
        esm.refuse_duplicate(self._configs.values(), config["EventSourceArn"], function_arn, name)
        self._check_source(config["EventSourceArn"])
        mapping_id = str(uuid.uuid4())
        config |= {
            "UUID": mapping_id,
            "FunctionArn": function_arn,
            "EventSourceMappingArn": self._arn(mapping_id),
            "State": State.CREATING.value,
            "StateTransitionReason": "USER_INITIATED",
            "_function": name,
            "_qualifier": qualifier,
            "_enabled": body.get("Enabled", True) is not False,
            "_tags": mapping_tags,
        }

        def store() -> dict[str, Any]:
            self._save(config, NEW)
            self._schedule(mapping_id)
            return self._shown(config)

        def read_back() -> None:  # another node mapped the same pair: read it, and refuse
            self.refresh_all()
            esm.refuse_duplicate(self._configs.values(), config["EventSourceArn"], function_arn, name)

        return redone(store, read_back, self._arn(mapping_id), TRIES)

    def get(self, mapping_id: str) -> dict[str, Any]:
        """GetEventSourceMapping. Raises ResourceNotFound."""
        return self._shown(self._config(mapping_id))

    def update(self, mapping_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateEventSourceMapping: the given fields change; ``Enabled`` enables or disables;
        ``FunctionName`` re-points it. Raises ResourceNotFound, InvalidParameterValue."""
        return self._change(mapping_id, lambda current: self._updated(current, body))

    def _updated(self, current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        mapping_id = current["UUID"]
        if current["State"] == State.DELETING:
            raise ResourceConflict(f"The resource you requested is being deleted: {mapping_id}")
        config = esm.normalise_update(current, body)
        if body.get("FunctionName") is not None:
            name, qualifier = parse_function_name(str(body["FunctionName"]), None)
            config |= {
                "FunctionArn": self._function_arn(name, qualifier),
                "_function": name,
                "_qualifier": qualifier,
            }
        if body.get("Enabled") is not None:
            config["_enabled"] = bool(body["Enabled"])
        state = State(current["State"])
        if state in (State.ENABLED, State.DISABLED):
            wanted = State.ENABLED if config["_enabled"] else State.DISABLED
            if wanted == state:
                config["State"] = esm.move(state, State.UPDATING).value
            else:
                config["State"] = (State.ENABLING if wanted == State.ENABLED else State.DISABLING).value
        return config

    def delete(self, mapping_id: str) -> dict[str, Any]:
        """DeleteEventSourceMapping: answers with State ``Deleting``. Raises ResourceNotFound."""

        def deleting(current: dict[str, Any]) -> dict[str, Any]:
            if current["State"] == State.DELETING:  # on a node of a cluster, until it is gone
                raise ResourceConflict(f"The resource you requested is being deleted: {mapping_id}")
            return current | {"State": esm.move(State(current["State"]), State.DELETING).value}

        return self._change(mapping_id, deleting)

    def _change(self, mapping_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Store ``change(current)`` against the revision read (read again, and the change made
        again, when another node moved it meanwhile) and settle it; the configuration shown."""

        def store() -> dict[str, Any]:
            current = self._config(mapping_id)
            config = change(current)
            self._save(config, current.get("_revision"))
            self._schedule(mapping_id)
            return self._shown(config)

        return redone(store, lambda: self.refresh(mapping_id), self._arn(mapping_id), TRIES)

    def list_mappings(
        self, source_arn: str | None, function_name: str | None, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        """ListEventSourceMappings, filtered by source and/or function, in creation order."""
        wanted_function = parse_function_name(function_name, None)[0] if function_name else None
        found = [
            config
            for config in self._configs.values()
            if (source_arn is None or config["EventSourceArn"] == source_arn)
            and (wanted_function is None or config["_function"] == wanted_function)
        ]
        try:
            start = int(marker) if marker else 0
        except ValueError:
            raise InvalidParameterValue(f"Invalid marker: {marker}") from None
        limit = max_items or DEFAULT_LIST
        body: dict[str, Any] = {"EventSourceMappings": [self._shown(c) for c in found[start : start + limit]]}
        if start + limit < len(found):
            body["NextMarker"] = str(start + limit)
        return body

    def tags(self, resource: ResourceArn) -> dict[str, str]:
        """The tags of the mapping ``resource`` names. Raises ResourceNotFound."""
        return dict(self._tagged(resource).get("_tags", {}))

    def replace_tags(self, resource: ResourceArn, new_tags: collections.abc.Mapping[str, str]) -> None:
        """Give the mapping exactly ``new_tags`` (its configuration and state are unchanged).
        Raises ResourceNotFound."""

        def store() -> None:
            current = self._tagged(resource)
            self._save(current | {"_tags": dict(new_tags)}, current.get("_revision"), touch=False)

        redone(store, lambda: self.refresh(resource.resource_id), resource.arn, TRIES)

    def _tagged(self, resource: ResourceArn) -> dict[str, Any]:
        config = self._configs.get(resource.resource_id)
        if config is None or config["State"] == State.DELETING.value:
            raise ResourceNotFound(f"Event source mapping not found: {resource.arn}")
        return config

    def stats(self) -> list[dict[str, Any]]:
        """Every mapping's identity, state and counters, for ``GET /flare/v1/event-sources``."""
        return [
            {
                "UUID": mapping_id,
                "EventSourceArn": config["EventSourceArn"],
                "FunctionArn": config["FunctionArn"],
                "State": config["State"],
                "LastProcessingResult": self._last_result(mapping_id),
                **self._pollers.counters(mapping_id).as_dict(),
            }
            for mapping_id, config in self._configs.items()
        ]

    # -- other nodes' changes (a node of a cluster) ---------------------------------------------

    def refresh(self, mapping_id: str) -> None:
        """Another node changed ``mapping_id`` (or this node's write was refused): read it back
        and follow it."""
        if not self._started:
            return
        config = self._store.get_mapping(mapping_id)
        if config is not None and mapping_id not in self._configs:
            self.refresh_all()  # a new one: read every one, to keep creation order
            return
        if config is None:
            if self._configs.pop(mapping_id, None) is not None:
                self._spawn(self._reconcile(mapping_id))
            return
        self._configs[mapping_id] = config
        self._follow(mapping_id)

    def refresh_all(self) -> None:
        """Read every mapping back (changes may have been missed) and follow each."""
        if not self._started:
            return
        stored = {config["UUID"]: config for config in self._store.mappings()}
        gone = [mapping_id for mapping_id in self._configs if mapping_id not in stored]
        self._configs = stored
        for mapping_id in gone:
            self._spawn(self._reconcile(mapping_id))
        for mapping_id in stored:
            self._follow(mapping_id)

    def _follow(self, mapping_id: str) -> None:
        """Match this node's poller to the stored configuration; arm the takeover of a
        transitional state (module docstring)."""
        self._spawn(self._reconcile(mapping_id))
        config = self._configs[mapping_id]
        if self._takeover_s is None or State(config["State"]) in esm.SETTLED:
            return
        revision = config.get("_revision")

        def take_over() -> None:
            self._timers.discard(timer)
            if self._started and self._configs.get(mapping_id, {}).get("_revision") == revision:
                log.warning("mapping %s: settling %s for the node that left it", mapping_id, config["State"])
                self._spawn(self._settle(mapping_id))

        timer = self._clock.call_later(self._takeover_s, take_over)
        self._timers.add(timer)

    async def _reconcile(self, mapping_id: str) -> None:
        config = self._configs.get(mapping_id)
        wanted = None
        if config is not None and esm.polls(config):
            wanted = Mapping.of(config, config["_function"], config["_qualifier"])
        await self._pollers.match(mapping_id, wanted)
        if mapping_id not in self._configs:
            self._pollers.forget(mapping_id)

    # -- internals ------------------------------------------------------------------------------

    def _arn(self, mapping_id: str) -> str:
        return f"arn:aws:lambda:{self._region}:{self._account_id}:event-source-mapping:{mapping_id}"

    def _function_arn(self, name: str, qualifier: str | None) -> str:
        """The ARN a mapping to ``name`` (``qualifier``) invokes. Raises ResourceNotFound, and
        InvalidParameterValue for a tenant-isolated function (a mapping passes no tenant)."""
        version = self._registry.resolve(name, qualifier)
        tenancy.refuse(tenancy.Feature.EVENT_SOURCE_MAPPING, version.tenant_isolated)
        return version.function_arn if qualifier is None else f"{version.function_arn}:{qualifier}"

    def _config(self, mapping_id: str) -> dict[str, Any]:
        config = self._configs.get(mapping_id)
        if config is None:
            raise ResourceNotFound(
                f"The resource you requested does not exist. (Service: Lambda, UUID: {mapping_id})"
            )
        return config

    def _save(self, config: dict[str, Any], expected_revision: str | None, touch: bool = True) -> None:
        """Store ``config`` as a new revision (``touch``: modified now), if the stored one is
        still ``expected_revision`` (``NEW``: none is); raises StaleRevision otherwise.
        ``config`` is the caller's own."""
        if touch:
            config["LastModified"] = round(self._clock.wall(), 3)
        config["_revision"] = uuid.uuid4().hex
        self._store.put_mapping(config["UUID"], config, expected_revision)
        self._configs[config["UUID"]] = config

    def _last_result(self, mapping_id: str) -> str:
        return self._pollers.last_result(mapping_id)

    def _shown(self, config: dict[str, Any]) -> dict[str, Any]:
        shown = {key: copy.deepcopy(value) for key, value in config.items() if not key.startswith("_")}
        if esm.source_kind(config["EventSourceArn"]) == esm.KINESIS:
            shown["LastProcessingResult"] = self._last_result(config["UUID"])
        return shown

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("settling or following a mapping failed", exc_info=error)

    def _schedule(self, mapping_id: str) -> None:
        self._clock.call_later(0.0, lambda: self._spawn(self._settle(mapping_id)))

    async def _settle(self, mapping_id: str) -> None:
        """Bring the poller in line with the stored config; leave a transitional state."""
        async with self._pollers.lock(mapping_id):
            await self._settle_locked(mapping_id)

    async def _settle_locked(self, mapping_id: str) -> None:
        await self._pollers.stop(mapping_id)
        current = self._configs.get(mapping_id)
        if current is None:
            return
        state = State(current["State"])
        if state == State.DELETING:
            self._store.delete_mapping(mapping_id)
            self._configs.pop(mapping_id, None)
            self._pollers.forget(mapping_id)
            return
        config = dict(current)
        target = State.ENABLED if config["_enabled"] else State.DISABLED
        if target == State.ENABLED:
            try:
                self._pollers.start(Mapping.of(config, config["_function"], config["_qualifier"]))
            except Exception as error:
                target = State.DISABLED
                config["StateTransitionReason"] = f"PROBLEM: {error}"
        if state != target:
            config["State"] = (
                esm.move(state, target) if state not in (State.ENABLED, State.DISABLED) else target
            ).value
        try:
            self._save(config, current.get("_revision"))
        except StaleRevision:  # another node changed it meanwhile: follow what it stored
            self.refresh(mapping_id)
