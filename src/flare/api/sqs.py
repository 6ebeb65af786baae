"""SQS's JSON protocol (``X-Amz-Target: AmazonSQS.<Operation>``) over ``QueueService``.

Wire translation only: queue URLs ``http://<Host>/<account>/<name>`` to names and back, base64
binary attributes, batch entries, which attributes a receive asked to see. Every rule lives in
``flare.services``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from flare.api.scoping import Of
from flare.api.target import JsonEndpoint
from flare.errors import SerializationFailed, UnknownOperation
from flare.services.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidParameter,
    MissingParameter,
    QueueDoesNotExist,
    QueueError,
    TooManyEntriesInBatch,
)
from flare.services.message import (
    MessageAttribute,
    OutgoingMessage,
    ReceivedMessage,
    SentMessage,
    md5_of_attributes,
)
from flare.services.queue import QueueService
from flare.specs import constraints
from flare.specs.models import service_model

MAX_BATCH = 10
MAX_BATCH_BYTES = 1_048_576
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")

Body = dict[str, Any]
Operation = Callable[[QueueService, Body, web.Request], Awaitable[Body]]


def endpoint(queues_of: Of[QueueService], close: Callable[[], None]) -> JsonEndpoint:
    """The SQS endpoint, serving each request from its scope's queues (``close``: every
    scope's, at shutdown)."""

    async def call(operation: str, body: Body, request: web.Request) -> Body:
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise UnknownOperation(f"Flare's queue service does not implement {operation}")
        _check_types(operation, body)
        queues = queues_of(request)
        _check_owner(queues, body)
        return await handler(queues, body, request)

    return JsonEndpoint(
        "AmazonSQS",
        "application/x-amz-json-1.0",
        "com.amazonaws.sqs",
        call,
        close,
        signing_name="sqs",
        query_compatible=True,
    )


def _check_types(operation: str, body: Body) -> None:
    """Raise SerializationFailed when a member of ``body`` has a JSON type that ``operation``'s
    model cannot bind (``"Entries": true``), as AWS's JSON front end refuses it before SQS
    reads it. Values of the right type are left to the operations' own checks."""
    shape = service_model("sqs").operation_model(operation).input_shape
    if shape is None:
        return
    wrong = constraints.type_errors(shape, body, "")
    if wrong:
        raise SerializationFailed(wrong[0])


def _check_owner(queues: QueueService, body: Body) -> None:
    """A ``QueueUrl`` of another account (``/<account>/<name>``) names no queue of this one."""
    url = body.get("QueueUrl")
    if isinstance(url, str):
        parts = url.rstrip("/").rsplit("/", 2)
        if len(parts) == 3 and len(parts[1]) == 12 and parts[1].isdigit() and parts[1] != queues.account_id:
            raise QueueDoesNotExist()


def _required(body: Body, name: str) -> Any:
    value = body.get(name)
    if value is None or value == "":
        raise MissingParameter(f"The request must contain the parameter {name}.")
    return value


def _int(body: Body, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"Value {value} for parameter {name} is invalid. Reason: must be an integer.")
    return value


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def _queue(body: Body) -> str:
    """The queue name from a QueueUrl (its last path segment)."""
    return str(_required(body, "QueueUrl")).rstrip("/").rsplit("/", 1)[-1]


def _url(request: web.Request, queues: QueueService, name: str) -> str:
    return f"{request.scheme}://{request.host}/{queues.account_id}/{name}"


def _attributes_in(raw: Any) -> dict[str, MessageAttribute]:
    found: dict[str, MessageAttribute] = {}
    for name, value in (raw or {}).items():
        if not isinstance(value, dict) or not value.get("DataType"):
            raise InvalidParameter(
                f"The message attribute '{name}' must contain non-empty message attribute type."
            )
        if value.get("StringListValues") or value.get("BinaryListValues"):
            raise InvalidParameter(f"Message attribute list values in '{name}' are not supported.")
        binary = value.get("BinaryValue")
        try:
            decoded = None if binary is None else base64.b64decode(binary, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise InvalidParameter(f"The BinaryValue of message attribute '{name}' is not base64.") from None
        found[name] = MessageAttribute(str(value["DataType"]), value.get("StringValue"), decoded)
    return found


def _outgoing(body: Body) -> OutgoingMessage:
    trace = (body.get("MessageSystemAttributes") or {}).get("AWSTraceHeader") or {}
    return OutgoingMessage(
        body=str(body.get("MessageBody") or ""),
        attributes=_attributes_in(body.get("MessageAttributes")),
        delay_seconds=_int(body, "DelaySeconds"),
        trace_header=trace.get("StringValue"),
    )


def _entries(body: Body) -> list[dict[str, Any]]:
    """Batch entries, checked as SQS checks them before looking at any entry's content."""
    entries = body.get("Entries") or []
    if not entries:
        raise EmptyBatchRequest("There should be at least one entry in the request.")
    if len(entries) > MAX_BATCH:
        raise TooManyEntriesInBatch(
            f"Maximum number of entries per request are {MAX_BATCH}. You have sent {len(entries)}."
        )
    ids = [str(entry.get("Id", "")) for entry in entries]
    for entry_id in ids:
        if not _BATCH_ID.match(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                "It can be at most 80 letters long."
            )
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct("Two or more batch entries in the request have the same Id.")
    return list(entries)


def _failed(entry_id: str, error: QueueError) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": True, "Code": error.query_code, "Message": error.message}


def _results(entries: list[dict[str, Any]], errors: list[QueueError | None]) -> dict[str, Any]:
    return {
        "Successful": [{"Id": e["Id"]} for e, error in zip(entries, errors, strict=True) if error is None],
        "Failed": [
            _failed(e["Id"], error) for e, error in zip(entries, errors, strict=True) if error is not None
        ],
    }


async def create_queue(queues: QueueService, body: Body, request: web.Request) -> Body:
    name = queues.create_queue(str(_required(body, "QueueName")), body.get("Attributes"), body.get("tags"))
    return {"QueueUrl": _url(request, queues, name)}


async def get_queue_url(queues: QueueService, body: Body, request: web.Request) -> Body:
    return {"QueueUrl": _url(request, queues, queues.queue(str(_required(body, "QueueName"))).name)}


def _page(names: list[str], body: Body) -> tuple[list[str], str | None]:
    try:
        start = int(base64.b64decode(str(body["NextToken"])).decode()) if body.get("NextToken") else 0
    except (binascii.Error, ValueError):
        raise InvalidParameter("Invalid NextToken value.") from None
    limit = _int(body, "MaxResults")
    if limit is None:
        return names[start:], None
    if not 1 <= limit <= 1000:
        raise InvalidParameter(f"Value {limit} for parameter MaxResults is invalid. Reason: Must be 1-1000.")
    end = start + limit
    return names[start:end], base64.b64encode(str(end).encode()).decode() if end < len(names) else None


async def list_queues(queues: QueueService, body: Body, request: web.Request) -> Body:
    names, token = _page(queues.list_queues(str(body.get("QueueNamePrefix") or "")), body)
    result: dict[str, Any] = {}
    if names:
        result["QueueUrls"] = [_url(request, queues, name) for name in names]
    if token:
        result["NextToken"] = token
    return result


async def delete_queue(queues: QueueService, body: Body, request: web.Request) -> Body:
    queues.delete_queue(_queue(body))
    return {}


async def get_queue_attributes(queues: QueueService, body: Body, request: web.Request) -> Body:
    found = queues.get_attributes(_queue(body), list(body.get("AttributeNames") or []))
    return {"Attributes": found} if found else {}


async def set_queue_attributes(queues: QueueService, body: Body, request: web.Request) -> Body:
    queues.set_attributes(_queue(body), dict(_required(body, "Attributes")))
    return {}


def _sent(sent: SentMessage) -> Body:
    result = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
    if sent.md5_of_message_attributes:
        result["MD5OfMessageAttributes"] = sent.md5_of_message_attributes
    return result


async def send_message(queues: QueueService, body: Body, request: web.Request) -> Body:
    return _sent(queues.send(_queue(body), _outgoing(body)))


async def send_message_batch(queues: QueueService, body: Body, request: web.Request) -> Body:
    name = _queue(body)
    entries = _entries(body)
    if sum(len(str(entry.get("MessageBody", "")).encode()) for entry in entries) > MAX_BATCH_BYTES:
        raise BatchRequestTooLong(f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes.")
    results = queues.send_batch(name, [_outgoing(entry) for entry in entries])
    return {
        "Successful": [
            {"Id": entry["Id"], **_sent(sent)}
            for entry, sent in zip(entries, results, strict=True)
            if not isinstance(sent, QueueError)
        ],
        "Failed": [
            _failed(entry["Id"], sent)
            for entry, sent in zip(entries, results, strict=True)
            if isinstance(sent, QueueError)
        ],
    }


def _wanted(names: list[str], available: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``available`` a receive asked for: ``All``/``.*``, ``prefix.*``, names."""
    if "All" in names or ".*" in names:
        return dict(available)
    prefixes = tuple(name[:-2] for name in names if name.endswith(".*"))
    return {k: v for k, v in available.items() if k in names or (prefixes and k.startswith(prefixes))}


def _message(message: ReceivedMessage, body: Body) -> dict[str, Any]:
    system_names = list(body.get("MessageSystemAttributeNames") or []) + list(
        body.get("AttributeNames") or []
    )
    result: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.md5_of_body,
        "Body": message.body,
    }
    system = _wanted(system_names, message.system_attributes())
    if system:
        result["Attributes"] = system
    chosen = _wanted(list(body.get("MessageAttributeNames") or []), message.attributes)
    if chosen:
        result["MessageAttributes"] = {name: value.to_json() for name, value in chosen.items()}
        result["MD5OfMessageAttributes"] = md5_of_attributes(chosen)
    return result


async def receive_message(queues: QueueService, body: Body, request: web.Request) -> Body:
    received = await queues.receive(
        _queue(body),
        max_messages=_default(_int(body, "MaxNumberOfMessages"), 1),
        visibility_timeout=_int(body, "VisibilityTimeout"),
        wait_seconds=_int(body, "WaitTimeSeconds"),
    )
    return {"Messages": [_message(message, body) for message in received]} if received else {}


async def delete_message(queues: QueueService, body: Body, request: web.Request) -> Body:
    queues.delete(_queue(body), str(_required(body, "ReceiptHandle")))
    return {}


async def delete_message_batch(queues: QueueService, body: Body, request: web.Request) -> Body:
    name = _queue(body)
    entries = _entries(body)
    errors = queues.delete_batch(name, [str(entry.get("ReceiptHandle", "")) for entry in entries])
    return _results(entries, errors)


async def change_message_visibility(queues: QueueService, body: Body, request: web.Request) -> dict[str, Any]:
    timeout = _int(body, "VisibilityTimeout")
    if timeout is None:
        raise MissingParameter("The request must contain the parameter VisibilityTimeout.")
    queues.change_visibility(_queue(body), str(_required(body, "ReceiptHandle")), timeout)
    return {}


async def change_message_visibility_batch(
    queues: QueueService, body: Body, request: web.Request
) -> dict[str, Any]:
    name = _queue(body)
    entries = _entries(body)
    pairs = [
        (str(entry.get("ReceiptHandle", "")), _int(entry, "VisibilityTimeout") or 0) for entry in entries
    ]
    return _results(entries, queues.change_visibility_batch(name, pairs))


async def purge_queue(queues: QueueService, body: Body, request: web.Request) -> Body:
    queues.purge(_queue(body))
    return {}


async def tag_queue(queues: QueueService, body: Body, request: web.Request) -> Body:
    queues.tag(_queue(body), dict(_required(body, "Tags")))
    return {}


async def untag_queue(queues: QueueService, body: Body, request: web.Request) -> Body:
    queues.untag(_queue(body), list(_required(body, "TagKeys")))
    return {}


async def list_queue_tags(queues: QueueService, body: Body, request: web.Request) -> Body:
    tags = queues.queue(_queue(body)).tags
    return {"Tags": tags} if tags else {}


async def list_dead_letter_source_queues(
    queues: QueueService, body: Body, request: web.Request
) -> dict[str, Any]:
    names, token = _page(queues.dead_letter_sources(_queue(body)), body)
    result: dict[str, Any] = {"queueUrls": [_url(request, queues, name) for name in names]}
    if token:
        result["NextToken"] = token
    return result


OPERATIONS: dict[str, Operation] = {
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "ListQueues": list_queues,
    "DeleteQueue": delete_queue,
    "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
    "PurgeQueue": purge_queue,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
    "ListQueueTags": list_queue_tags,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
}
