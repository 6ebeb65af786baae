"""Requests the fuzzer (tests/fuzz/) found answered with a 500 or outside AWS's error shape:
each one here, signed, against a real ``flare serve``, answered as AWS answers a client's fault."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import FlareServer
from tests.fuzz.raw_http import RawRequest, Reply, exchange, signed_bytes

NESTED = b"[" * 10_000 + b"]" * 10_000
LAMBDA_JSON = (("Content-Type", "application/json"),)


def send(flare: FlareServer, request: RawRequest) -> Reply:
    return exchange(flare.url, signed_bytes(flare.url, request))


def lambda_error(reply: Reply) -> tuple[int, str, Any]:
    """Status, ``x-amzn-ErrorType`` and message of a Lambda REST error."""
    body = json.loads(reply.body)
    return reply.status, reply.headers.get("x-amzn-errortype", ""), body.get("message")


def json_service_error(reply: Reply) -> tuple[int, str]:
    """Status and ``__type`` of a JSON-protocol service's error."""
    return reply.status, json.loads(reply.body)["__type"]


def target(name: str, content_type: str = "application/x-amz-json-1.1") -> tuple[tuple[str, str], ...]:
    return (("X-Amz-Target", name), ("Content-Type", content_type))


# --- JSON nested deeper than the parser's stack -----------------------------------------------


def test_deeply_nested_lambda_body_is_invalid_request_content(flare: FlareServer) -> None:
    reply = send(flare, RawRequest("POST", "/2015-03-31/functions", LAMBDA_JSON, NESTED))
    status, kind, message = lambda_error(reply)
    assert (status, kind) == (400, "InvalidRequestContentException")
    assert message.startswith("Could not parse request body into json")


def test_deeply_nested_json_service_body_is_invalid_request_content(flare: FlareServer) -> None:
    for name in ("Kinesis_20131202.ListStreams", "Logs_20140328.DescribeLogGroups"):
        reply = send(
            flare, RawRequest("POST", "/", target(name), b'{"x": ' + NESTED + b"}", name[:4].lower())
        )
        assert json_service_error(reply) == (400, "InvalidRequestContentException"), reply.body[:200]


# --- HTTP that aiohttp refuses before any route ------------------------------------------------


def test_request_line_over_the_limit_is_answered_in_aws_shape(flare: FlareServer) -> None:
    reply = send(flare, RawRequest("GET", "/2015-03-31/functions/" + "x" * 10_000, (), b""))
    assert lambda_error(reply)[:2] == (400, "InvalidRequestContentException")
    assert "x" * 100 not in reply.body.decode()  # nothing of the request echoed back


def test_header_over_the_limit_is_answered_in_aws_shape(flare: FlareServer) -> None:
    reply = send(flare, RawRequest("GET", "/2015-03-31/functions/", (("X-Big", "b" * 9_000),), b""))
    assert lambda_error(reply)[:2] == (400, "InvalidRequestContentException")


def test_conflicting_framing_is_answered_in_aws_shape(flare: FlareServer) -> None:
    headers = (*LAMBDA_JSON, ("Transfer-Encoding", "identity"))
    reply = send(flare, RawRequest("PUT", "/2015-03-31/functions/f/concurrency", headers, b"{}"))
    assert lambda_error(reply)[:2] == (400, "InvalidRequestContentException")


def test_a_path_no_route_can_match_is_unknown_operation(flare: FlareServer) -> None:
    reply = send(flare, RawRequest("GET", "/a%00b/2021-10-31/functions/a%0Ab/url", (), b""))
    assert lambda_error(reply)[:2] == (404, "UnknownOperationException")


# --- SQS members of the wrong JSON type ---------------------------------------------------------


def test_sqs_member_of_the_wrong_type_is_serialization_exception(flare: FlareServer) -> None:
    url = flare.client("sqs").create_queue(QueueName="hostile-types")["QueueUrl"]
    headers = (
        *target("AmazonSQS.SendMessageBatch", "application/x-amz-json-1.0"),
        ("x-amzn-query-mode", "true"),
    )
    for body in (
        {"QueueUrl": url, "Entries": True},
        {"QueueUrl": url, "Entries": [{"Id": "a", "MessageBody": 5}]},
    ):
        reply = send(flare, RawRequest("POST", "/", headers, json.dumps(body).encode(), "sqs"))
        assert json_service_error(reply) == (400, "com.amazonaws.sqs#SerializationException"), reply.body[
            :200
        ]
    untag = target("AmazonSQS.UntagQueue", "application/x-amz-json-1.0")
    reply = send(
        flare, RawRequest("POST", "/", untag, json.dumps({"QueueUrl": url, "TagKeys": 7}).encode(), "sqs")
    )
    assert json_service_error(reply) == (400, "com.amazonaws.sqs#SerializationException")
