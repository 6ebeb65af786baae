"""Where the results of asynchronous invocations and failed stream batches go.

Records are built by pure functions, in the shapes Lambda sends:

* ``invocation_record`` — an async event's OnSuccess/OnFailure record (``version``,
  ``timestamp``, ``requestContext``, ``requestPayload``, ``responseContext``, ``responsePayload``);
* ``dead_letter_attributes`` — the message attributes of a DLQ message, whose body is the
  original payload (``RequestID``, ``ErrorCode`` as a Number, ``ErrorMessage`` up to 1 KB).

``Destinations`` delivers: an SQS queue ARN of the embedded queue service gets a message, a
Lambda function ARN gets an asynchronous invocation with the record as its payload. Other kinds
(SNS, EventBridge, S3, queues of other endpoints) are not served: the delivery is logged and
counted as failed, as Lambda counts ``DestinationDeliveryFailures``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flare.errors import FlareError
from flare.services.message import MessageAttribute, OutgoingMessage
from flare.services.queue import QueueService

log = logging.getLogger("flare.events")

MAX_ERROR_MESSAGE_BYTES = 1024

# (function ARN, payload) -> request id of the queued async invocation
AsyncSubmit = Callable[[str, bytes], str]


def iso_timestamp(epoch_s: float) -> str:
    """``2019-11-14T18:16:05.568Z``."""
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def json_or_text(payload: bytes | str | None) -> Any:
    """A payload as the JSON value it holds, else as text (None for nothing)."""
    if payload is None:
        return None
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def response_context(response: dict[str, Any]) -> dict[str, Any]:
    """``responseContext`` of a try's response (see ``events.store.EventRow.last``)."""
    context: dict[str, Any] = {"statusCode": response.get("statusCode", 200)}
    if response.get("executedVersion"):
        context["executedVersion"] = response["executedVersion"]
    if response.get("functionError"):
        context["functionError"] = response["functionError"]
    return context


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    request_payload: bytes,
    response: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    """The destination record of one async event (spec §3)."""
    return {
        "version": "1.0",
        "timestamp": iso_timestamp(now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": json_or_text(request_payload),
        "responseContext": response_context(response),
        "responsePayload": json_or_text(response.get("payload")),
    }


def error_message(response: dict[str, Any]) -> str:
    """The error a failed try ended with, as the DLQ's ErrorMessage (at most 1 KB)."""
    payload = json_or_text(response.get("payload"))
    if isinstance(payload, dict) and "errorMessage" in payload:
        text = str(payload["errorMessage"])
    elif payload is None:
        text = ""
    else:
        text = payload if isinstance(payload, str) else json.dumps(payload)
    return text.encode()[:MAX_ERROR_MESSAGE_BYTES].decode(errors="ignore")


def dead_letter_attributes(request_id: str, response: dict[str, Any]) -> dict[str, MessageAttribute]:
    return {
        "RequestID": MessageAttribute("String", string_value=request_id),
        "ErrorCode": MessageAttribute("Number", string_value=str(response.get("statusCode", 200))),
        "ErrorMessage": MessageAttribute("String", string_value=error_message(response) or "Unknown"),
    }


class Destinations:
    """Delivers records and dead letters. ``submit`` queues an async invocation (set by the
    async queue once it exists: destinations and the queue need each other)."""

    def __init__(self, queues: QueueService) -> None:
        self._queues = queues
        self.submit: AsyncSubmit | None = None
        self.failures = 0

    def __repr__(self) -> str:
        return f"<Destinations failures={self.failures}>"

    def send(self, arn: str, record: dict[str, Any]) -> bool:
        """Deliver ``record`` to ``arn``; False (logged, counted) when it could not be."""
        return self._deliver(arn, json.dumps(record).encode(), {})

    def dead_letter(self, arn: str, payload: bytes, request_id: str, response: dict[str, Any]) -> bool:
        """Send the original ``payload`` to the dead-letter queue ``arn`` with Lambda's attributes."""
        return self._deliver(arn, payload, dead_letter_attributes(request_id, response))

    def _deliver(self, arn: str, body: bytes, attributes: dict[str, MessageAttribute]) -> bool:
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        try:
            if service == "sqs":
                name = self._queues.name_of(arn)
                text = body.decode(errors="replace") or "{}"
                self._queues.send(name, OutgoingMessage(text, attributes))
                return True
            if service == "lambda" and self.submit is not None and not attributes:
                self.submit(arn, body)
                return True
        except FlareError as error:
            log.warning("could not deliver to %s: %s", arn, error.message)
            self.failures += 1
            return False
        log.warning("destination %s is not one Flare can deliver to", arn)
        self.failures += 1
        return False
