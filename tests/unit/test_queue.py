"""The queue service on a real SQLite file with a ManualClock: visibility, redrive, retention,
delays and long polls, all timed by the injected clock, never by sleeping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from flare.clock import ManualClock, TimerHandle
from flare.scope import Scope
from flare.services.attributes import QueueSettings, normalize, parse_redrive
from flare.services.bell import Bell
from flare.services.delivery import decode_receipt, encode_receipt, plan_receive
from flare.services.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameter,
    MessageNotInflight,
    MissingParameter,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from flare.services.message import MessageAttribute, OutgoingMessage, md5_of_attributes, md5_of_body
from flare.services.queue import QueueService
from flare.store.database import Database
from flare.store.services import MessageRow, ServiceStore

SCOPE = Scope("000000000000", "us-east-1")

ACCOUNT = "000000000000"


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(cast(Coroutine[Any, Any, Any], scenario()))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ServiceStore]:
    db = ServiceStore(Database(tmp_path / "services.db", SCOPE), SCOPE)
    yield db
    db.close()


@pytest.fixture
def queues(store: ServiceStore, clock: ManualClock) -> QueueService:
    return QueueService(store, clock, "us-east-1", ACCOUNT)


def send(queues: QueueService, name: str, body: str, **kwargs: Any) -> str:
    return queues.send(name, OutgoingMessage(body, **kwargs)).message_id


def receive(queues: QueueService, name: str, **kwargs: Any) -> list[Any]:
    kwargs.setdefault("wait_seconds", 0)
    return cast(list[Any], run(lambda: queues.receive(name, **kwargs)))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_send_then_receive_returns_body_digest_attributes_and_system_attributes(
    queues: QueueService, clock: ManualClock
) -> None:
    queues.create_queue("q")
    attributes = {
        "kind": MessageAttribute("String", "order"),
        "blob": MessageAttribute("Binary", None, b"\x00"),
    }
    sent = queues.send("q", OutgoingMessage("hello", attributes, trace_header="Root=1-abc"))
    assert sent.md5_of_body == md5_of_body("hello") == "5d41402abc4b2a76b9719d911017c592"
    assert sent.md5_of_message_attributes == md5_of_attributes(attributes)
    [message] = receive(queues, "q")
    assert (message.message_id, message.body, message.attributes) == (sent.message_id, "hello", attributes)
    system = message.system_attributes()
    assert system["ApproximateReceiveCount"] == "1"
    assert (
        system["SentTimestamp"] == system["ApproximateFirstReceiveTimestamp"] == str(int(clock.wall() * 1000))
    )
    assert system["AWSTraceHeader"] == "Root=1-abc"


def test_md5_of_attributes_matches_aws_reference_digest() -> None:
    attributes = {"ordinal": MessageAttribute("Number", "1"), "category": MessageAttribute("String", "test")}
    assert md5_of_attributes(attributes) == "d21ae90c49061e927f57df5f5d72be1f"
    assert md5_of_attributes({}) is None


def test_received_message_stays_hidden_until_its_visibility_timeout_passes(
    queues: QueueService, clock: ManualClock
) -> None:
    queues.create_queue("q", {"VisibilityTimeout": "30"})
    send(queues, "q", "m")
    [first] = receive(queues, "q")
    clock.advance(29.9)
    assert receive(queues, "q") == []
    clock.advance(0.1)
    [again] = receive(queues, "q")
    assert again.message_id == first.message_id
    assert again.receive_count == 2
    assert again.receipt_handle != first.receipt_handle
    assert again.first_receive_timestamp == first.first_receive_timestamp


def test_visibility_timeout_of_a_receive_overrides_the_queues(
    queues: QueueService, clock: ManualClock
) -> None:
    queues.create_queue("q")
    send(queues, "q", "m")
    receive(queues, "q", visibility_timeout=1)
    clock.advance(1)
    assert len(receive(queues, "q")) == 1


def test_a_deleted_message_never_comes_back(queues: QueueService, clock: ManualClock) -> None:
    queues.create_queue("q")
    send(queues, "q", "m")
    [message] = receive(queues, "q")
    queues.delete("q", message.receipt_handle)
    queues.delete("q", message.receipt_handle)
    clock.advance(3600)
    assert receive(queues, "q") == []


def test_a_malformed_receipt_handle_is_refused(queues: QueueService) -> None:
    queues.create_queue("q")
    with pytest.raises(ReceiptHandleIsInvalid):
        queues.delete("q", "not-a-handle")
    assert queues.delete_batch("q", ["garbage", encode_receipt("gone", "x")])[1] is None


def test_change_visibility_to_zero_makes_a_message_receivable_at_once(queues: QueueService) -> None:
    queues.create_queue("q")
    send(queues, "q", "m")
    [message] = receive(queues, "q")
    queues.change_visibility("q", message.receipt_handle, 0)
    assert len(receive(queues, "q")) == 1


def test_change_visibility_accepts_only_the_newest_receipt_handle(
    queues: QueueService, clock: ManualClock
) -> None:
    queues.create_queue("q", {"VisibilityTimeout": "5"})
    send(queues, "q", "m")
    [old] = receive(queues, "q")
    clock.advance(5)
    [new] = receive(queues, "q")
    with pytest.raises(ReceiptHandleIsInvalid):
        queues.change_visibility("q", old.receipt_handle, 60)
    queues.change_visibility("q", new.receipt_handle, 60)
    clock.advance(59)
    assert receive(queues, "q") == []


def test_change_visibility_after_the_timeout_ran_out_is_not_in_flight(
    queues: QueueService, clock: ManualClock
) -> None:
    queues.create_queue("q", {"VisibilityTimeout": "5"})
    send(queues, "q", "m")
    [message] = receive(queues, "q")
    clock.advance(5)
    with pytest.raises(MessageNotInflight):
        queues.change_visibility("q", message.receipt_handle, 10)


def test_counts_tell_receivable_in_flight_and_delayed_apart(queues: QueueService, clock: ManualClock) -> None:
    queues.create_queue("q")
    for body in ("a", "b", "c"):
        send(queues, "q", body)
    send(queues, "q", "later", delay_seconds=10)
    receive(queues, "q")
    counts = queues.get_attributes("q", ["All"])
    assert counts["ApproximateNumberOfMessages"] == "2"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1"
    clock.advance(10)
    assert queues.get_attributes("q", ["ApproximateNumberOfMessages"]) == {"ApproximateNumberOfMessages": "3"}


def test_queue_delay_seconds_applies_unless_the_message_sets_its_own(
    queues: QueueService, clock: ManualClock
) -> None:
    queues.create_queue("q", {"DelaySeconds": "5"})
    send(queues, "q", "delayed")
    send(queues, "q", "now", delay_seconds=0)
    assert [m.body for m in receive(queues, "q", max_messages=10)] == ["now"]
    clock.advance(5)
    assert [m.body for m in receive(queues, "q", max_messages=10)] == ["delayed"]


def test_a_message_received_max_receive_count_times_moves_to_the_dead_letter_queue(
    queues: QueueService, clock: ManualClock
) -> None:
    queues.create_queue("dlq")
    policy = json.dumps({"deadLetterTargetArn": queues.arn("dlq"), "maxReceiveCount": 2})
    queues.create_queue("q", {"RedrivePolicy": policy, "VisibilityTimeout": "1"})
    message_id = send(queues, "q", "poison")
    for count in (1, 2):
        [message] = receive(queues, "q")
        assert message.receive_count == count
        clock.advance(1)
    assert receive(queues, "q") == []
    [dead] = receive(queues, "dlq")
    assert (dead.message_id, dead.body, dead.receive_count) == (message_id, "poison", 1)
    assert dead.system_attributes()["DeadLetterQueueSourceArn"] == queues.arn("q")
    assert queues.dead_letter_sources("dlq") == ["q"]


def test_redrive_to_a_queue_that_does_not_exist_is_refused(queues: QueueService) -> None:
    policy = json.dumps({"deadLetterTargetArn": queues.arn("missing"), "maxReceiveCount": 2})
    with pytest.raises(InvalidParameter, match="Dead letter target does not exist"):
        queues.create_queue("q", {"RedrivePolicy": policy})


def test_messages_older_than_the_retention_period_are_dropped(
    queues: QueueService, clock: ManualClock
) -> None:
    queues.create_queue("q", {"MessageRetentionPeriod": "60"})
    send(queues, "q", "old")
    clock.advance(30)
    send(queues, "q", "young")
    clock.advance(30)
    assert [m.body for m in receive(queues, "q", max_messages=10)] == ["young"]


def test_long_poll_wakes_as_soon_as_a_message_is_sent(queues: QueueService, clock: ManualClock) -> None:
    queues.create_queue("q")

    async def scenario() -> list[str]:
        task = asyncio.create_task(queues.receive("q", wait_seconds=20))
        await settle()
        assert not task.done()
        send(queues, "q", "wake")
        await settle()
        assert task.done()
        return [m.body for m in task.result()]

    assert run(scenario) == ["wake"]
    assert clock.pending() == 0


def test_long_poll_returns_empty_when_its_wait_ends(queues: QueueService, clock: ManualClock) -> None:
    queues.create_queue("q", {"ReceiveMessageWaitTimeSeconds": "20"})

    async def scenario() -> list[Any]:
        task = asyncio.create_task(queues.receive("q"))
        await settle()
        clock.advance(19.9)
        await settle()
        assert not task.done()
        clock.advance(0.1)
        await settle()
        return task.result()

    assert run(scenario) == []


def test_long_poll_wakes_when_a_visibility_timeout_runs_out(queues: QueueService, clock: ManualClock) -> None:
    queues.create_queue("q")
    send(queues, "q", "m")
    receive(queues, "q", visibility_timeout=5)

    async def scenario() -> list[Any]:
        task = asyncio.create_task(queues.receive("q", wait_seconds=20))
        await settle()
        clock.advance(5)
        await settle()
        return task.result()

    [message] = run(scenario)
    assert message.receive_count == 2


class HastyClock(ManualClock):
    """A clock as the engine meets it under uvloop: timers may fire up to ``grain`` early
    (millisecond rounding), and, once ``ticking``, each ``wall()`` reading moves time on by
    ``grain``, the time real code spends between two readings."""

    grain = 0.001
    ticking = False

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return super().call_later(delay - self.grain / 2, callback)

    def wall(self) -> float:
        reading = super().wall()
        if self.ticking:
            self._now += self.grain
        return reading


def test_long_poll_wakes_when_visibility_runs_out_between_two_clock_readings(store: ServiceStore) -> None:
    clock = HastyClock()
    queues = QueueService(store, clock, "us-east-1", ACCOUNT)
    queues.create_queue("q")
    send(queues, "q", "m")
    receive(queues, "q", visibility_timeout=5)

    async def scenario() -> list[Any]:
        task = asyncio.create_task(queues.receive("q", wait_seconds=20))
        await settle()
        clock.ticking = True
        clock.advance(5 - clock.grain / 2)  # the wake-up fires just before the message turns visible
        await settle()
        clock.ticking = False
        clock.advance(0.01)
        await settle()
        assert task.done(), "the long poll slept through the message turning visible"
        return task.result()

    [message] = run(scenario)
    assert message.receive_count == 2


def test_close_answers_pending_long_polls(queues: QueueService) -> None:
    queues.create_queue("q")

    async def scenario() -> list[Any]:
        task = asyncio.create_task(queues.receive("q", wait_seconds=20))
        await settle()
        queues.close()
        await settle()
        return task.result()

    assert run(scenario) == []


def test_receive_state_and_messages_survive_reopening_the_store(tmp_path: Path, clock: ManualClock) -> None:
    first = ServiceStore(Database(tmp_path / "s.db", SCOPE), SCOPE)
    queues = QueueService(first, clock, "us-east-1", ACCOUNT)
    queues.create_queue("q", {"VisibilityTimeout": "10"})
    send(queues, "q", "in-flight")
    receive(queues, "q")
    send(queues, "q", "waiting")
    first.close()

    second = ServiceStore(Database(tmp_path / "s.db", SCOPE), SCOPE)
    reopened = QueueService(second, clock, "us-east-1", ACCOUNT)
    assert reopened.get_attributes("q", ["VisibilityTimeout"]) == {"VisibilityTimeout": "10"}
    assert [m.body for m in receive(reopened, "q", max_messages=10)] == ["waiting"]
    clock.advance(10)
    [message] = receive(reopened, "q")
    assert (message.body, message.receive_count) == ("in-flight", 2)
    second.close()


def test_create_queue_is_idempotent_only_with_the_same_attributes(queues: QueueService) -> None:
    queues.create_queue("q", {"VisibilityTimeout": "30"})
    assert queues.create_queue("q", {"VisibilityTimeout": "30"}) == "q"
    assert queues.create_queue("q") == "q"
    with pytest.raises(QueueNameExists):
        queues.create_queue("q", {"VisibilityTimeout": "31"})


def test_unknown_queue_is_queue_does_not_exist(queues: QueueService) -> None:
    with pytest.raises(QueueDoesNotExist):
        queues.send("nope", OutgoingMessage("x"))
    with pytest.raises(QueueDoesNotExist):
        receive(queues, "nope")


@pytest.mark.parametrize(
    ("attributes", "error"),
    [
        ({"VisibilityTimeout": "43201"}, InvalidAttributeValue),
        ({"MessageRetentionPeriod": "59"}, InvalidAttributeValue),
        ({"DelaySeconds": "abc"}, InvalidAttributeValue),
        ({"ReceiveMessageWaitTimeSeconds": "21"}, InvalidAttributeValue),
        ({"QueueArn": "arn:aws:sqs:us-east-1:000000000000:x"}, InvalidAttributeName),
        ({"Colour": "blue"}, InvalidAttributeName),
        ({"FifoQueue": "true"}, InvalidAttributeValue),
        ({"RedrivePolicy": "not json"}, InvalidParameter),
        ({"RedrivePolicy": '{"deadLetterTargetArn": "arn:x", "maxReceiveCount": 0}'}, InvalidParameter),
    ],
)
def test_invalid_queue_attributes_are_refused(attributes: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        normalize(attributes)


def test_redrive_policy_is_stored_canonically() -> None:
    policy = normalize(
        {"RedrivePolicy": '{"maxReceiveCount": "3", "deadLetterTargetArn": "arn:aws:sqs:r:a:d"}'}
    )
    assert policy["RedrivePolicy"] == '{"deadLetterTargetArn":"arn:aws:sqs:r:a:d","maxReceiveCount":3}'
    assert parse_redrive(policy["RedrivePolicy"]).max_receive_count == 3
    assert QueueSettings.of(policy).visibility_timeout == 30


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_messages": 0}, InvalidParameter),
        ({"max_messages": 11}, InvalidParameter),
        ({"visibility_timeout": 43_201}, InvalidParameter),
        ({"wait_seconds": 21}, InvalidParameter),
    ],
)
def test_receive_arguments_out_of_range_are_refused(
    queues: QueueService, kwargs: dict[str, int], error: type[Exception]
) -> None:
    queues.create_queue("q")
    with pytest.raises(error):
        receive(queues, "q", **kwargs)


def test_send_batch_refuses_bad_entries_and_stores_the_rest(queues: QueueService) -> None:
    queues.create_queue("q", {"MaximumMessageSize": "1024"})
    results = queues.send_batch(
        "q",
        [
            OutgoingMessage("ok"),
            OutgoingMessage(""),
            OutgoingMessage("x" * 1025),
            OutgoingMessage("bad\x00char"),
            OutgoingMessage("n", {"n": MessageAttribute("Number", "NaN-ish")}),
        ],
    )
    assert [type(r).__name__ for r in results] == [
        "SentMessage",
        "MissingParameter",
        "InvalidParameter",
        "InvalidMessageContents",
        "InvalidParameter",
    ]
    assert isinstance(results[1], MissingParameter)
    assert [m.body for m in receive(queues, "q", max_messages=10)] == ["ok"]


def test_plan_receive_delivers_or_redrives_by_receive_count() -> None:
    rows = [
        MessageRow("a", "a", {}, {}, sent=0.0, visible_at=0.0, receive_count=0),
        MessageRow(
            "b", "b", {}, {}, sent=0.0, visible_at=0.0, receive_count=2, first_receive=5.0, receipt="r"
        ),
        MessageRow(
            "c", "c", {}, {}, sent=0.0, visible_at=0.0, receive_count=3, first_receive=5.0, receipt="r"
        ),
    ]
    delivered, moves = plan_receive(rows, 100.0, 30, ("dlq", 3), lambda: "n")
    assert [(r.id, r.receive_count, r.visible_at, r.first_receive, r.receipt) for r in delivered] == [
        ("a", 1, 130.0, 100.0, "n"),
        ("b", 3, 130.0, 5.0, "n"),
    ]
    assert moves == {"c": "dlq"}
    delivered, moves = plan_receive(rows, 100.0, 30, None, lambda: "n")
    assert len(delivered) == 3 and moves == {}


def test_receipt_handles_round_trip() -> None:
    assert decode_receipt(encode_receipt("id-1", "abc")) == ("id-1", "abc")


def test_bell_wait_times_out_by_the_clock_and_wakes_on_ring(clock: ManualClock) -> None:
    bell = Bell(clock)

    async def scenario() -> tuple[bool, bool]:
        timed = asyncio.create_task(bell.wait("q", 5))
        rung = asyncio.create_task(bell.wait("q", 50))
        await settle()
        clock.advance(5)
        await settle()
        bell.ring("q")
        return await timed, await rung

    assert run(scenario) == (False, True)
    assert bell.waiting() == 0


@pytest.mark.parametrize("arn", ["arn:aws:sqs:eu-west-1:{account}:q", "arn:aws:sqs:us-east-1:111122223333:q"])
def test_a_queue_arn_of_another_account_or_region_is_not_this_services(
    queues: QueueService, arn: str
) -> None:
    queues.create_queue("q")
    assert queues.name_of(queues.arn("q")) == "q"
    with pytest.raises(QueueDoesNotExist):
        queues.name_of(arn.format(account=ACCOUNT))
