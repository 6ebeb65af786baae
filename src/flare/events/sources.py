"""Where mappings read from: the embedded queue and stream services, and the pollers for them."""

from __future__ import annotations

from flare.clock import Clock
from flare.errors import InvalidParameterValue
from flare.events.counters import Counters
from flare.events.destinations import Destinations
from flare.events.esm import SQS, Mapping, source_kind
from flare.events.invoker import SyncInvoker
from flare.events.mappings import Poller
from flare.events.pollers.sqs import EmbeddedQueue, SqsPoller
from flare.events.pollers.stream import StreamPoller
from flare.events.store import EventStore
from flare.services.errors import QueueDoesNotExist, StreamNotFound
from flare.services.queue import QueueService
from flare.services.stream import StreamService


class Sources:
    def __init__(
        self,
        queues: QueueService,
        streams: StreamService,
        invoker: SyncInvoker,
        destinations: Destinations,
        store: EventStore,
        clock: Clock,
    ) -> None:
        self._queues = queues
        self._streams = streams
        self._invoker = invoker
        self._destinations = destinations
        self._store = store
        self._clock = clock

    def check(self, arn: str) -> None:
        """InvalidParameterValue unless ``arn`` names an existing queue or stream."""
        try:
            if source_kind(arn) == SQS:
                self._queues.name_of(arn)
            else:
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
            source = EmbeddedQueue(self._queues, mapping.source_arn)
            return SqsPoller(mapping, source, self._invoker, self._clock, counters)
        return StreamPoller(
            mapping, self._streams, self._invoker, self._destinations, self._store, self._clock, counters
        )
