"""The SQS poller of one mapping: long-poll the queue, batch, invoke, delete what succeeded.

Workers, each a loop of *collect a batch → invoke synchronously → delete*; one to start, one
more whenever a worker collects a full batch (the backlog is growing), up to
``ScalingConfig.MaximumConcurrency`` (else ``DEFAULT_MAX_WORKERS``); a worker that finds the
queue empty leaves, unless it is the last. A batch is up to BatchSize messages, collected until
full or until MaximumBatchingWindowInSeconds of the clock has passed since its first message.

What happens to a batch:

    success                          every message is deleted
    success + ReportBatchItemFailures  all but the reported ones are deleted (an invalid report:
                                     none are)
    function error, throttle,        none is deleted: the queue makes them visible again when
    system error                     their visibility timeout ends, counting receives, and its
                                     own RedrivePolicy moves them to its DLQ past maxReceiveCount

Messages the mapping's FilterCriteria do not match are deleted without an invocation (as on
AWS); a batch of only those invokes nothing.

After a throttle or system error the worker backs off (1 s, doubling, up to 30 s) on the clock;
after an error reading the queue, 30 s. No error ends a worker: one that is not a ``FlareError``
(a bug, a client library's own) is logged with its traceback and treated as a system error.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any, Protocol

from flare.clock import Clock
from flare.errors import FlareError
from flare.events.counters import Counters
from flare.events.esm import Mapping
from flare.events.filtering import Filter, sqs_document
from flare.events.invoker import SyncInvoker
from flare.events.pollers.item_failures import failed_items
from flare.events.retry import Outcome
from flare.services.message import MAX_RECEIVE, ReceivedMessage, md5_of_attributes
from flare.services.queue import QueueService

log = logging.getLogger("flare.events")

DEFAULT_MAX_WORKERS = 1000
LONG_POLL_S = 20
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
EMPTY_PAUSE_S = 0.1


class QueueSource(Protocol):
    """A queue as the poller needs it (the embedded service, or SQS through boto3)."""

    async def receive(self, max_messages: int, wait_s: int) -> list[ReceivedMessage]: ...

    async def delete(self, receipt_handles: list[str]) -> None: ...


class EmbeddedQueue:
    def __init__(self, queues: QueueService, arn: str) -> None:
        self._queues = queues
        self._name = queues.name_of(arn)

    async def receive(self, max_messages: int, wait_s: int) -> list[ReceivedMessage]:
        return await self._queues.receive(self._name, max_messages, wait_seconds=wait_s)

    async def delete(self, receipt_handles: list[str]) -> None:
        self._queues.delete_batch(self._name, receipt_handles)


def sqs_record(message: ReceivedMessage, source_arn: str) -> dict[str, Any]:
    """One entry of the ``Records`` of an SQS event (spec §4.1)."""
    attributes = {}
    for name, value in message.attributes.items():
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.data_type}
        if value.binary_value is not None:
            entry["binaryValue"] = base64.b64encode(value.binary_value).decode()
        else:
            entry["stringValue"] = value.string_value
        attributes[name] = entry
    record: dict[str, Any] = {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": message.system_attributes(),
        "messageAttributes": attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": source_arn.split(":")[3],
    }
    digest = md5_of_attributes(message.attributes)
    if digest is not None:
        record["md5OfMessageAttributes"] = digest
    return record


def with_newest_receipts(batch: list[ReceivedMessage], more: list[ReceivedMessage]) -> list[ReceivedMessage]:
    """``batch`` plus ``more``, one entry per message. A message whose visibility timeout ended
    while the batch was being gathered (a timeout no longer than the batching window) comes
    back in ``more``: its newer receive replaces the older in place, since SQS deletes a message
    only by the receipt handle of its latest receive."""
    newest = {message.message_id: message for message in more}
    kept = [newest.pop(message.message_id, message) for message in batch]
    return kept + [message for message in more if message.message_id in newest]


class SqsPoller:
    """Polls one queue for one mapping. ``start`` and ``stop`` from the event loop."""

    def __init__(
        self, mapping: Mapping, source: QueueSource, invoker: SyncInvoker, clock: Clock, counters: Counters
    ) -> None:
        self.mapping = mapping
        self._source = source
        self._invoker = invoker
        self._clock = clock
        self.counters = counters
        self.last_result = "No records processed"
        self._filter = Filter(mapping.filters)
        self._workers: set[asyncio.Task[None]] = set()
        self._max_workers = mapping.max_concurrency or DEFAULT_MAX_WORKERS

    def __repr__(self) -> str:
        return f"<SqsPoller {self.mapping.uuid} workers={len(self._workers)}/{self._max_workers}>"

    def start(self) -> None:
        self._spawn()

    async def stop(self) -> None:
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    def _spawn(self) -> None:
        worker = asyncio.get_running_loop().create_task(self._work())
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _work(self) -> None:
        backoff = 0.0
        while True:
            try:
                batch = await self._collect()
            except Exception as error:  # whatever it is, the worker must go on polling
                self._failed("cannot read its queue", error)
                await self._clock.sleep(BACKOFF_MAX_S)
                continue
            if not batch:
                if len(self._workers) > 1:
                    return
                # a closing queue service answers at once: never spin
                await self._clock.sleep(EMPTY_PAUSE_S)
                continue
            if len(batch) >= self.mapping.batch_size and len(self._workers) < self._max_workers:
                self._spawn()
            try:
                outcome = await self._process(batch)
            except Exception as error:  # the batch stays in the queue, for its visibility timeout
                self._failed("batch not processed", error)
                outcome = Outcome.SYSTEM_ERROR
            if outcome in (Outcome.THROTTLED, Outcome.SYSTEM_ERROR):
                backoff = min(BACKOFF_MAX_S, backoff * 2 or BACKOFF_FIRST_S)
                await self._clock.sleep(backoff)
            else:
                backoff = 0.0

    def _failed(self, what: str, error: Exception) -> None:
        """Log ``error``: a ``FlareError`` by its message, anything else with its traceback."""
        if isinstance(error, FlareError):
            log.warning("mapping %s: %s: %s", self.mapping.uuid, what, error.message)
        else:
            log.exception("mapping %s: %s", self.mapping.uuid, what)

    async def _collect(self) -> list[ReceivedMessage]:
        wanted = self.mapping.batch_size
        batch = await self._source.receive(min(MAX_RECEIVE, wanted), LONG_POLL_S)
        if not batch:
            return batch
        deadline = self._clock.now() + self.mapping.window_s
        while len(batch) < wanted:
            remaining = deadline - self._clock.now()
            wait = max(0, min(LONG_POLL_S, int(remaining + 0.999)))
            more = await self._source.receive(min(MAX_RECEIVE, wanted - len(batch)), wait)
            batch = with_newest_receipts(batch, more)
            if not more and self._clock.now() >= deadline:
                break
        return batch

    async def _process(self, batch: list[ReceivedMessage]) -> Outcome:
        self.counters.received += len(batch)
        now = self._clock.wall()
        self.counters.oldest_age_s = round(max(0.0, now - min(m.sent_timestamp for m in batch)), 3)
        records = [sqs_record(message, self.mapping.source_arn) for message in batch]
        if self._filter:
            kept = [self._filter.matches(sqs_document(record)) for record in records]
            dropped = [m.receipt_handle for m, keep in zip(batch, kept, strict=True) if not keep]
            if dropped:
                await self._source.delete(dropped)
                self.counters.filtered += len(dropped)
            batch = [m for m, keep in zip(batch, kept, strict=True) if keep]
            records = [r for r, keep in zip(records, kept, strict=True) if keep]
            if not batch:
                return Outcome.SUCCESS
        event = {"Records": records}
        attempt = await self._invoker.invoke(
            self.mapping.function_name, self.mapping.qualifier, json.dumps(event).encode()
        )
        if attempt.outcome is not Outcome.SUCCESS:
            self.counters.failed += 1
            self.counters.retried += len(batch)
            self.last_result = "PROBLEM: Function call failed"
            return attempt.outcome
        done = batch
        if self.mapping.report_item_failures:
            failed = failed_items(attempt.payload, {m.message_id for m in batch})
            if failed is None:
                failed = {m.message_id for m in batch}
            done = [m for m in batch if m.message_id not in failed]
            self.counters.retried += len(batch) - len(done)
        if done:
            await self._source.delete([m.receipt_handle for m in done])
        self.counters.succeeded += len(done)
        self.last_result = "OK"
        return Outcome.SUCCESS
