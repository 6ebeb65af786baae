"""Gathering an SQS batch: one record per message, with its newest receipt."""

from __future__ import annotations

from flare.events.pollers.sqs import with_newest_receipts
from flare.services.message import ReceivedMessage


def received(message_id: str, receipt: str) -> ReceivedMessage:
    return ReceivedMessage(
        message_id=message_id,
        receipt_handle=receipt,
        body=message_id,
        md5_of_body="",
        attributes={},
        sent_timestamp=0.0,
        receive_count=1,
        first_receive_timestamp=0.0,
        sender_id="",
    )


def test_new_messages_are_appended_in_order() -> None:
    batch = with_newest_receipts([received("a", "r1")], [received("b", "r2"), received("c", "r3")])
    assert [(m.message_id, m.receipt_handle) for m in batch] == [("a", "r1"), ("b", "r2"), ("c", "r3")]


def test_a_message_received_again_replaces_its_older_receive_in_place() -> None:
    batch = [received("a", "r1"), received("b", "r2")]
    merged = with_newest_receipts(batch, [received("a", "r3"), received("c", "r4")])
    assert [(m.message_id, m.receipt_handle) for m in merged] == [("a", "r3"), ("b", "r2"), ("c", "r4")]
