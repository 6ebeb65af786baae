"""The SQS poller's workers (``events/pollers/sqs.py``) outlive what goes wrong: an error that
is not a ``FlareError`` (a bug, a client library's own exception) while reading the queue or
processing a batch is logged and backed off from, and the worker goes on polling; before, it
ended the worker, and a poller whose last worker ended polled no more until its mapping
changed."""

from __future__ import annotations

import asyncio
from typing import cast

from flare.clock import ManualClock
from flare.events.counters import Counters
from flare.events.esm import SQS, Mapping
from flare.events.invoker import Attempt, SyncInvoker
from flare.events.pollers.sqs import BACKOFF_MAX_S, SqsPoller
from flare.events.retry import Outcome
from flare.services.message import ReceivedMessage

ARN = "arn:aws:sqs:us-east-1:123456789012:q"
# one worker at most: no other worker takes over from one that ends
MAPPING = Mapping(
    "m1", ARN, SQS, "f", None, batch_size=1, window_s=0, report_item_failures=False, max_concurrency=1
)


def message(body: str) -> ReceivedMessage:
    return ReceivedMessage(body, f"handle-{body}", body, "md5", {}, 1.0, 1, 1.0, "sender")


class FlakyQueue:
    """Raises ``failures`` in turn, then hands out ``bodies`` one a receive, then nothing."""

    def __init__(self, failures: list[Exception], bodies: list[str]) -> None:
        self.failures = failures
        self.bodies = bodies
        self.deleted: list[str] = []

    async def receive(self, max_messages: int, wait_s: int) -> list[ReceivedMessage]:
        await asyncio.sleep(0)
        if self.failures:
            raise self.failures.pop(0)
        return [message(self.bodies.pop(0))] if self.bodies else []

    async def delete(self, receipt_handles: list[str]) -> None:
        self.deleted += receipt_handles


class Invoker:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.payloads: list[bytes] = []

    async def invoke(self, function_name: str, qualifier: str | None, payload: bytes) -> Attempt:
        if self.failures:
            raise self.failures.pop(0)
        self.payloads.append(payload)
        return Attempt(Outcome.SUCCESS, {"statusCode": 200, "payload": "null"}, "r")


async def run_for(clock: ManualClock, seconds: float) -> None:
    """Let the workers run while ``seconds`` of the clock pass, a tenth of a second at a time."""
    for _ in range(int(seconds * 10)):
        for _ in range(5):
            await asyncio.sleep(0)
        clock.advance(0.1)


def poll(queue: FlakyQueue, invoker: Invoker, seconds: float) -> SqsPoller:
    async def scenario() -> SqsPoller:
        clock = ManualClock()
        poller = SqsPoller(MAPPING, queue, cast(SyncInvoker, invoker), clock, Counters())
        poller.start()
        await run_for(clock, seconds)
        await poller.stop()
        return poller

    return asyncio.run(scenario())


def test_a_worker_outlives_an_unexpected_error_reading_the_queue() -> None:
    queue = FlakyQueue([RuntimeError("not a FlareError")], ["a"])
    invoker = Invoker([])
    poll(queue, invoker, BACKOFF_MAX_S + 2)
    assert len(invoker.payloads) == 1
    assert queue.deleted == ["handle-a"]


def test_a_worker_outlives_an_unexpected_error_processing_a_batch() -> None:
    queue = FlakyQueue([], ["a", "b"])
    invoker = Invoker([KeyError("not a FlareError either")])
    poller = poll(queue, invoker, 5)
    assert queue.deleted == ["handle-b"]  # a stays in the queue, for its visibility timeout
    assert poller.counters.as_dict()["succeeded"] == 1
