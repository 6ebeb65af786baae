"""Event source mapping configuration, states, partial batch responses and lanes, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from flare.errors import IllegalTransition, InvalidParameterValue
from flare.events.esm import ALLOWED, Mapping, State, move, normalise_create, normalise_update
from flare.events.pollers.item_failures import failed_items
from flare.events.pollers.stream import lanes
from flare.services.stream import StreamRecord

QUEUE = "arn:aws:sqs:us-east-1:000000000000:q"
STREAM = "arn:aws:kinesis:us-east-1:000000000000:stream/s"


def test_sqs_defaults() -> None:
    assert normalise_create({"EventSourceArn": QUEUE}) == {
        "EventSourceArn": QUEUE,
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": [],
    }


def test_kinesis_defaults() -> None:
    config = normalise_create({"EventSourceArn": STREAM, "StartingPosition": "LATEST"})
    assert config == {
        "EventSourceArn": STREAM,
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": [],
        "StartingPosition": "LATEST",
        "ParallelizationFactor": 1,
        "DestinationConfig": {"OnFailure": {}},
        "MaximumRecordAgeInSeconds": -1,
        "BisectBatchOnFunctionError": False,
        "MaximumRetryAttempts": -1,
        "TumblingWindowInSeconds": 0,
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"EventSourceArn": "arn:aws:dynamodb:us-east-1:0:table/t"}, "Unrecognized event source"),
        ({"EventSourceArn": QUEUE, "BatchSize": 11}, "Maximum batch window"),
        ({"EventSourceArn": QUEUE, "StartingPosition": "LATEST"}, "StartingPosition"),
        ({"EventSourceArn": STREAM}, "startingPosition"),
        ({"EventSourceArn": STREAM, "StartingPosition": "AT_TIMESTAMP"}, "StartingPositionTimestamp"),
        ({"EventSourceArn": STREAM, "StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 59}, "60"),
        (
            {
                "EventSourceArn": STREAM,
                "StartingPosition": "LATEST",
                "ScalingConfig": {"MaximumConcurrency": 2},
            },
            "ScalingConfig",
        ),
        (
            {
                "EventSourceArn": STREAM,
                "StartingPosition": "LATEST",
                "DestinationConfig": {"OnSuccess": {"Destination": QUEUE}},
            },
            "Unsupported DestinationConfig",
        ),
    ],
)
def test_create_validation(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        normalise_create(body)
    assert fragment in caught.value.message


def test_kinesis_accepts_large_batches_without_a_window() -> None:
    assert (
        normalise_create({"EventSourceArn": STREAM, "StartingPosition": "TRIM_HORIZON", "BatchSize": 500})[
            "BatchSize"
        ]
        == 500
    )


def test_update_merges_and_keeps_starting_position_fixed() -> None:
    current = normalise_create({"EventSourceArn": STREAM, "StartingPosition": "LATEST"})
    updated = normalise_update(
        current, {"BatchSize": 7, "BisectBatchOnFunctionError": True, "Enabled": False}
    )
    assert (updated["BatchSize"], updated["BisectBatchOnFunctionError"]) == (7, True)
    assert "Enabled" not in updated
    with pytest.raises(InvalidParameterValue):
        normalise_update(current, {"StartingPosition": "TRIM_HORIZON"})


def test_mapping_view() -> None:
    config = normalise_create(
        {
            "EventSourceArn": STREAM,
            "StartingPosition": "LATEST",
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": QUEUE}},
        }
    ) | {"UUID": "u"}
    mapping = Mapping.of(config, "fn", "live")
    assert (mapping.kind, mapping.report_item_failures, mapping.on_failure) == ("kinesis", True, QUEUE)
    assert (mapping.function_name, mapping.qualifier, mapping.batch_size) == ("fn", "live", 100)


@pytest.mark.parametrize(
    ("current", "to", "allowed"),
    [
        (State.CREATING, State.ENABLED, True),
        (State.CREATING, State.DISABLED, True),
        (State.ENABLED, State.DISABLING, True),
        (State.ENABLED, State.DISABLED, False),
        (State.DISABLED, State.ENABLING, True),
        (State.ENABLING, State.ENABLED, True),
        (State.UPDATING, State.ENABLED, True),
        (State.ENABLED, State.DELETING, True),
        (State.DELETING, State.ENABLED, False),
        (State.DISABLED, State.ENABLED, False),
    ],
)
def test_state_transitions(current: State, to: State, allowed: bool) -> None:
    if allowed:
        assert move(current, to) is to
    else:
        with pytest.raises(IllegalTransition):
            move(current, to)


def test_every_state_can_be_deleted_except_deleting() -> None:
    assert all(State.DELETING in ALLOWED[s] for s in State if s is not State.DELETING)
    assert ALLOWED[State.DELETING] == set()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("", set()),
        ("null", set()),
        ('"ok"', set()),
        ("{}", set()),
        ('{"batchItemFailures": null}', set()),
        ('{"batchItemFailures": []}', set()),
        ('{"batchItemFailures": [{"itemIdentifier": "b"}]}', {"b"}),
        ('{"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}', {"a", "c"}),
        ("not json", None),
        ('{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
        ('{"batchItemFailures": [{"itemIdentifier": null}]}', None),
        ('{"batchItemFailures": [{"itemId": "a"}]}', None),
        ('{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', None),
        ('{"batchItemFailures": "a"}', None),
    ],
)
def test_failed_items(payload: str, expected: set[str] | None) -> None:
    assert failed_items(payload, {"a", "b", "c"}) == expected


def record(key: str, n: int) -> StreamRecord:
    return StreamRecord(str(n), key, b"", 0.0)


def test_lanes_keep_each_partition_key_in_order_in_one_lane() -> None:
    records = [record(f"k{n % 7}", n) for n in range(70)]
    dealt = lanes(records, 4)
    assert 1 < len(dealt) <= 4
    assert sorted(r.sequence_number for lane in dealt for r in lane) == sorted(
        r.sequence_number for r in records
    )
    for lane in dealt:
        assert [int(r.sequence_number) for r in lane] == sorted(int(r.sequence_number) for r in lane)
    owners = {r.partition_key: i for i, lane in enumerate(dealt) for r in lane}
    assert all(owners[r.partition_key] == i for i, lane in enumerate(dealt) for r in lane)


def test_one_lane_is_the_shard_order() -> None:
    records = [record(f"k{n}", n) for n in range(5)]
    assert lanes(records, 1) == [records]
