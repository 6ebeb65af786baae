"""An SQS queue that is not Flare's own, read through boto3: the :class:`QueueSource` of a mapping
whose EventSourceArn names a queue the embedded service does not have, when ``flare serve
--sqs-endpoint URL`` says where SQS is (real AWS, moto, LocalStack, ElasticMQ...).

The queue URL is found once with GetQueueUrl (name and account from the ARN). Calls run in
worker threads so the event loop never blocks; a long poll waits at most ``MAX_WAIT_S`` so
that stopping a mapping (or the server) never waits on a 20 s receive. Any boto3 failure
becomes a :class:`FlareError`, which the poller logs and backs off on. Credentials come from
the usual boto3 chain (never instance metadata); without any, requests are signed with a dummy
pair, which emulators accept.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from flare.errors import FlareError
from flare.services.message import MessageAttribute, ReceivedMessage

MAX_WAIT_S = 2
DUMMY_CREDENTIAL = "flare"


def boto_client(service: str, endpoint_url: str, region: str) -> Any:
    """A boto3 client of ``service`` for ``endpoint_url`` signing for ``region``."""
    import boto3.session
    import botocore.session
    from botocore.config import Config

    core = botocore.session.get_session()
    core.get_component("credential_provider").remove("iam-role")
    dummy = None if core.get_credentials() is not None else DUMMY_CREDENTIAL
    session = boto3.session.Session(botocore_session=core, region_name=region)
    return cast(Any, session).client(
        service,
        endpoint_url=endpoint_url,
        aws_access_key_id=dummy,
        aws_secret_access_key=dummy,
        config=Config(retries={"max_attempts": 2}, read_timeout=MAX_WAIT_S + 30),
    )


def sqs_client(endpoint_url: str, region: str) -> Any:
    """A boto3 SQS client for ``endpoint_url`` signing for ``region``."""
    return boto_client("sqs", endpoint_url, region)


def _seconds(milliseconds: str | None, default: float = 0.0) -> float:
    return int(milliseconds) / 1000 if milliseconds else default


def received_message(message: dict[str, Any]) -> ReceivedMessage:
    """A ReceiveMessage result entry (asked with ``All`` attributes) as a :class:`ReceivedMessage`."""
    system = message.get("Attributes", {})
    attributes = {
        name: MessageAttribute(
            value["DataType"],
            value.get("StringValue"),
            value.get("BinaryValue"),
        )
        for name, value in message.get("MessageAttributes", {}).items()
    }
    sent = _seconds(system.get("SentTimestamp"))
    return ReceivedMessage(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        md5_of_body=message["MD5OfBody"],
        attributes=attributes,
        sent_timestamp=sent,
        receive_count=int(system.get("ApproximateReceiveCount", "1")),
        first_receive_timestamp=_seconds(system.get("ApproximateFirstReceiveTimestamp"), sent),
        sender_id=system.get("SenderId", ""),
        trace_header=system.get("AWSTraceHeader"),
        dead_letter_source_arn=system.get("DeadLetterQueueSourceArn"),
    )


class RemoteQueue:
    """The queue ``arn`` at ``endpoint_url``, through boto3."""

    def __init__(self, endpoint_url: str, arn: str, client: Any = None) -> None:
        parts = arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"]:
            raise FlareError(f"not an SQS queue ARN: {arn}")
        self.arn = arn
        self._region, self._account, self._name = parts[3], parts[4], parts[5]
        self._endpoint_url = endpoint_url
        self._client = client
        self._url: str | None = None

    async def receive(self, max_messages: int, wait_s: int) -> list[ReceivedMessage]:
        reply = await self._call(
            "receive_message",
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=min(wait_s, MAX_WAIT_S),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [received_message(message) for message in reply.get("Messages", [])]

    async def delete(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)]
            reply = await self._call("delete_message_batch", Entries=entries)
            if reply.get("Failed"):
                raise FlareError(f"DeleteMessageBatch on {self.arn}: {reply['Failed'][0]}")

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self._call_blocking, operation, params)

    def _call_blocking(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"{operation} on {self.arn} at {self._endpoint_url}"
        try:
            if self._client is None:
                self._client = sqs_client(self._endpoint_url, self._region)
            if self._url is None:
                found = self._client.get_queue_url(QueueName=self._name, QueueOwnerAWSAccountId=self._account)
                self._url = str(found["QueueUrl"])
            reply: dict[str, Any] = getattr(self._client, operation)(QueueUrl=self._url, **params)
            return reply
        except ClientError as error:
            details = error.response.get("Error", {})
            code, message = details.get("Code", "ClientError"), details.get("Message", "")
            raise FlareError(f"{where}: {code}: {message}") from None
        except BotoCoreError as error:
            raise FlareError(f"{where}: {error}") from None
