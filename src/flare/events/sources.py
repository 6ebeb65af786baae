"""Where mappings read from: the embedded queue and stream services, and the pollers for them.

An SQS ARN that is not one of the embedded service's queues is read through boto3 from
``sqs_endpoint`` (``flare serve --sqs-endpoint URL``) when one is configured; its existence is
not checked at CreateEventSourceMapping (that would block the event loop on a remote call): a
missing or unreadable remote queue shows up as warnings in the server log while the mapping
backs off. Likewise a Kinesis stream ARN the embedded StreamService does not have is read from
``kinesis_endpoint`` (``flare serve --kinesis-endpoint URL``).
"""

from __future__ import annotations

from flare.clock import Clock
from flare.errors import InvalidParameterValue
from flare.events.counters import Counters
from flare.events.destinations import Destinations
from flare.events.esm import SQS, Mapping, source_kind
from flare.events.invoker import SyncInvoker
from flare.events.mapping_pollers import Poller
from flare.events.pollers.remote_kinesis import RemoteStream
from flare.events.pollers.remote_sqs import RemoteQueue
from flare.events.pollers.shard_claims import ShardClaims
from flare.events.pollers.sqs import EmbeddedQueue, QueueSource, SqsPoller
from flare.events.pollers.stream import StreamPoller
from flare.events.pollers.stream_source import EmbeddedStream, StreamSource
from flare.services.errors import QueueDoesNotExist, StreamNotFound
from flare.services.queue import QueueService
from flare.services.stream import StreamService
from flare.store.events import EventStore


class Sources:
    def __init__(
        self,
        queues: QueueService,
        streams: StreamService,
        invoker: SyncInvoker,
        destinations: Destinations,
        store: EventStore,
        clock: Clock,
        sqs_endpoint: str | None = None,
        kinesis_endpoint: str | None = None,
        shard_claims: ShardClaims | None = None,
    ) -> None:
        """``shard_claims``: on a node of a cluster, how stream pollers share shards with other
        nodes (None: this node polls every shard of its mappings)."""
        self._queues = queues
        self._streams = streams
        self._invoker = invoker
        self._destinations = destinations
        self._store = store
        self._clock = clock
        self._sqs_endpoint = sqs_endpoint
        self._kinesis_endpoint = kinesis_endpoint
        self._shard_claims = shard_claims

    def _remote_sqs(self, arn: str) -> bool:
        """True if ``arn`` is to be read from the configured SQS endpoint, not the embedded one."""
        if self._sqs_endpoint is None:
            return False
        try:
            self._queues.name_of(arn)
        except QueueDoesNotExist:
            return len(arn.split(":")) == 6
        return False

    def _remote_kinesis(self, arn: str) -> bool:
        """True if ``arn`` is to be read from the configured Kinesis endpoint."""
        if self._kinesis_endpoint is None:
            return False
        try:
            self._streams.name_of(arn)
        except StreamNotFound:
            return True
        return False

    def check(self, arn: str) -> None:
        """InvalidParameterValue unless ``arn`` names an existing queue or stream."""
        try:
            if source_kind(arn) == SQS:
                if not self._remote_sqs(arn):
                    self._queues.name_of(arn)
            elif not self._remote_kinesis(arn):
                self._streams.name_of(arn)
        except QueueDoesNotExist:
            raise InvalidParameterValue(
                "Error occurred while ReceiveMessage. SQS Error Code: "
                "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: "
                "The specified queue does not exist or you do not have access to it."
            ) from None
        except StreamNotFound:
            raise InvalidParameterValue(f"Stream not found: {arn}") from None

    def poller(self, mapping: Mapping, counters: Counters) -> Poller:
        """A (not yet started) poller for ``mapping``. Raises if its source is gone."""
        if mapping.kind == SQS:
            source: QueueSource
            if self._sqs_endpoint is not None and self._remote_sqs(mapping.source_arn):
                source = RemoteQueue(self._sqs_endpoint, mapping.source_arn)
            else:
                source = EmbeddedQueue(self._queues, mapping.source_arn)
            return SqsPoller(mapping, source, self._invoker, self._clock, counters)
        stream: StreamSource
        claims = None
        if self._kinesis_endpoint is not None and self._remote_kinesis(mapping.source_arn):
            stream = RemoteStream(self._kinesis_endpoint, mapping.source_arn, self._clock)
        else:
            stream = EmbeddedStream(self._streams, mapping.source_arn)
            claims = self._shard_claims
        return StreamPoller(
            mapping, stream, self._invoker, self._destinations, self._store, self._clock, counters, claims
        )
