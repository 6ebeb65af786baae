"""Asynchronous invocation through boto3: 202 once queued, Lambda's retry policy, destinations,
dead-letter queues, reserved concurrency 0, event-invoke configs, and no event lost to ``kill -9``.

The server runs with ``--async-retry-base-delay 0.2`` so function-error retries wait 0.2 s and
0.4 s instead of a minute and two.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import (
    FlareServer,
    create_function,
    launch,
    python_function,
    start_process,
    wait_ready,
)

BASE_DELAY = 0.2
HELLO = "def handler(event, context):\n    return {'got': event}\n"
BOOM = "def handler(event, context):\n    raise ValueError('boom ' + str(event.get('n')))\n"
SLOW = (
    "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 1))\n    return 'slept'\n"
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    server = launch(tmp_path_factory.mktemp("async"), "--async-retry-base-delay", str(BASE_DELAY))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lam(server: FlareServer) -> Any:
    return server.client()


@pytest.fixture(scope="module")
def sqs(server: FlareServer) -> Any:
    return server.client("sqs")


def new_queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)


def receive(sqs: Any, url: str, count: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
    """``count`` messages from ``url`` (deleted as read), waiting up to ``timeout`` seconds."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        reply = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in reply.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found.append(message)
    assert len(found) >= count, f"got {len(found)} of {count} messages"
    return found


def invoke_event(lam: Any, name: str, payload: Any, **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode(), **extra
    )
    return response


def with_destinations(
    lam: Any, name: str, on_success: str | None = None, on_failure: str | None = None, **config: Any
) -> None:
    destinations: dict[str, Any] = {}
    if on_success:
        destinations["OnSuccess"] = {"Destination": on_success}
    if on_failure:
        destinations["OnFailure"] = {"Destination": on_failure}
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=destinations, **config)


def test_event_invoke_answers_202_and_on_success_gets_the_record(lam: Any, sqs: Any) -> None:
    name = unique("hello")
    create_function(lam, name, python_function(HELLO))
    url, arn = new_queue(sqs)
    with_destinations(lam, name, on_success=arn)
    response = invoke_event(lam, name, {"a": 1})
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]
    record = json.loads(receive(sqs, url)[0]["Body"])
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"a": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"got": {"a": 1}}


def test_function_error_is_retried_twice_after_base_and_twice_base(lam: Any, sqs: Any) -> None:
    name = unique("boom")
    create_function(lam, name, python_function(BOOM))
    url, arn = new_queue(sqs)
    with_destinations(lam, name, on_failure=arn)
    started = time.monotonic()
    invoke_event(lam, name, {"n": 7})
    record = json.loads(receive(sqs, url)[0]["Body"])
    assert time.monotonic() - started >= 3 * BASE_DELAY
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "boom 7"
    assert record["responsePayload"]["errorType"] == "ValueError"


def test_maximum_retry_attempts_zero_gives_up_after_one_try(lam: Any, sqs: Any) -> None:
    name = unique("once")
    create_function(lam, name, python_function(BOOM))
    url, arn = new_queue(sqs)
    with_destinations(lam, name, on_failure=arn, MaximumRetryAttempts=0)
    invoke_event(lam, name, {"n": 1})
    record = json.loads(receive(sqs, url)[0]["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_dead_letter_queue_gets_original_payload_with_error_attributes(lam: Any, sqs: Any) -> None:
    name = unique("dlq")
    url, arn = new_queue(sqs)
    create_function(lam, name, python_function(BOOM), DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    response = invoke_event(lam, name, {"n": 3})
    message = receive(sqs, url)[0]
    assert json.loads(message["Body"]) == {"n": 3}
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {
        "DataType": "String",
        "StringValue": response["ResponseMetadata"]["RequestId"],
    }
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"]["StringValue"] == "boom 3"


def test_dlq_and_on_failure_both_receive(lam: Any, sqs: Any) -> None:
    name = unique("both")
    dlq_url, dlq_arn = new_queue(sqs)
    fail_url, fail_arn = new_queue(sqs)
    create_function(lam, name, python_function(BOOM), DeadLetterConfig={"TargetArn": dlq_arn})
    with_destinations(lam, name, on_failure=fail_arn, MaximumRetryAttempts=0)
    invoke_event(lam, name, {"n": 4})
    assert json.loads(receive(sqs, dlq_url)[0]["Body"]) == {"n": 4}
    assert json.loads(receive(sqs, fail_url)[0]["Body"])["requestPayload"] == {"n": 4}


def test_reserved_concurrency_zero_goes_straight_to_failure_handling(lam: Any, sqs: Any) -> None:
    name = unique("killed")
    create_function(lam, name, python_function(HELLO))
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    url, arn = new_queue(sqs)
    with_destinations(lam, name, on_failure=arn)
    assert invoke_event(lam, name, {"z": 0})["StatusCode"] == 202
    record = json.loads(receive(sqs, url, timeout=3)[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["statusCode"] == 429
    assert record["responsePayload"]["errorType"] == "TooManyRequestsException"


def test_throttled_events_wait_and_all_succeed(lam: Any, sqs: Any) -> None:
    name = unique("narrow")
    create_function(lam, name, python_function(SLOW), Timeout=10)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    url, arn = new_queue(sqs)
    with_destinations(lam, name, on_success=arn, on_failure=arn, MaximumRetryAttempts=0)
    for i in range(3):
        invoke_event(lam, name, {"sleep": 0.3, "i": i})
    records = [json.loads(m["Body"]) for m in receive(sqs, url, count=3, timeout=30)]
    assert sorted(r["requestPayload"]["i"] for r in records) == [0, 1, 2]
    assert {r["requestContext"]["condition"] for r in records} == {"Success"}


def test_lambda_destination_is_invoked_with_the_record(lam: Any, sqs: Any) -> None:
    first, second = unique("first"), unique("second")
    create_function(lam, first, python_function(HELLO))
    second_arn = create_function(lam, second, python_function(HELLO))["FunctionArn"]
    url, arn = new_queue(sqs)
    with_destinations(lam, first, on_success=second_arn)
    with_destinations(lam, second, on_success=arn)
    invoke_event(lam, first, {"chain": True})
    record = json.loads(receive(sqs, url)[0]["Body"])
    assert record["requestContext"]["functionArn"].endswith(f":{second}:$LATEST")
    inner = record["requestPayload"]
    assert inner["requestContext"]["condition"] == "Success"
    assert inner["requestPayload"] == {"chain": True}


def test_alias_invoke_uses_the_alias_config_and_arn(lam: Any, sqs: Any) -> None:
    name = unique("aliased")
    create_function(lam, name, python_function(HELLO))
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    url, arn = new_queue(sqs)
    lam.put_function_event_invoke_config(
        FunctionName=name, Qualifier="live", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    invoke_event(lam, name, {"v": 1}, Qualifier="live")
    record = json.loads(receive(sqs, url)[0]["Body"])
    assert record["requestContext"]["functionArn"].endswith(f":{name}:live")
    assert record["responseContext"]["executedVersion"] == version


def test_payload_over_one_megabyte_is_413(lam: Any) -> None:
    name = unique("big")
    create_function(lam, name, python_function(HELLO))
    payload = json.dumps({"x": "a" * (1024 * 1024)}).encode()
    with pytest.raises(lam.exceptions.RequestTooLargeException) as caught:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "1048576 bytes" in caught.value.response["Error"]["Message"]


def test_event_invoke_of_missing_function_is_404(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        invoke_event(lam, unique("nope"), {})


def test_event_invoke_config_put_get_update_list_delete(lam: Any, sqs: Any) -> None:
    name = unique("cfg")
    arn = create_function(lam, name, python_function(HELLO))["FunctionArn"]
    _, queue_arn = new_queue(sqs)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as caught:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert caught.value.response["Error"]["Message"] == (
        f"The function {arn}:$LATEST doesn't have an EventInvokeConfig"
    )
    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert put["FunctionArn"] == f"{arn}:$LATEST"
    assert put["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert put["LastModified"].year >= 2024
    updated = lam.update_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["MaximumEventAgeInSeconds"] == 120
    assert updated["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": queue_arn}}
    replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in replaced
    assert replaced["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    got = lam.get_function_event_invoke_config(FunctionName=name, Qualifier="$LATEST")
    assert got["MaximumEventAgeInSeconds"] == 60
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{arn}:$LATEST"]
    lam.delete_function_event_invoke_config(FunctionName=name)
    assert lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("MaximumRetryAttempts", 3, "less than or equal to 2"),
        ("MaximumEventAgeInSeconds", 59, "greater than or equal to 60"),
        ("MaximumEventAgeInSeconds", 21601, "less than or equal to 21600"),
    ],
)
def test_event_invoke_config_limits(server: FlareServer, field: str, value: int, fragment: str) -> None:
    lam = boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    name = unique("limits")
    create_function(lam, name, python_function(HELLO))
    out_of_range: dict[str, Any] = {field: value}
    with pytest.raises(ClientError) as caught:
        lam.put_function_event_invoke_config(FunctionName=name, **out_of_range)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException", error  # the model's range, checked by AWS's front end
    assert fragment in error["Message"]


def test_bad_destination_arn_is_rejected(lam: Any) -> None:
    name = unique("badarn")
    create_function(lam, name, python_function(HELLO))
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnFailure": {"Destination": "arn:aws:nothing:::x"}}
        )


def test_config_of_a_deleted_function_goes_with_it(lam: Any) -> None:
    name = unique("gone")
    create_function(lam, name, python_function(HELLO))
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.delete_function(FunctionName=name)
    create_function(lam, name, python_function(HELLO))
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)


def test_queued_events_survive_kill_9(tmp_path: Path) -> None:
    server = launch(tmp_path, "--async-retry-base-delay", "1")
    try:
        lam, sqs = server.client(), server.client("sqs")
        slow, failing = unique("slow"), unique("failing")
        create_function(lam, slow, python_function(SLOW), Timeout=10)
        create_function(lam, failing, python_function(BOOM))
        url, arn = new_queue(sqs)
        with_destinations(lam, slow, on_success=arn)
        with_destinations(lam, failing, on_failure=arn, MaximumRetryAttempts=1)
        invoke_event(lam, slow, {"sleep": 2, "id": "slow"})
        invoke_event(lam, failing, {"n": "failing"})
        time.sleep(0.7)  # the slow one is running; the failing one waits for its retry
        server.stop(signal.SIGKILL)
        server.process = start_process(server.args)
        wait_ready(server.process, server.url)
        records = [json.loads(m["Body"]) for m in receive(sqs, url, count=2, timeout=20)]
        by_condition = {r["requestContext"]["condition"]: r for r in records}
        assert by_condition["Success"]["requestPayload"] == {"sleep": 2, "id": "slow"}
        assert by_condition["RetriesExhausted"]["requestPayload"] == {"n": "failing"}
    finally:
        server.stop()
