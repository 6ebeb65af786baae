"""The embedded SQS-compatible queue service: standard queues, durable in ``ServiceStore``.

A message is *receivable* once its ``visible_at`` has passed: at send time plus the delay, and
after each receive plus the visibility timeout. A receive hides the message, counts the
receive and issues a fresh receipt handle; only a delete removes it. A queue with a
RedrivePolicy moves a message to its dead-letter queue instead of delivering it a
``maxReceiveCount + 1``-th time. Messages older than MessageRetentionPeriod are dropped.

Every change is committed to the store before the method returns, so anything acknowledged to
a client survives ``kill -9``; receive counts and visibility survive a restart too. The store is
a ``QueueBackend`` (``services/queue_backend.py``): this node's database, whose queues the
service caches, or in a cluster the Redis every node shares (``shared_poll_s`` set): then
nothing is cached, each receive is atomic across nodes, and a long poll looks again at least
every ``shared_poll_s`` (a send on another node rings no bell here). All times
come from the injected clock (``wall()`` for stored times, timers for long polls). Methods are
called from the event loop's thread; only ``receive`` awaits (long polling).

This is the API event-source pollers use directly; ``api/sqs.py`` only translates the wire.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import uuid
from dataclasses import replace

from flare.clock import Clock
from flare.services import attributes as attrs
from flare.services.bell import Bell
from flare.services.delivery import decode_receipt, encode_receipt, plan_receive
from flare.services.errors import (
    InvalidParameter,
    MessageNotInflight,
    QueueDoesNotExist,
    QueueError,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from flare.services.message import (
    MAX_RECEIVE,
    MAX_VISIBILITY_TIMEOUT,
    MAX_WAIT_SECONDS,
    MessageAttribute,
    OutgoingMessage,
    ReceivedMessage,
    SentMessage,
    md5_of_attributes,
    md5_of_body,
    validate_message,
    validate_range,
)
from flare.services.queue_backend import QueueBackend
from flare.store.services import MessageRow, QueueRow

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class QueueService:
    """Queues by name. Every method raises QueueDoesNotExist for an unknown queue name."""

    def __init__(
        self,
        store: QueueBackend,
        clock: Clock,
        region: str,
        account_id: str,
        shared_poll_s: float | None = None,
    ) -> None:
        self._store = store
        self._shared_poll_s = shared_poll_s
        self._clock = clock
        self.region = region
        self.account_id = account_id
        self._bell = Bell(clock)
        self._closing = False
        # queue name => its row
        self._queues: dict[str, QueueRow] = {row.name: row for row in store.all_queues()}
        # queue name => the settings its attributes give
        self._settings = {name: attrs.QueueSettings.of(row.attributes) for name, row in self._queues.items()}

    def __repr__(self) -> str:
        return f"<QueueService queues={len(self._queues)} waiting={self._bell.waiting()}>"

    def close(self) -> None:
        """Answer every pending long poll now (with nothing) and every later one at once."""
        self._closing = True
        self._bell.ring_all()

    # -- queues ---------------------------------------------------------------------------------

    def arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"

    def name_of(self, arn: str) -> str:
        """The queue name of one of this service's queue ARNs (of its account and region);
        raises QueueDoesNotExist."""
        parts = arn.split(":")
        if len(parts) != 6 or parts[:5] != ["arn", "aws", "sqs", self.region, self.account_id]:
            raise QueueDoesNotExist()
        self.queue(parts[5])
        return parts[5]

    def create_queue(
        self, name: str, attributes: dict[str, str] | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Create ``name`` (idempotent when every given attribute matches the existing queue's;
        otherwise QueueNameExists). Returns the name. Raises InvalidParameter for a bad name,
        InvalidAttributeName/InvalidAttributeValue for bad attributes."""
        if not _QUEUE_NAME.match(name):
            raise InvalidParameter(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
            )
        given = attrs.normalize(attributes or {})
        existing = self._lookup(name)
        if existing is not None:
            current = attrs.defaults() | existing.attributes
            for key, value in given.items():
                if current.get(key, "") != value:
                    raise QueueNameExists(
                        f"A queue already exists with the same name and a different value for attribute {key}"
                    )
            return name
        self._check_dead_letter(given)
        now = self._clock.wall()
        merged = {k: v for k, v in (attrs.defaults() | given).items() if v != ""}
        try:
            row = self._store.insert_queue(QueueRow(name, now, now, merged, dict(tags or {})))
        except sqlite3.IntegrityError:
            raise QueueNameExists(f"A queue named {name} already exists") from None
        self._cache(row)
        return name

    def queue(self, name: str) -> QueueRow:
        row = self._lookup(name)
        if row is None:
            raise QueueDoesNotExist()
        return row

    def _lookup(self, name: str) -> QueueRow | None:
        """The queue ``name``: cached on one node; read again each time when shared."""
        if self._shared_poll_s is None:
            return self._queues.get(name)
        row = self._store.get_queue(name)
        if row is None:
            self._queues.pop(name, None)
            self._settings.pop(name, None)
        else:
            self._cache(row)
        return row

    def _all(self) -> dict[str, QueueRow]:
        if self._shared_poll_s is not None:
            rows = self._store.all_queues()
            self._queues, self._settings = {}, {}
            for row in rows:
                self._cache(row)
        return self._queues

    def _cache(self, row: QueueRow) -> None:
        if self._queues.get(row.name) != row:
            self._queues[row.name] = row
            self._settings[row.name] = attrs.QueueSettings.of(row.attributes)

    def _settings_of(self, name: str) -> attrs.QueueSettings:
        self.queue(name)
        return self._settings[name]

    def list_queues(self, prefix: str = "") -> list[str]:
        """Names of the queues starting with ``prefix``, sorted."""
        return sorted(name for name in self._all() if name.startswith(prefix))

    def delete_queue(self, name: str) -> None:
        """Delete the queue and every message in it; pending long polls on it fail."""
        self.queue(name)
        self._store.delete_queue(name)
        self._queues.pop(name, None)
        self._settings.pop(name, None)
        self._bell.ring(name)

    def get_attributes(self, name: str, names: list[str]) -> dict[str, str]:
        """The asked-for attributes (``All`` for every one), with the message counts of now.
        Raises InvalidAttributeName for a name SQS does not have."""
        row = self.queue(name)
        wanted = attrs.requested(names)
        computed: dict[str, str] = {}
        if any(n.startswith("ApproximateNumber") for n in wanted):
            now = self._clock.wall()
            self._store.drop_expired(name, now - self._settings[name].retention_seconds)
            visible, in_flight, delayed = self._store.counts(name, now)
            computed |= {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(in_flight),
                "ApproximateNumberOfMessagesDelayed": str(delayed),
            }
        computed |= {
            "CreatedTimestamp": str(int(row.created)),
            "LastModifiedTimestamp": str(int(row.modified)),
            "QueueArn": self.arn(name),
        }
        known = computed | row.attributes
        return {n: known[n] for n in wanted if n in known}

    def set_attributes(self, name: str, attributes: dict[str, str]) -> None:
        """Change attributes; an empty RedrivePolicy removes it. Raises as ``create_queue``."""
        row = self.queue(name)
        given = attrs.normalize(attributes)
        self._check_dead_letter(given)
        merged = {k: v for k, v in (row.attributes | given).items() if v != ""}
        updated = replace(row, attributes=merged, modified=self._clock.wall())
        self._store.update_queue(updated)
        self._cache(updated)
        self._bell.ring(name)

    def tag(self, name: str, tags: dict[str, str]) -> None:
        updated = replace(self.queue(name), tags=self.queue(name).tags | tags)
        self._store.update_queue(updated)
        self._cache(updated)

    def untag(self, name: str, keys: list[str]) -> None:
        row = self.queue(name)
        updated = replace(row, tags={k: v for k, v in row.tags.items() if k not in keys})
        self._store.update_queue(updated)
        self._cache(updated)

    def dead_letter_sources(self, name: str) -> list[str]:
        """Names of the queues whose RedrivePolicy targets ``name``."""
        arn = self.arn(self.queue(name).name)
        self._all()
        return sorted(
            source
            for source, settings in self._settings.items()
            if settings.redrive is not None and settings.redrive.dead_letter_target_arn == arn
        )

    def _check_dead_letter(self, given: dict[str, str]) -> None:
        policy = given.get("RedrivePolicy")
        if policy:
            target = attrs.parse_redrive(policy).dead_letter_target_arn
            try:
                self.name_of(target)
            except QueueDoesNotExist:
                raise InvalidParameter(
                    f"Value {policy} for parameter RedrivePolicy is invalid. "
                    "Reason: Dead letter target does not exist."
                ) from None

    def _dead_letter(self, name: str) -> tuple[str, int] | None:
        """(dead-letter queue name, maxReceiveCount) when the queue redrives to a live queue."""
        redrive = self._settings[name].redrive
        if redrive is None:
            return None
        target = redrive.dead_letter_target_arn.rsplit(":", 1)[-1]
        if target == name or self._lookup(target) is None:
            return None
        return target, redrive.max_receive_count

    # -- messages -------------------------------------------------------------------------------

    def send(self, name: str, message: OutgoingMessage) -> SentMessage:
        """Store one message (durably, before returning) and wake long polls on the queue.
        Raises MissingParameter, InvalidMessageContents or InvalidParameter for a bad message."""
        results = self.send_batch(name, [message])
        if isinstance(results[0], QueueError):
            raise results[0]
        return results[0]

    def send_batch(self, name: str, messages: list[OutgoingMessage]) -> list[SentMessage | QueueError]:
        """Store every valid message in one transaction; returns, per message in order, what was
        sent or why that one was refused."""
        settings = self._settings_of(name)
        now = self._clock.wall()
        results: list[SentMessage | QueueError] = []
        rows: list[MessageRow] = []
        for message in messages:
            try:
                validate_message(message, settings.max_message_size)
            except QueueError as error:
                results.append(error)
                continue
            delay = settings.delay_seconds if message.delay_seconds is None else message.delay_seconds
            system = {} if message.trace_header is None else {"AWSTraceHeader": message.trace_header}
            stored = {key: value.to_json() for key, value in message.attributes.items()}
            row = MessageRow(str(uuid.uuid4()), message.body, stored, system, now, now + delay)
            rows.append(row)
            results.append(
                SentMessage(row.id, md5_of_body(message.body), md5_of_attributes(message.attributes))
            )
        if rows:
            self._store.insert_messages(name, rows)
            self._bell.ring(name)
        return results

    async def receive(
        self,
        name: str,
        max_messages: int = 1,
        visibility_timeout: int | None = None,
        wait_seconds: int | None = None,
    ) -> list[ReceivedMessage]:
        """Receive up to ``max_messages`` (1-10) receivable messages, hiding each for
        ``visibility_timeout`` seconds (default: the queue's VisibilityTimeout).

        With nothing receivable, waits up to ``wait_seconds`` (0-20; default: the queue's
        ReceiveMessageWaitTimeSeconds) of the clock, returning as soon as a send, a visibility
        change or the end of a delay or visibility timeout makes something receivable; returns
        [] when the wait ends empty. Receive state is committed before this returns. Raises
        InvalidParameter for out-of-range arguments, QueueDoesNotExist."""
        settings = self._settings_of(name)
        validate_range("MaxNumberOfMessages", max_messages, 1, MAX_RECEIVE)
        if visibility_timeout is not None:
            validate_range("VisibilityTimeout", visibility_timeout, 0, MAX_VISIBILITY_TIMEOUT)
        if wait_seconds is not None:
            validate_range("WaitTimeSeconds", wait_seconds, 0, MAX_WAIT_SECONDS)
        wait = settings.wait_seconds if wait_seconds is None else wait_seconds
        deadline = self._clock.now() + wait
        while True:
            # One reading for both questions: with two, a message that became visible between
            # them would be neither taken nor waited for, and the poll would sleep to its end.
            wall = self._clock.wall()
            received = self._take(name, max_messages, visibility_timeout, wall)
            remaining = deadline - self._clock.now()
            if received or remaining <= 0 or self._closing:
                return received
            next_visible = self._store.next_visible_at(name, wall)
            if next_visible is not None:
                remaining = min(remaining, next_visible - wall)
            if self._shared_poll_s is not None:
                remaining = min(remaining, self._shared_poll_s)
            await self._bell.wait(name, remaining)

    def _take(
        self, name: str, limit: int, visibility_timeout: int | None, now: float
    ) -> list[ReceivedMessage]:
        settings = self._settings_of(name)
        visibility = settings.visibility_timeout if visibility_timeout is None else visibility_timeout
        self._store.drop_expired(name, now - settings.retention_seconds)
        dead_letter = self._dead_letter(name)

        def plan(rows: list[MessageRow]) -> tuple[list[MessageRow], dict[str, str]]:
            return plan_receive(rows, now, visibility, dead_letter, lambda: secrets.token_hex(8))

        delivered: list[MessageRow] = []
        while len(delivered) < limit:
            ready, moves = self._store.receive_messages(
                name, now, limit - len(delivered), plan, self.arn(name)
            )
            if not ready and not moves:
                break
            delivered += ready
            if not moves:
                break
            for target in set(moves.values()):
                self._bell.ring(target)
        return [self._received(row) for row in delivered]

    def _received(self, row: MessageRow) -> ReceivedMessage:
        assert row.receipt is not None and row.first_receive is not None
        return ReceivedMessage(
            message_id=row.id,
            receipt_handle=encode_receipt(row.id, row.receipt),
            body=row.body,
            md5_of_body=md5_of_body(row.body),
            attributes={key: MessageAttribute.from_json(value) for key, value in row.attributes.items()},
            sent_timestamp=row.sent,
            receive_count=row.receive_count,
            first_receive_timestamp=row.first_receive,
            sender_id=self.account_id,
            trace_header=row.system.get("AWSTraceHeader"),
            dead_letter_source_arn=row.system.get("DeadLetterQueueSourceArn"),
        )

    def delete(self, name: str, receipt_handle: str) -> None:
        """Delete the message a receipt handle (of any of its receives) names. Deleting a message
        that is already gone succeeds. Raises ReceiptHandleIsInvalid for a malformed handle."""
        error = self.delete_batch(name, [receipt_handle])[0]
        if error is not None:
            raise error

    def delete_batch(self, name: str, receipt_handles: list[str]) -> list[QueueError | None]:
        """Delete several messages in one transaction; per handle, None or why it failed."""
        self.queue(name)
        results: list[QueueError | None] = []
        ids: list[str] = []
        for handle in receipt_handles:
            try:
                ids.append(decode_receipt(handle)[0])
                results.append(None)
            except QueueError as error:
                results.append(error)
        self._store.delete_messages(name, ids)
        return results

    def change_visibility(self, name: str, receipt_handle: str, visibility_timeout: int) -> None:
        """Make a received message receivable again ``visibility_timeout`` (0-43200) seconds from
        now. Only the newest receipt handle of a message counts. Raises ReceiptHandleIsInvalid
        (malformed, stale, or the message is gone), MessageNotInflight (its visibility timeout
        already ran out), InvalidParameter."""
        error = self.change_visibility_batch(name, [(receipt_handle, visibility_timeout)])[0]
        if error is not None:
            raise error

    def change_visibility_batch(self, name: str, entries: list[tuple[str, int]]) -> list[QueueError | None]:
        """``change_visibility`` for several (handle, timeout) pairs in one transaction."""
        self.queue(name)
        now = self._clock.wall()
        results: list[QueueError | None] = []
        changes: dict[str, float] = {}
        for handle, timeout in entries:
            try:
                validate_range("VisibilityTimeout", timeout, 0, MAX_VISIBILITY_TIMEOUT)
                message_id, nonce = decode_receipt(handle)
                row = self._store.get_message(name, message_id)
                if row is None or row.receipt != nonce:
                    raise ReceiptHandleIsInvalid(
                        f'The receipt handle "{handle}" is not valid for this queue.'
                    )
                if row.visible_at <= now:
                    raise MessageNotInflight("The message referred to isn't in flight.")
                changes[message_id] = now + timeout
                results.append(None)
            except QueueError as error:
                results.append(error)
        if changes:
            self._store.set_visible_at(name, changes)
            self._bell.ring(name)
        return results

    def purge(self, name: str) -> None:
        """Delete every message of the queue, in flight or not."""
        self.queue(name)
        self._store.purge(name)
