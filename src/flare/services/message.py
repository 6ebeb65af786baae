"""Queue messages as senders give them and receivers get them, and the rules they obey.

Pure code: validation with SQS's limits and messages, and the two MD5 digests SQS returns
(``MD5OfMessageBody`` over the body's UTF-8 bytes, ``MD5OfMessageAttributes`` by AWS's
length-prefixed algorithm), so SDKs that check them are satisfied.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from flare.services.errors import InvalidMessageContents, InvalidParameter, MissingParameter

MAX_MESSAGE_ATTRIBUTES = 10
MAX_DELAY_SECONDS = 900
MAX_VISIBILITY_TIMEOUT = 43_200
MAX_WAIT_SECONDS = 20
MAX_RECEIVE = 10

# Characters SQS accepts in a body or string attribute: #x9 | #xA | #xD | #x20-#xD7FF |
# #xE000-#xFFFD | #x10000-#x10FFFF.
_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_TYPE_PREFIXES = ("String", "Number", "Binary")


@dataclass(frozen=True)
class MessageAttribute:
    """One message attribute: ``data_type`` is ``String``, ``Number`` or ``Binary``, optionally
    with a custom suffix (``Number.int``); exactly one of the values is set."""

    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None

    @property
    def is_binary(self) -> bool:
        return self.data_type.startswith("Binary")

    def to_json(self) -> dict[str, str]:
        """The stored (and wire) shape: BinaryValue as base64."""
        if self.binary_value is not None:
            return {"DataType": self.data_type, "BinaryValue": base64.b64encode(self.binary_value).decode()}
        return {"DataType": self.data_type, "StringValue": self.string_value or ""}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> MessageAttribute:
        if "BinaryValue" in value:
            return cls(value["DataType"], binary_value=base64.b64decode(value["BinaryValue"]))
        return cls(value["DataType"], string_value=value.get("StringValue"))


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send. ``delay_seconds`` None means the queue's DelaySeconds."""

    body: str
    attributes: dict[str, MessageAttribute] = field(default_factory=dict)
    delay_seconds: int | None = None
    trace_header: str | None = None


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    md5_of_body: str
    md5_of_message_attributes: str | None


@dataclass(frozen=True)
class ReceivedMessage:
    """A received message. Times are wall-clock epoch seconds; ``receipt_handle`` is the
    handle of this receive (the only one ``change_visibility`` accepts from now on)."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, MessageAttribute]
    sent_timestamp: float
    receive_count: int
    first_receive_timestamp: float
    sender_id: str
    trace_header: str | None = None
    dead_letter_source_arn: str | None = None

    def system_attributes(self) -> dict[str, str]:
        """Every system attribute in SQS's names and string forms (milliseconds since epoch)."""
        found = {
            "SenderId": self.sender_id,
            "SentTimestamp": str(int(self.sent_timestamp * 1000)),
            "ApproximateReceiveCount": str(self.receive_count),
            "ApproximateFirstReceiveTimestamp": str(int(self.first_receive_timestamp * 1000)),
        }
        if self.trace_header is not None:
            found["AWSTraceHeader"] = self.trace_header
        if self.dead_letter_source_arn is not None:
            found["DeadLetterQueueSourceArn"] = self.dead_letter_source_arn
        return found


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: dict[str, MessageAttribute]) -> str | None:
    """AWS's digest: for each attribute in name order, the name, the data type and the value,
    each as a 4-byte big-endian length then its bytes, with a transport byte (1 string, 2
    binary) before the value. None when there are no attributes."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)

    def put(data: bytes) -> None:
        digest.update(struct.pack(">I", len(data)) + data)

    for name in sorted(attributes):
        attribute = attributes[name]
        put(name.encode())
        put(attribute.data_type.encode())
        if attribute.binary_value is not None:
            digest.update(b"\x02")
            put(attribute.binary_value)
        else:
            digest.update(b"\x01")
            put((attribute.string_value or "").encode())
    return digest.hexdigest()


def message_size(message: OutgoingMessage) -> int:
    """Bytes counted against MaximumMessageSize: the body plus every attribute's parts."""
    size = len(message.body.encode())
    for name, attribute in message.attributes.items():
        size += len(name.encode()) + len(attribute.data_type.encode())
        size += len(attribute.binary_value or b"") + len((attribute.string_value or "").encode())
    return size


def validate_message(message: OutgoingMessage, max_size: int) -> None:
    """Raise unless ``message`` may be sent to a queue whose MaximumMessageSize is ``max_size``."""
    if not message.body:
        raise MissingParameter("The request must contain the parameter MessageBody.")
    if _FORBIDDEN.search(message.body):
        raise InvalidMessageContents("Invalid characters found.")
    if message.delay_seconds is not None and not 0 <= message.delay_seconds <= MAX_DELAY_SECONDS:
        raise InvalidParameter(
            f"Value {message.delay_seconds} for parameter DelaySeconds is invalid. "
            f"Reason: DelaySeconds must be >= 0 and <= {MAX_DELAY_SECONDS}."
        )
    validate_attributes(message.attributes)
    size = message_size(message)
    if size > max_size:
        raise InvalidParameter(
            f"One or more parameters are invalid. Reason: Message must be shorter than {max_size} bytes."
        )


def validate_attributes(attributes: dict[str, MessageAttribute]) -> None:
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameter(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_MESSAGE_ATTRIBUTES}]."
        )
    for name, attribute in attributes.items():
        if (
            not _ATTRIBUTE_NAME.match(name)
            or ".." in name
            or name.startswith(".")
            or name.endswith(".")
            or name.lower().startswith(("aws.", "amazon."))
        ):
            raise InvalidParameter(f"Message (user) attribute name '{name}' is invalid.")
        if not attribute.data_type.startswith(_TYPE_PREFIXES):
            raise InvalidParameter(
                f"The type of message (user) attribute '{name}' is invalid. You must use only the "
                "following supported type prefixes: Binary, Number, String."
            )
        _validate_value(name, attribute)


def _validate_value(name: str, attribute: MessageAttribute) -> None:
    if attribute.is_binary:
        if attribute.binary_value is None or attribute.string_value is not None:
            raise InvalidParameter(f"Message (user) attribute '{name}' must contain a non-empty value.")
        return
    value = attribute.string_value
    if not value or attribute.binary_value is not None:
        raise InvalidParameter(f"Message (user) attribute '{name}' must contain a non-empty value.")
    if _FORBIDDEN.search(value):
        raise InvalidMessageContents(f"Message (user) attribute '{name}' contains invalid characters.")
    if attribute.data_type.startswith("Number"):
        try:
            float(value)
        except ValueError:
            raise InvalidParameter(
                f"Can't cast the value of message (user) attribute '{name}' to a number."
            ) from None


def validate_range(name: str, value: int, low: int, high: int) -> None:
    """Raise InvalidParameter unless ``low <= value <= high`` (a request parameter's bounds)."""
    if not low <= value <= high:
        raise InvalidParameter(
            f"Value {value} for parameter {name} is invalid. Reason: Must be between {low} and {high}, "
            "if provided."
        )
