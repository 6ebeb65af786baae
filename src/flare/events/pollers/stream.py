"""The Kinesis poller of one mapping: each shard in order, a failing batch blocking its shard.

One task per shard. It reads up to BatchSize x ParallelizationFactor records after the shard's
checkpoint (waiting up to MaximumBatchingWindowInSeconds for more while short), deals them to
ParallelizationFactor *lanes* by partition key (so one key's records stay in order), runs the
lanes at once, each one batch of at most BatchSize at a time, and when every lane is through
stores the checkpoint: the last sequence number read. A crash re-delivers at most that read.

A batch in a lane is retried until it succeeds (on the clock: 0.1 s doubling up to
``RETRY_MAX_S``), blocking the lane and so the shard:

    function error        BisectBatchOnFunctionError: split in two halves, each tried on its
                          own, without using up retries; else one retry used; past
                          MaximumRetryAttempts (-1: never) the batch is discarded
    ReportBatchItemFailures  the records before the lowest reported sequence number succeeded;
                          the batch goes on from it (one retry used)
    throttle, system error   retried without using up retries
    MaximumRecordAgeInSeconds  records older than it are discarded before each try

A discarded batch goes to the OnFailure destination as a ``KinesisBatchInfo`` record (condition
``RetryAttemptsExhausted`` or ``RecordAgeExceeded``).

Records the mapping's FilterCriteria do not match are not delivered; they count as read, so the
checkpoint moves past them.

With ``TumblingWindowInSeconds`` the records go through windows (``windows.py``): one lane per
shard (ParallelizationFactor does not apply), each invocation carrying the window's state, and
the checkpoint moving only when a window is over.

The stream is a ``StreamSource`` (``stream_source.py``): the embedded service or a real
Kinesis endpoint through boto3 (``remote_kinesis.RemoteStream``). Shards are listed once, when
the poller starts (no resharding).

On a node of a cluster the poller is given ``ShardClaims`` (``shard_claims.py``): each shard's
task then polls only while this node holds the shard (one node at a time, so order holds across
nodes), starting from the checkpoint whichever node saved last; once the hold is lost it stops
and queues for the shard again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from flare.clock import Clock
from flare.errors import FlareError
from flare.events.counters import Counters
from flare.events.destinations import Destinations
from flare.events.esm import Mapping
from flare.events.filtering import Filter, kinesis_document
from flare.events.invoker import Attempt, SyncInvoker
from flare.events.pollers.item_failures import failed_items
from flare.events.pollers.kinesis_event import batch_info_record, kinesis_record
from flare.events.pollers.shard_claims import ShardClaims, ShardLost
from flare.events.pollers.stream_source import StreamSource
from flare.events.pollers.windows import Window, by_window, state_of, too_large, window_fields
from flare.events.retry import Outcome
from flare.services.errors import ExpiredIterator
from flare.services.stream import StreamRecord
from flare.store.events import EventStore

log = logging.getLogger("flare.events")

IDLE_WAIT_S = 1.0
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 10.0
RETRY_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


@dataclass
class Batch:
    records: list[StreamRecord]
    retries: int = 0
    invokes: int = 0


def backoff(delay: float) -> float:
    """The wait before the next try of a blocked batch: ``RETRY_FIRST_S``, doubling to ``RETRY_MAX_S``."""
    return min(RETRY_MAX_S, delay * 2 or RETRY_FIRST_S)


def lanes(records: list[StreamRecord], count: int) -> list[list[StreamRecord]]:
    """``records`` dealt to ``count`` lanes by partition key, each lane in shard order."""
    dealt: list[list[StreamRecord]] = [[] for _ in range(count)]
    for record in records:
        digest = hashlib.md5(record.partition_key.encode(), usedforsecurity=False).digest()
        dealt[int.from_bytes(digest[:4], "big") % count].append(record)
    return [lane for lane in dealt if lane]


class StreamPoller:
    """Polls every shard of one stream for one mapping. ``start``/``stop`` from the event loop."""

    def __init__(
        self,
        mapping: Mapping,
        source: StreamSource,
        invoker: SyncInvoker,
        destinations: Destinations,
        store: EventStore,
        clock: Clock,
        counters: Counters,
        claims: ShardClaims | None = None,
    ) -> None:
        self.mapping = mapping
        self._claims = claims
        self._source = source
        self._filter = Filter(mapping.filters)
        self._invoker = invoker
        self._destinations = destinations
        self._store = store
        self._clock = clock
        self.counters = counters
        self.last_result = "No records processed"
        self._main: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"<StreamPoller {self.mapping.uuid} shards={len(self._tasks)}>"

    def start(self) -> None:
        self._main = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._main] if self._main is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._main = None

    async def _run(self) -> None:
        """List the shards (until that works), then poll each in a task of its own."""
        while True:
            try:
                shard_ids = await self._source.shard_ids()
                break
            except FlareError as error:
                log.warning("mapping %s: cannot list the shards: %s", self.mapping.uuid, error.message)
                await self._clock.sleep(RETRY_MAX_S)
        loop = asyncio.get_running_loop()
        if self._claims is not None:
            for shard_id in shard_ids:
                self._tasks.append(loop.create_task(self._poll_held(self._claims, shard_id)))
            return
        checkpoints = self._store.checkpoints(self.mapping.uuid)
        for shard_id in shard_ids:
            self._tasks.append(loop.create_task(self._poll(shard_id, checkpoints.get(shard_id))))

    async def _poll_held(self, claims: ShardClaims, shard_id: str) -> None:
        """Poll ``shard_id`` whenever this node holds it, from the shared checkpoint."""
        uuid = self.mapping.uuid
        # LATEST means the shard's end when the mapping starts, not when this node gets the shard
        latest = (
            await self._first_iterator(shard_id, None) if self.mapping.starting_position == "LATEST" else None
        )
        while True:
            lost = await claims.hold(uuid, shard_id)
            checkpoint = await claims.checkpoint(uuid, shard_id)
            polling = asyncio.get_running_loop().create_task(
                self._poll(shard_id, checkpoint, latest if checkpoint is None else None)
            )
            losing = asyncio.get_running_loop().create_task(lost.wait())
            try:
                await asyncio.wait((polling, losing), return_when=asyncio.FIRST_COMPLETED)
                if polling.done() and not isinstance(polling.exception(), ShardLost):
                    polling.result()
                    return  # a closed shard, read to its end
                log.warning("mapping %s: shard %s went to another node", uuid, shard_id)
            finally:
                for task in (polling, losing):
                    task.cancel()
                await asyncio.gather(polling, losing, return_exceptions=True)
                await claims.release(uuid, shard_id)

    async def _save_checkpoint(self, shard_id: str, sequence: str) -> None:
        """Record progress; raises ShardLost when another node may hold the shard now."""
        if self._claims is None:
            self._store.put_checkpoint(self.mapping.uuid, shard_id, sequence)
        elif not await self._claims.save(self.mapping.uuid, shard_id, sequence):
            raise ShardLost(shard_id)

    async def _first_iterator(self, shard_id: str, checkpoint: str | None) -> str:
        if checkpoint is not None:
            return await self._source.iterator(shard_id, "AFTER_SEQUENCE_NUMBER", checkpoint)
        return await self._source.iterator(
            shard_id, self.mapping.starting_position, timestamp=self.mapping.starting_timestamp
        )

    async def _poll(self, shard_id: str, checkpoint: str | None, iterator: str | None = None) -> None:
        window: Window | None = None
        while True:
            try:
                if iterator is None:
                    iterator = await self._first_iterator(shard_id, checkpoint)
                records, iterator = await self._read(iterator)
            except ExpiredIterator:
                iterator = None
                continue
            except FlareError as error:
                log.warning(
                    "mapping %s: cannot read shard %s: %s", self.mapping.uuid, shard_id, error.message
                )
                await self._clock.sleep(RETRY_MAX_S)
                continue
            if not records:
                if window is not None and (not iterator or self._clock.wall() >= window.end):
                    await self._close_window(shard_id, window)
                    window = None
                if not iterator:
                    return  # a closed shard, read to its end
                continue
            self.counters.received += len(records)
            self.counters.oldest_age_s = round(max(0.0, self._clock.wall() - records[0].arrival), 3)
            if self.mapping.tumbling_window_s:
                window = await self._run_windows(shard_id, records, window)
                if not iterator:
                    if window is not None:
                        await self._close_window(shard_id, window)
                    return
                continue
            wanted = self._wanted(shard_id, records)
            await asyncio.gather(
                *(self._run_lane(shard_id, lane) for lane in lanes(wanted, self.mapping.parallelization))
            )
            checkpoint = records[-1].sequence_number
            await self._save_checkpoint(shard_id, checkpoint)
            if not iterator:
                return

    def _wanted(self, shard_id: str, records: list[StreamRecord]) -> list[StreamRecord]:
        """The records the FilterCriteria let through (all of them without any)."""
        if not self._filter:
            return records
        source = self.mapping.source_arn
        wanted = [
            r
            for r in records
            if self._filter.matches(kinesis_document(kinesis_record(r, shard_id, source, "")["kinesis"]))
        ]
        self.counters.filtered += len(records) - len(wanted)
        return wanted

    async def _read(self, iterator: str) -> tuple[list[StreamRecord], str]:
        wanted = self.mapping.batch_size * self.mapping.parallelization
        records, iterator = await self._source.read(iterator, min(wanted, 10_000))
        if not records:
            if iterator:
                await self._source.wait(IDLE_WAIT_S)
            return records, iterator
        deadline = self._clock.now() + self.mapping.window_s
        while iterator and len(records) < wanted and self._clock.now() < deadline:
            await self._source.wait(deadline - self._clock.now())
            more, iterator = await self._source.read(iterator, min(wanted - len(records), 10_000))
            records += more
        return records, iterator

    async def _run_windows(
        self, shard_id: str, records: list[StreamRecord], window: Window | None
    ) -> Window | None:
        """Deliver ``records`` window by window, closing each window a later record shows over;
        returns the window still open."""
        for (start, end), group in by_window(records, self.mapping.tumbling_window_s):
            if window is not None and start > window.start:
                await self._close_window(shard_id, window)
                window = None
            if window is None:
                window = Window(start, end)
            wanted = self._wanted(shard_id, group)
            if wanted:
                await self._run_lane(shard_id, wanted, window)
            window.last_sequence = group[-1].sequence_number
        return window

    async def _close_window(self, shard_id: str, window: Window, early: bool = False) -> None:
        """The window's final invocation (no records, the final state), retried until it
        succeeds or MaximumRetryAttempts runs out; then, unless ``early``, the checkpoint."""
        retries, delay = 0, 0.0
        while True:
            attempt = await self._invoke(shard_id, Batch([]), window, final=True, early=early)
            if attempt.outcome is Outcome.SUCCESS:
                break
            self.counters.failed += 1
            if attempt.outcome is Outcome.FUNCTION_ERROR:
                retries += 1
                if 0 <= self.mapping.max_retries < retries:
                    log.info(
                        "mapping %s: the final invoke of a window of %s failed", self.mapping.uuid, shard_id
                    )
                    break
            self.counters.retried += 1
            delay = backoff(delay)
            await self._clock.sleep(delay)
        if not early and window.last_sequence is not None:
            await self._save_checkpoint(shard_id, window.last_sequence)

    async def _run_lane(
        self, shard_id: str, records: list[StreamRecord], window: Window | None = None
    ) -> None:
        size = self.mapping.batch_size
        pending = deque(Batch(records[i : i + size]) for i in range(0, len(records), size))
        delay = 0.0
        while pending:
            batch = pending[0]
            if not self._drop_expired(shard_id, batch):
                pending.popleft()
                continue
            attempt = await self._invoke(shard_id, batch, window)
            if window is not None:
                attempt = await self._take_state(shard_id, window, attempt)
            batch.invokes += 1
            if attempt.outcome is Outcome.SUCCESS:
                rest = self._unfinished(batch, attempt)
                self.counters.succeeded += len(batch.records) - len(rest)
                if not rest:
                    self.last_result = "OK"
                    pending.popleft()
                    delay = 0.0
                    continue
                batch.records = rest
            self.counters.failed += 1
            self.last_result = "PROBLEM: Function call failed"
            if attempt.outcome is Outcome.FUNCTION_ERROR and self.mapping.bisect and len(batch.records) > 1:
                half = len(batch.records) // 2
                pending.popleft()
                pending.appendleft(Batch(batch.records[half:], batch.retries))
                pending.appendleft(Batch(batch.records[:half], batch.retries))
                continue
            if attempt.outcome in (Outcome.FUNCTION_ERROR, Outcome.SUCCESS):
                batch.retries += 1
                if 0 <= self.mapping.max_retries < batch.retries:
                    self._discard(shard_id, batch, RETRY_EXHAUSTED, attempt)
                    pending.popleft()
                    continue
            self.counters.retried += 1
            delay = backoff(delay)
            await self._clock.sleep(delay)

    def _unfinished(self, batch: Batch, attempt: Attempt) -> list[StreamRecord]:
        """The records of a successful try still to do: with ReportBatchItemFailures, those from
        the lowest reported sequence number on (all of them for an invalid report)."""
        if not self.mapping.report_item_failures:
            return []
        failed = failed_items(attempt.payload, {r.sequence_number for r in batch.records})
        if failed is None:
            return batch.records
        if not failed:
            return []
        lowest = min(failed, key=int)
        return [r for r in batch.records if int(r.sequence_number) >= int(lowest)]

    def _drop_expired(self, shard_id: str, batch: Batch) -> bool:
        """Discard the records past MaximumRecordAgeInSeconds; whether any are left."""
        limit = self.mapping.max_record_age_s
        if limit < 0:
            return True
        now = self._clock.wall()
        expired = [r for r in batch.records if now - r.arrival > limit]
        if expired:
            response = {"statusCode": 200}
            self._discard(
                shard_id, Batch(expired, batch.retries, batch.invokes), RECORD_AGE_EXCEEDED, None, response
            )
            batch.records = [r for r in batch.records if now - r.arrival <= limit]
        return bool(batch.records)

    async def _take_state(self, shard_id: str, window: Window, attempt: Attempt) -> Attempt:
        """A window's invocation succeeded only with a ``state`` in its answer: keep it (a state
        over 1 MB ends the window early), else count the invocation as a function error."""
        if attempt.outcome is not Outcome.SUCCESS:
            return attempt
        state = state_of(attempt.payload)
        if state is None:
            return Attempt(Outcome.FUNCTION_ERROR, attempt.response, attempt.request_id)
        window.state = state
        if too_large(state):
            await self._close_window(shard_id, window, early=True)
            window.state = {}
        return attempt

    async def _invoke(
        self,
        shard_id: str,
        batch: Batch,
        window: Window | None = None,
        final: bool = False,
        early: bool = False,
    ) -> Attempt:
        role = self._invoker.role(self.mapping.function_name)
        event: dict[str, Any] = {
            "Records": [kinesis_record(r, shard_id, self.mapping.source_arn, role) for r in batch.records]
        }
        if window is not None:
            event.update(window_fields(window, shard_id, self.mapping.source_arn, final, early))
        return await self._invoker.invoke(
            self.mapping.function_name, self.mapping.qualifier, json.dumps(event).encode()
        )

    def _discard(
        self,
        shard_id: str,
        batch: Batch,
        condition: str,
        attempt: Attempt | None,
        response: dict[str, Any] | None = None,
    ) -> None:
        self.counters.dead_lettered += len(batch.records)
        log.info(
            "mapping %s: %d records of %s discarded: %s",
            self.mapping.uuid,
            len(batch.records),
            shard_id,
            condition,
        )
        if self.mapping.on_failure is None:
            return
        try:
            function_arn = self._invoker.function_arn(self.mapping.function_name, self.mapping.qualifier)
        except FlareError:
            function_arn = self.mapping.function_name
        record = batch_info_record(
            request_id=attempt.request_id if attempt else "",
            function_arn=function_arn,
            condition=condition,
            invokes=batch.invokes,
            response=attempt.response if attempt else (response or {}),
            records=batch.records,
            shard_id=shard_id,
            source_arn=self.mapping.source_arn,
            now=self._clock.wall(),
        )
        self._destinations.send(self.mapping.on_failure, record)
