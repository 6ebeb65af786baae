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
"""

from __future__ import annotations

import asyncio
import collections.abc
import copy
import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from flare.clock import Clock
from flare.control import tenancy
from flare.control.arns import parse_function_name
from flare.control.registry import Registry
from flare.control.tags import ResourceArn, check_new
from flare.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from flare.events import esm
from flare.events.counters import Counters
from flare.events.esm import Mapping, State
from flare.store.events import EventStore

log = logging.getLogger("flare.events")

DEFAULT_LIST = 100


class Poller(Protocol):
    counters: Counters
    last_result: str

    def start(self) -> None: ...

    async def stop(self) -> None: ...


# Raises InvalidParameterValue when the source does not exist.
SourceCheck = Callable[[str], None]
PollerFactory = Callable[[Mapping, Counters], Poller]


class EventSourceMappings:
    """Mappings by UUID, and the poller of each enabled one."""

    def __init__(
        self,
        store: EventStore,
        registry: Registry,
        clock: Clock,
        region: str,
        account_id: str,
        check_source: SourceCheck,
        make_poller: PollerFactory,
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._region = region
        self._account_id = account_id
        self._check_source = check_source
        self._make_poller = make_poller
        # uuid => stored configuration (with the private keys)
        self._configs: dict[str, dict[str, Any]] = {}
        # uuid => running poller
        self._pollers: dict[str, Poller] = {}
        # uuid => counters since start-up
        self._counters: dict[str, Counters] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # uuid => held while its poller is being stopped or started
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"<EventSourceMappings {len(self._configs)} polling={len(self._pollers)}>"

    def start(self) -> None:
        """Load the stored mappings and settle each (enabled ones start polling)."""
        for config in self._store.mappings():
            self._configs[config["UUID"]] = config
            self._schedule(config["UUID"])

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        pollers = list(self._pollers.values())
        self._pollers.clear()
        await asyncio.gather(*(poller.stop() for poller in pollers), return_exceptions=True)

    # -- API ------------------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """CreateEventSourceMapping (State ``Creating``). Raises InvalidParameterValue,
        ResourceNotFound (function), ResourceConflict (function and source already mapped)."""
        function_name: str = body["FunctionName"]  # required by the model
        config = esm.normalise_create(body)
        mapping_tags = check_new({}, body.get("Tags") or {})
        name, qualifier = parse_function_name(function_name, None)
        function_arn = self._function_arn(name, qualifier)
        for other in self._configs.values():
            if other["EventSourceArn"] == config["EventSourceArn"] and other["FunctionArn"] == function_arn:
                kind = "SQS" if esm.source_kind(other["EventSourceArn"]) == esm.SQS else "Kinesis"
                raise ResourceConflict(
                    f'An event source mapping with {kind} arn (" {other["EventSourceArn"]} ") and function '
                    f'(" {name} ") already exists. Please update or delete the existing mapping with UUID '
                    f"{other['UUID']}"
                )
        self._check_source(config["EventSourceArn"])
        mapping_id = str(uuid.uuid4())
        config |= {
            "UUID": mapping_id,
            "FunctionArn": function_arn,
            "EventSourceMappingArn": (
                f"arn:aws:lambda:{self._region}:{self._account_id}:event-source-mapping:{mapping_id}"
            ),
            "State": State.CREATING.value,
            "StateTransitionReason": "USER_INITIATED",
            "_function": name,
            "_qualifier": qualifier,
            "_enabled": body.get("Enabled", True) is not False,
            "_tags": mapping_tags,
        }
        self._save(config)
        self._schedule(mapping_id)
        return self._shown(config)

    def get(self, mapping_id: str) -> dict[str, Any]:
        """GetEventSourceMapping. Raises ResourceNotFound."""
        return self._shown(self._config(mapping_id))

    def update(self, mapping_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateEventSourceMapping: the given fields change; ``Enabled`` enables or disables;
        ``FunctionName`` re-points it. Raises ResourceNotFound, InvalidParameterValue."""
        current = self._config(mapping_id)
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
        self._save(config)
        self._schedule(mapping_id)
        return self._shown(config)

    def delete(self, mapping_id: str) -> dict[str, Any]:
        """DeleteEventSourceMapping: answers with State ``Deleting``. Raises ResourceNotFound."""
        config = self._config(mapping_id)
        config["State"] = esm.move(State(config["State"]), State.DELETING).value
        self._save(config)
        self._schedule(mapping_id)
        return self._shown(config)

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
        config = self._tagged(resource)
        config["_tags"] = dict(new_tags)
        self._store.put_mapping(config["UUID"], config)

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
                **self._counters.setdefault(mapping_id, Counters()).as_dict(),
            }
            for mapping_id, config in self._configs.items()
        ]

    # -- internals ------------------------------------------------------------------------------

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

    def _save(self, config: dict[str, Any]) -> None:
        config["LastModified"] = round(self._clock.wall(), 3)
        self._store.put_mapping(config["UUID"], config)
        self._configs[config["UUID"]] = config

    def _last_result(self, mapping_id: str) -> str:
        poller = self._pollers.get(mapping_id)
        return poller.last_result if poller is not None else "No records processed"

    def _shown(self, config: dict[str, Any]) -> dict[str, Any]:
        shown = {key: copy.deepcopy(value) for key, value in config.items() if not key.startswith("_")}
        if esm.source_kind(config["EventSourceArn"]) == esm.KINESIS:
            shown["LastProcessingResult"] = self._last_result(config["UUID"])
        return shown

    def _schedule(self, mapping_id: str) -> None:
        def fire() -> None:
            task = asyncio.get_running_loop().create_task(self._settle(mapping_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._clock.call_later(0.0, fire)

    async def _settle(self, mapping_id: str) -> None:
        """Bring the poller in line with the stored config; leave a transitional state."""
        lock = self._locks.setdefault(mapping_id, asyncio.Lock())
        async with lock:
            await self._settle_locked(mapping_id)

    async def _settle_locked(self, mapping_id: str) -> None:
        poller = self._pollers.pop(mapping_id, None)
        if poller is not None:
            await poller.stop()
        config = self._configs.get(mapping_id)
        if config is None:
            return
        state = State(config["State"])
        if state == State.DELETING:
            self._store.delete_mapping(mapping_id)
            self._configs.pop(mapping_id, None)
            self._counters.pop(mapping_id, None)
            self._locks.pop(mapping_id, None)
            return
        target = State.ENABLED if config["_enabled"] else State.DISABLED
        if target == State.ENABLED:
            mapping = Mapping.of(config, config["_function"], config["_qualifier"])
            counters = self._counters.setdefault(mapping_id, Counters())
            try:
                started = self._make_poller(mapping, counters)
                started.start()
            except Exception as error:
                log.warning("mapping %s cannot poll %s: %s", mapping_id, mapping.source_arn, error)
                target = State.DISABLED
                config["StateTransitionReason"] = f"PROBLEM: {error}"
            else:
                self._pollers[mapping_id] = started
        if state != target:
            config["State"] = (
                esm.move(state, target) if state not in (State.ENABLED, State.DISABLED) else target
            ).value
        self._save(config)
