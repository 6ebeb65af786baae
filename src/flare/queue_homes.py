"""Where one account and region's queues, streams and async events live: this node's database,
or (a node started with ``--cluster``) the cluster's Redis, shared by every node.

``AccountRegion`` asks ``QueueHomes`` for its ``QueueService``, ``StreamService``, the async
queue's ``EventBook`` and the stream pollers' ``ShardClaims``; it names no Redis class. The
Redis-backed modules (and so ``redis``) are imported only with a cluster, so a single node's
start-up path stays as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flare.clock import Clock
from flare.config import ServerConfig
from flare.events.event_book import EventBook, LocalEventBook
from flare.events.pollers.shard_claims import ShardClaims
from flare.scope import Scope
from flare.services.queue import QueueService
from flare.services.stream import StreamService
from flare.store.events import EventStore
from flare.store.services import ServiceStore

if TYPE_CHECKING:
    from flare.cluster.link import ClusterLink


class QueueHomes:
    """``scope``'s queue-like state, on ``link``'s Redis when there is one (module docstring)."""

    def __init__(self, link: ClusterLink | None, scope: Scope, clock: Clock, config: ServerConfig) -> None:
        self._link = link
        self._scope = scope
        self._clock = clock
        self._lease_s = config.cluster_ttl_s
        self._poll_s = config.cluster_poll_s

    def __repr__(self) -> str:
        return f"<QueueHomes {self._scope.key} {'on ' + self._link.url if self._link else 'local'}>"

    def queue_service(self, local: ServiceStore) -> QueueService:
        """The SQS-compatible queues (``local``'s without a cluster)."""
        scope = self._scope
        if self._link is None:
            return QueueService(local, self._clock, scope.region, scope.account)
        from flare.cluster.redis_queue_store import RedisQueueStore

        return QueueService(
            RedisQueueStore(self._link, scope), self._clock, scope.region, scope.account, self._poll_s
        )

    def stream_service(self, local: ServiceStore) -> StreamService:
        """The Kinesis-compatible streams (``local``'s without a cluster)."""
        scope = self._scope
        if self._link is None:
            return StreamService(local, self._clock, scope.region, scope.account)
        from flare.cluster.redis_stream_store import RedisStreamStore

        store = RedisStreamStore(self._link, scope)
        return StreamService(store, self._clock, scope.region, scope.account, self._poll_s)

    def event_book(self, local: EventStore) -> EventBook:
        """Where async events wait (``local``'s table without a cluster)."""
        if self._link is None:
            return LocalEventBook(local, self._clock.wall)
        from flare.cluster.redis_event_queue import RedisEventBook

        return RedisEventBook(self._link, self._scope, self._clock, self._lease_s, self._poll_s)

    def shard_claims(self) -> ShardClaims | None:
        """How stream pollers share shards with other nodes (None: this node polls them all)."""
        if self._link is None:
            return None
        from flare.cluster.redis_shard_leases import RedisShardLeases

        return RedisShardLeases(self._link, self._scope, self._clock, self._lease_s, self._poll_s)
