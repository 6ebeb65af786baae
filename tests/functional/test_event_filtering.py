"""FilterCriteria of event source mappings, through boto3: only matching records reach the
function; filtered-out SQS messages are deleted, filtered-out Kinesis records skipped."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, launch
from tests.functional.test_event_sources import (
    counts,
    drain,
    new_queue,
    new_stream,
    put,
    reporter,
    wait_state,
)
from tests.functional.test_remote_sqs import mapping_counters


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    server = launch(tmp_path_factory.mktemp("filtering"))
    yield server
    server.stop()


def criteria(*patterns: dict[str, Any]) -> dict[str, Any]:
    return {"Filters": [{"Pattern": json.dumps(pattern)} for pattern in patterns]}


def wait_counter(server: FlareServer, mapping_id: str, name: str, value: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while mapping_counters(server, mapping_id)[name] < value:
        assert time.monotonic() < deadline, mapping_counters(server, mapping_id)
        time.sleep(0.05)


def test_sqs_filter_delivers_matching_messages_and_deletes_the_rest(server: FlareServer) -> None:
    lam, sqs = server.client(), server.client("sqs")
    sink, _ = new_queue(sqs)
    source, source_arn = new_queue(sqs)
    name = reporter(lam, sink)
    filters = criteria(
        {"body": {"kind": ["order"], "price": [{"numeric": [">", 10]}]}},
        {"body": [{"prefix": "urgent:"}]},
    )
    created = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=source_arn, BatchSize=10, FilterCriteria=filters
    )
    assert created["FilterCriteria"] == filters
    wait_state(lam, created["UUID"], "Enabled")
    bodies = [
        json.dumps({"kind": "order", "price": 50}),
        json.dumps({"kind": "order", "price": 5}),
        json.dumps({"kind": "refund", "price": 50}),
        "urgent: call me",
        "not urgent",
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=source, MessageBody=body)
    wait_counter(server, created["UUID"], "filtered", 3)
    wait_counter(server, created["UUID"], "succeeded", 2)
    got = sorted(b for f in drain(sqs, sink, 1) for b in f["bodies"])
    assert got == sorted([bodies[0], bodies[3]])
    assert counts(sqs, source) == (0, 0)  # the filtered-out ones are deleted too
    counters = mapping_counters(server, created["UUID"])
    assert (counters["received"], counters["succeeded"], counters["filtered"]) == (5, 2, 3)
    lam.delete_event_source_mapping(UUID=created["UUID"])


def test_kinesis_filter_skips_records_in_order_and_checkpoints_past_them(server: FlareServer) -> None:
    lam, sqs, kinesis = server.client(), server.client("sqs"), server.client("kinesis")
    sink, _ = new_queue(sqs)
    stream = new_stream(kinesis)
    name = reporter(lam, sink)
    for i in range(8):
        put(kinesis, stream, json.dumps({"n": i, "colour": "red" if i % 2 else "blue"}), key=f"k{i}")
    put(kinesis, stream, "plain", key="p")
    filters = criteria({"data": {"colour": ["red"], "n": [{"numeric": [">=", 3]}]}}, {"partitionKey": ["p"]})
    created = lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FilterCriteria=filters,
    )
    wait_counter(server, created["UUID"], "filtered", 5)
    wait_counter(server, created["UUID"], "succeeded", 4)
    got = [b for f in drain(sqs, sink, 1) for b in f["bodies"]]
    assert [json.loads(b)["n"] if b != "plain" else b for b in got] == [3, 5, 7, "plain"]
    counters = mapping_counters(server, created["UUID"])
    assert (counters["received"], counters["succeeded"], counters["filtered"]) == (9, 4, 5)
    lam.delete_event_source_mapping(UUID=created["UUID"])


def test_an_invalid_filter_pattern_is_refused(server: FlareServer) -> None:
    lam, sqs = server.client(), server.client("sqs")
    _, source_arn = new_queue(sqs)
    name = reporter(lam, "http://unused")
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn=source_arn, FilterCriteria={"Filters": [{"Pattern": "{bad"}]}
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Invalid filter pattern" in caught.value.response["Error"]["Message"]
