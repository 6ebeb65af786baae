"""The boto3-backed queue source of mappings whose queue is not Flare's own (no server needed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flare.errors import FlareError
from flare.events.pollers.remote_sqs import MAX_WAIT_S, RemoteQueue, received_message
from flare.events.pollers.sqs import sqs_record

ARN = "arn:aws:sqs:eu-west-1:123456789012:orders"
MESSAGE = {
    "MessageId": "m-1",
    "ReceiptHandle": "rh-1",
    "Body": "hello",
    "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
    "Attributes": {
        "SenderId": "AIDA",
        "SentTimestamp": "1700000000123",
        "ApproximateReceiveCount": "3",
        "ApproximateFirstReceiveTimestamp": "1700000001000",
    },
    "MessageAttributes": {"colour": {"DataType": "String", "StringValue": "blue"}},
}


class FakeClient:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def get_queue_url(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("get_queue_url", params))
        if self.fail:
            raise ClientError({"Error": {"Code": "QueueDoesNotExist", "Message": "nope"}}, "GetQueueUrl")
        return {"QueueUrl": "http://remote/123456789012/orders"}

    def receive_message(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("receive_message", params))
        return {"Messages": [MESSAGE]}

    def delete_message_batch(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("delete_message_batch", params))
        return {"Successful": [{"Id": e["Id"]} for e in params["Entries"]]}


def test_a_received_message_becomes_the_record_lambda_sends() -> None:
    record = sqs_record(received_message(MESSAGE), ARN)
    assert record["attributes"] == {
        "SenderId": "AIDA",
        "SentTimestamp": "1700000000123",
        "ApproximateReceiveCount": "3",
        "ApproximateFirstReceiveTimestamp": "1700000001000",
    }
    assert record["messageAttributes"]["colour"]["stringValue"] == "blue"
    assert record["awsRegion"] == "eu-west-1"
    assert (record["messageId"], record["receiptHandle"], record["body"]) == ("m-1", "rh-1", "hello")


def test_receive_finds_the_url_once_and_caps_the_long_poll() -> None:
    client = FakeClient()
    queue = RemoteQueue("http://remote", ARN, client)
    messages = asyncio.run(queue.receive(10, 20))
    asyncio.run(queue.receive(1, 0))
    assert [m.message_id for m in messages] == ["m-1"]
    assert [name for name, _ in client.calls] == ["get_queue_url", "receive_message", "receive_message"]
    assert client.calls[0][1] == {"QueueName": "orders", "QueueOwnerAWSAccountId": "123456789012"}
    assert client.calls[1][1]["WaitTimeSeconds"] == MAX_WAIT_S
    assert client.calls[2][1]["WaitTimeSeconds"] == 0


def test_delete_goes_in_batches_of_ten() -> None:
    client = FakeClient()
    asyncio.run(RemoteQueue("http://remote", ARN, client).delete([f"rh-{i}" for i in range(23)]))
    sizes = [len(params["Entries"]) for name, params in client.calls if name == "delete_message_batch"]
    assert sizes == [10, 10, 3]


def test_a_boto3_failure_is_a_flare_error_the_poller_can_log() -> None:
    queue = RemoteQueue("http://remote", ARN, FakeClient(fail=True))
    with pytest.raises(FlareError, match="QueueDoesNotExist: nope"):
        asyncio.run(queue.receive(10, 20))


def test_not_an_sqs_arn_is_refused() -> None:
    with pytest.raises(FlareError):
        RemoteQueue("http://remote", "arn:aws:kinesis:us-east-1:0:stream/s")
