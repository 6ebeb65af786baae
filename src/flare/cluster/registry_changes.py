"""Every node hears every other node's changes to functions, and retires what they made stale.

Choice: Redis pub/sub, one channel per scope (``flare:{<scope>}:changes``, written by the
function store in the same script as the change, ``redis_functions.py``), heard through one
pattern subscription (``flare:{*}:changes``). Not a stream of changes: the state itself is in
Redis, so a node that missed messages (its connection dropped, Redis restarted) catches up by
reading every function back (``Registry.refresh_all``) each time its subscription is
(re)confirmed, which is also when it first starts; a stream would have to be trimmed and its
position tracked per node to give the same result. A message only says which function to read
back (``{"node": <writer>, "concern": <what>, "function": <name>}``, concern ``functions``
when absent); its own node's messages are skipped (the writer's caches already have it).

The scope's ``ChangeTarget`` (its ``AccountRegion``, if this node has built that scope; one it
has not reads everything when it is built) applies it: for a function, the registry re-reads
it and tells its listeners as if the change had been made here (``Registry.refresh``):
environments of an updated ``$LATEST`` retire (the next invoke runs the new code), a deleted
function is forgotten (404), a new one warms its runtime; for policies, the scope's policies
are read back.

Runs on the event loop: one task reads the subscription (the asyncio client); re-reading a
function uses the synchronous client (a few round trips per change heard, off the invoke path).
Reconnecting after an error waits ``RETRY_S`` on the injected clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import redis

from flare.clock import Clock
from flare.cluster.cancel_guard import guarded
from flare.cluster.link import PREFIX, ClusterLink
from flare.scope import Scope

log = logging.getLogger("flare.cluster.changes")

PATTERN = f"{PREFIX}:{{*}}:changes"
CLUSTER_CHANNEL = ClusterLink.cluster_key("changes")  # changes of global concerns (role policies)
RETRY_S = 0.5
POLL_S = 1.0  # how long one read of the subscription waits for a message


class ChangeTarget(Protocol):
    """What applies one scope's changes heard from other nodes (``AccountRegion``)."""

    def heard_change(self, concern: str, function: str) -> None:
        """Another node changed ``concern`` (``functions``, ``policies``...) of ``function``
        (for a global concern, of what it names: a role ARN)."""

    def read_back(self) -> None:
        """Read every shared concern back (changes may have been missed)."""


def scope_of(channel: str) -> Scope | None:
    """The scope a change channel belongs to (``flare:{<account>:<region>}:changes``)."""
    start, end = channel.find("{"), channel.find("}")
    if start < 0 or end < start:
        return None
    return Scope.from_key(channel[start + 1 : end])


class RegistryChanges:
    """The node ``link.node_name``'s ear for changes (see the module docstring).
    ``targets()`` are the scopes this node has built."""

    def __init__(
        self,
        link: ClusterLink,
        targets: Callable[[], Mapping[Scope, ChangeTarget]],
        whole: ChangeTarget,
        clock: Clock,
    ) -> None:
        """``whole`` applies the changes of concerns that belong to no scope (the ``Machine``)."""
        self._link = link
        self._targets = targets
        self._whole = whole
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.heard = 0  # changes of other nodes applied here

    def __repr__(self) -> str:
        return f"<RegistryChanges {self._link.node_name} heard={self.heard}>"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        pubsub = self._link.aio.pubsub()
        try:
            while True:
                try:
                    if not pubsub.subscribed:
                        await guarded(pubsub.psubscribe(PATTERN))
                        await guarded(pubsub.subscribe(CLUSTER_CHANNEL))
                    # guarded: redis-py may swallow the cancel that stop() sends (cancel_guard.py)
                    message = await guarded(pubsub.get_message(timeout=POLL_S))
                except (redis.RedisError, OSError) as error:
                    log.warning("the cluster's change channel dropped (%s); again in %.1f s", error, RETRY_S)
                    await self._clock.sleep(RETRY_S)
                    continue
                if message is not None:
                    self._take(message)
        finally:
            await pubsub.aclose()

    def _take(self, message: dict[str, Any]) -> None:
        """Apply one message of the subscription: a confirmed (re)subscription reads every
        function back; a change of another node re-reads that function."""
        try:
            if message["type"] == "psubscribe":
                for target in list(self._targets().values()):
                    target.read_back()
            elif message["type"] == "subscribe":
                self._whole.read_back()
            elif message["type"] == "pmessage":
                self._changed(_text(message["channel"]), json.loads(message["data"]))
            elif message["type"] == "message":
                change = json.loads(message["data"])
                if change.get("node") != self._link.node_name:
                    self._whole.heard_change(change["concern"], change["function"])
                    self.heard += 1
        except Exception:  # one bad change must not stop the node hearing the next ones
            log.exception("could not apply the cluster's change %r", message)

    def _changed(self, channel: str, change: dict[str, str]) -> None:
        if change.get("node") == self._link.node_name:
            return
        scope = scope_of(channel)
        target = self._targets().get(scope) if scope is not None else None
        if target is not None:
            target.heard_change(change.get("concern", "functions"), change["function"])
            self.heard += 1


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
