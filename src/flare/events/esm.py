"""Event source mappings: their configuration in AWS's shape, its validation, and their states.

``normalise_create`` / ``normalise_update`` check a request body against Lambda's limits and
return the stored configuration (``EventSourceMappingConfiguration`` field names, defaults
filled in per source kind). ``Mapping`` is the typed, immutable view a poller reads.

A mapping's state changes only through ``move``, against one transition table::

    Creating  -> Enabled | Disabled | Deleting
    Enabling  -> Enabled | Disabled | Deleting     (Disabled: disabled again before it settled)
    Enabled   -> Disabling | Updating | Deleting
    Disabling -> Disabled | Enabled | Deleting      (Enabled: enabled again before it settled)
    Disabled  -> Enabling | Updating | Deleting
    Updating  -> Enabled | Disabled | Deleting
    Deleting  -> (gone)

All functions here are pure.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flare.errors import IllegalTransition, InvalidParameterValue, ResourceConflict
from flare.events.filtering import check_criteria, patterns_of

SQS = "sqs"
KINESIS = "kinesis"
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
DEFAULT_BATCH_SIZE = {SQS: 10, KINESIS: 100}
MAX_BATCH_SIZE = 10_000
STREAM_ONLY = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "DestinationConfig",
)


class State(enum.StrEnum):
    CREATING = "Creating"
    ENABLING = "Enabling"
    ENABLED = "Enabled"
    DISABLING = "Disabling"
    DISABLED = "Disabled"
    UPDATING = "Updating"
    DELETING = "Deleting"


ALLOWED: dict[State, set[State]] = {
    State.CREATING: {State.ENABLED, State.DISABLED, State.DELETING},
    State.ENABLING: {State.ENABLED, State.DISABLED, State.DELETING},
    State.ENABLED: {State.DISABLING, State.UPDATING, State.DELETING},
    State.DISABLING: {State.DISABLED, State.ENABLED, State.DELETING},
    State.DISABLED: {State.ENABLING, State.UPDATING, State.DELETING},
    State.UPDATING: {State.ENABLED, State.DISABLED, State.DELETING},
    State.DELETING: set(),
}


SETTLED = frozenset({State.ENABLED, State.DISABLED})


def polls(config: dict[str, Any]) -> bool:
    """Whether a mapping's poller runs, as its stored ``config`` says: asked to be enabled
    (``_enabled``) and neither settled ``Disabled`` (asked, or its source could not be read)
    nor ``Deleting``. What a node of a cluster that did not make the change follows."""
    return bool(config["_enabled"]) and State(config["State"]) not in (State.DISABLED, State.DELETING)


def refuse_duplicate(
    configs: Iterable[dict[str, Any]], source_arn: str, function_arn: str, name: str
) -> None:
    """ResourceConflict if one of ``configs`` maps ``source_arn`` to ``function_arn`` already
    (``name``: the function as the request named it)."""
    for other in configs:
        if other["EventSourceArn"] == source_arn and other["FunctionArn"] == function_arn:
            kind = "SQS" if source_kind(source_arn) == SQS else "Kinesis"
            raise ResourceConflict(
                f'An event source mapping with {kind} arn (" {source_arn} ") and function '
                f'(" {name} ") already exists. Please update or delete the existing mapping with UUID '
                f"{other['UUID']}"
            )


def move(current: State, to: State) -> State:
    """``to``, if the table allows it from ``current``; else IllegalTransition."""
    if to not in ALLOWED[current]:
        raise IllegalTransition(current, to)
    return to


def source_kind(arn: object) -> str:
    """``sqs`` or ``kinesis`` for an SQS queue or Kinesis stream ARN; else InvalidParameterValue."""
    if isinstance(arn, str):
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[0] == "arn":
            if parts[2] == SQS and parts[5]:
                return SQS
            if parts[2] == KINESIS and parts[5].startswith("stream/"):
                return KINESIS
    raise InvalidParameterValue(f"Unrecognized event source, must be an SQS queue or a Kinesis stream: {arn}")


# Settings taken as given: their types and ranges are botocore's model's, checked at the edge.
_PLAIN = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "Enabled",
    "BisectBatchOnFunctionError",
)


def _checked(body: dict[str, Any], kind: str) -> dict[str, Any]:
    """The fields of ``body`` that are given, checked for a source of ``kind`` (the checks AWS
    makes after the model's: which settings a source kind takes, and how they combine)."""
    if kind == SQS:
        given = [key for key in STREAM_ONLY if body.get(key) is not None]
        if given:
            raise InvalidParameterValue(f"Unsupported parameter for SQS event sources: {given[0]}")
    found = {key: body[key] for key in _PLAIN if body.get(key) is not None}
    if found.get("MaximumRecordAgeInSeconds") in range(0, 60):
        raise InvalidParameterValue("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.")
    if "FunctionResponseTypes" in body:
        found["FunctionResponseTypes"] = sorted(set(body["FunctionResponseTypes"] or []))
    if body.get("ScalingConfig") is not None:
        if kind != SQS:
            raise InvalidParameterValue("ScalingConfig is supported only for SQS event sources.")
        maximum = body["ScalingConfig"].get("MaximumConcurrency")
        found["ScalingConfig"] = {} if maximum is None else {"MaximumConcurrency": maximum}
    if body.get("DestinationConfig") is not None:
        found["DestinationConfig"] = _destination(body["DestinationConfig"])
    if body.get("FilterCriteria") is not None:
        found["FilterCriteria"] = check_criteria(body["FilterCriteria"])
    return found


def _destination(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameterValue("DestinationConfig must be an object.")
    if (value.get("OnSuccess") or {}).get("Destination"):
        raise InvalidParameterValue(
            "Unsupported DestinationConfig parameter for given event source mapping type."
        )
    arn = (value.get("OnFailure") or {}).get("Destination")
    if arn is None:
        return {"OnFailure": {}}
    if (
        not isinstance(arn, str)
        or not arn.startswith("arn:")
        or arn.split(":")[2:3] not in (["sqs"], ["sns"], ["s3"])
    ):
        raise InvalidParameterValue(f"The destination ARN {arn} is invalid.")
    return {"OnFailure": {"Destination": arn}}


def _check_window(config: dict[str, Any]) -> None:
    """An SQS mapping batching more than 10 messages needs a batching window."""
    sqs = source_kind(config["EventSourceArn"]) == SQS
    if sqs and config["BatchSize"] > 10 and config["MaximumBatchingWindowInSeconds"] < 1:
        raise InvalidParameterValue(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )


def normalise_create(body: dict[str, Any]) -> dict[str, Any]:
    """The stored configuration of a CreateEventSourceMapping body, defaults filled in (no
    UUID, FunctionArn or State yet). Raises InvalidParameterValue."""
    kind = source_kind(body.get("EventSourceArn"))
    found = _checked(body, kind)
    config: dict[str, Any] = {
        "EventSourceArn": body["EventSourceArn"],
        "BatchSize": found.get("BatchSize", DEFAULT_BATCH_SIZE[kind]),
        "MaximumBatchingWindowInSeconds": found.get("MaximumBatchingWindowInSeconds", 0),
        "FunctionResponseTypes": found.get("FunctionResponseTypes", []),
    }
    if kind == KINESIS:
        position = body.get("StartingPosition")
        if position is None:
            raise InvalidParameterValue(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                "constraint: Member must not be null"
            )
        config["StartingPosition"] = position
        if position == "AT_TIMESTAMP":
            stamp = body.get("StartingPositionTimestamp")
            if not isinstance(stamp, int | float) or isinstance(stamp, bool):
                raise InvalidParameterValue("StartingPositionTimestamp is required for AT_TIMESTAMP.")
            config["StartingPositionTimestamp"] = stamp
        config |= {
            "ParallelizationFactor": found.get("ParallelizationFactor", 1),
            "DestinationConfig": found.get("DestinationConfig", {"OnFailure": {}}),
            "MaximumRecordAgeInSeconds": found.get("MaximumRecordAgeInSeconds", -1),
            "BisectBatchOnFunctionError": found.get("BisectBatchOnFunctionError", False),
            "MaximumRetryAttempts": found.get("MaximumRetryAttempts", -1),
            "TumblingWindowInSeconds": found.get("TumblingWindowInSeconds", 0),
        }
    for key in ("ScalingConfig", "FilterCriteria"):
        if key in found:
            config[key] = found[key]
    _check_window(config)
    return config


def normalise_update(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """``current`` with the fields an UpdateEventSourceMapping body gives. StartingPosition
    cannot change. Raises InvalidParameterValue."""
    kind = source_kind(current["EventSourceArn"])
    if body.get("StartingPosition") is not None or body.get("StartingPositionTimestamp") is not None:
        raise InvalidParameterValue("StartingPosition cannot be updated.")
    found = _checked(body, kind)
    found.pop("Enabled", None)
    config = {**current, **found}
    _check_window(config)
    return config


@dataclass(frozen=True)
class Mapping:
    """What a poller reads of one mapping."""

    uuid: str
    source_arn: str
    kind: str
    function_name: str
    qualifier: str | None
    batch_size: int
    window_s: int
    report_item_failures: bool
    max_concurrency: int | None = None
    parallelization: int = 1
    starting_position: str = "LATEST"
    starting_timestamp: float | None = None
    max_record_age_s: int = -1
    bisect: bool = False
    max_retries: int = -1
    on_failure: str | None = None
    filters: tuple[str, ...] = ()
    tumbling_window_s: int = 0

    @classmethod
    def of(cls, config: dict[str, Any], function_name: str, qualifier: str | None) -> Mapping:
        return cls(
            uuid=config["UUID"],
            source_arn=config["EventSourceArn"],
            kind=source_kind(config["EventSourceArn"]),
            function_name=function_name,
            qualifier=qualifier,
            batch_size=config["BatchSize"],
            window_s=config["MaximumBatchingWindowInSeconds"],
            report_item_failures=REPORT_BATCH_ITEM_FAILURES in config.get("FunctionResponseTypes", []),
            max_concurrency=(config.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            parallelization=config.get("ParallelizationFactor", 1),
            starting_position=config.get("StartingPosition", "LATEST"),
            starting_timestamp=config.get("StartingPositionTimestamp"),
            max_record_age_s=config.get("MaximumRecordAgeInSeconds", -1),
            bisect=config.get("BisectBatchOnFunctionError", False),
            max_retries=config.get("MaximumRetryAttempts", -1),
            on_failure=((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
            filters=patterns_of(config.get("FilterCriteria")),
            tumbling_window_s=config.get("TumblingWindowInSeconds", 0),
        )
