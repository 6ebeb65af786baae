"""Queue attributes: which exist, their defaults and bounds, and the typed view the queue reads.

Attributes are kept as SQS shows them (AWS names, string values); ``normalize`` checks a
client's attributes against SQS's rules and returns them in canonical form, ``QueueSettings``
is what the queue service computes with. Pure code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flare.services.errors import InvalidAttributeName, InvalidAttributeValue, InvalidParameter

# name => (low, high, default) of the integer attributes
INTEGER_ATTRIBUTES: dict[str, tuple[int, int, int]] = {
    "DelaySeconds": (0, 900, 0),
    "MaximumMessageSize": (1_024, 1_048_576, 262_144),
    "MessageRetentionPeriod": (60, 1_209_600, 345_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20, 0),
    "VisibilityTimeout": (0, 43_200, 30),
}
# Accepted and shown back, without effect on Flare's behaviour.
OPAQUE_ATTRIBUTES = frozenset(
    {"Policy", "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled"}
)
FIFO_ATTRIBUTES = frozenset(
    {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
)
COMPUTED_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
SETTABLE = frozenset(INTEGER_ATTRIBUTES) | OPAQUE_ATTRIBUTES | FIFO_ATTRIBUTES | {"RedrivePolicy"}
READABLE = SETTABLE | frozenset(COMPUTED_ATTRIBUTES)

MAX_RECEIVE_COUNT = 1_000


@dataclass(frozen=True)
class Redrive:
    """Where a message goes once it has been received ``max_receive_count`` times."""

    dead_letter_target_arn: str
    max_receive_count: int

    def to_json(self) -> str:
        return json.dumps(
            {"deadLetterTargetArn": self.dead_letter_target_arn, "maxReceiveCount": self.max_receive_count},
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class QueueSettings:
    delay_seconds: int
    max_message_size: int
    retention_seconds: int
    wait_seconds: int
    visibility_timeout: int
    redrive: Redrive | None

    @classmethod
    def of(cls, attributes: dict[str, str]) -> QueueSettings:
        """Settings from normalized attributes (absent ones take SQS's defaults)."""

        def number(name: str) -> int:
            return int(attributes.get(name, INTEGER_ATTRIBUTES[name][2]))

        redrive = parse_redrive(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else None
        return cls(
            delay_seconds=number("DelaySeconds"),
            max_message_size=number("MaximumMessageSize"),
            retention_seconds=number("MessageRetentionPeriod"),
            wait_seconds=number("ReceiveMessageWaitTimeSeconds"),
            visibility_timeout=number("VisibilityTimeout"),
            redrive=redrive,
        )


def defaults() -> dict[str, str]:
    """The attributes every new queue starts with."""
    return {name: str(default) for name, (_, _, default) in INTEGER_ATTRIBUTES.items()}


def normalize(given: dict[str, str]) -> dict[str, str]:
    """``given`` checked and in canonical form; an empty RedrivePolicy means "remove it" and
    stays as "". Raises InvalidAttributeName for an unknown or read-only name,
    InvalidAttributeValue or InvalidParameter for a bad value."""
    normalized: dict[str, str] = {}
    for name, value in given.items():
        if name not in SETTABLE:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
        value = str(value)
        if name in INTEGER_ATTRIBUTES:
            normalized[name] = _integer(name, value)
        elif name == "RedrivePolicy":
            normalized[name] = parse_redrive(value).to_json() if value else ""
        elif name == "FifoQueue" and value.lower() == "true":
            raise InvalidAttributeValue("Flare's embedded queue service does not support FIFO queues.")
        else:
            normalized[name] = value
    return normalized


def _integer(name: str, value: str) -> str:
    low, high, _ = INTEGER_ATTRIBUTES[name]
    try:
        number = int(value)
    except ValueError:
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.") from None
    if not low <= number <= high:
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return str(number)


def parse_redrive(value: str) -> Redrive:
    """A RedrivePolicy from its JSON text; raises InvalidParameter when it is not one."""

    def invalid(reason: str) -> InvalidParameter:
        return InvalidParameter(f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}")

    try:
        policy = json.loads(value)
    except ValueError:
        raise invalid("Redrive policy is not a valid JSON map.") from None
    if not isinstance(policy, dict):
        raise invalid("Redrive policy is not a valid JSON map.")
    target = policy.get("deadLetterTargetArn")
    if not isinstance(target, str) or not target.startswith("arn:"):
        raise invalid("Invalid value for deadLetterTargetArn.")
    try:
        count = int(policy.get("maxReceiveCount", ""))
    except (TypeError, ValueError):
        raise invalid("Invalid value for maxReceiveCount.") from None
    if not 1 <= count <= MAX_RECEIVE_COUNT:
        raise invalid(
            f"Value {count} for parameter maxReceiveCount is invalid. Must be 1-{MAX_RECEIVE_COUNT}."
        )
    return Redrive(target, count)


def requested(names: list[str]) -> list[str]:
    """The attribute names a GetQueueAttributes call asked for (``All`` expanded), in order.
    Raises InvalidAttributeName for a name SQS does not have."""
    if "All" in names:
        return sorted(READABLE)
    for name in names:
        if name not in READABLE:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    return list(dict.fromkeys(names))
