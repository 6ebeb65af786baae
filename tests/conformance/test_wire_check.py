"""The wire checker itself, fed good and bad answers: Lambda's model, and a small model of our own
for what Lambda's outputs never use (header numbers, ISO timestamps, blobs, required members)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.model import OperationModel, ServiceModel

from flare.specs.models import service_model
from tests.conformance.wire_check import Answer, violations

CONFIGURATION = {
    "FunctionName": "f",
    "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
    "Runtime": "python3.12",
    "MemorySize": 128,
    "Timeout": 3,
    "LastModified": "2026-01-01T00:00:00.000+0000",
    "Environment": {"Variables": {"KEY": "value"}},
    "Architectures": ["x86_64"],
    "State": "Active",
    "TracingConfig": {"Mode": "PassThrough"},
}
MAPPING = {"UUID": "u", "BatchSize": 10, "LastModified": 1769904000.5, "State": "Enabled"}


def lambda_operation(name: str) -> OperationModel:
    return service_model("lambda").operation_model(name)


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, headers or {}, json.dumps(body).encode())


def error_answer(code: str, status: int, body: dict[str, Any]) -> Answer:
    return Answer(status, {"X-Amzn-ErrorType": code}, json.dumps(body).encode())


def with_change(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**document, **changes}


CONFORMING = [
    ("GetFunctionConfiguration", json_answer(CONFIGURATION)),
    ("CreateFunction", json_answer(CONFIGURATION, 201)),
    (
        "GetFunction",
        json_answer({"Configuration": CONFIGURATION, "Tags": {"a": "b"}, "Code": {"Location": "u"}}),
    ),
    ("GetEventSourceMapping", json_answer(MAPPING)),
    ("CreateEventSourceMapping", json_answer(MAPPING, 202)),
    ("DeleteAlias", Answer(204, {}, b"")),
    ("DeleteFunction", Answer(204, {}, b"")),
    ("Invoke", Answer(200, {"X-Amz-Executed-Version": "$LATEST"}, None)),
    ("Invoke", Answer(202, {}, None)),
    ("InvokeAsync", Answer(202, {}, b"")),
    ("UpdateAlias", json_answer({"Name": "a", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}})),
    ("GetAccountSettings", json_answer({"AccountLimit": {"TotalCodeSize": 80530636800}})),
    ("GetFunction", error_answer("ResourceNotFoundException", 404, {"Type": "User", "Message": "gone"})),
    ("GetFunction", error_answer("ResourceNotFoundException:http://x/", 404, {"Message": "gone"})),
    ("GetFunction", error_answer("ValidationException", 400, {"message": "1 validation error detected"})),
    ("CreateFunction", error_answer("InvalidParameterValueException", 400, {"Type": "User", "message": "m"})),
    ("CreateFunction", error_answer("InvalidParameterValueException", 400, {"message": "m", "Message": "m"})),
    (
        "Invoke",
        error_answer(
            "TooManyRequestsException",
            429,
            {"message": "slow", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
        ),
    ),
]


@pytest.mark.parametrize(("operation", "answer"), CONFORMING)
def test_an_answer_the_model_allows_has_no_violation(operation: str, answer: Answer) -> None:
    assert violations(lambda_operation(operation), answer) == []


NON_CONFORMING = [
    ("GetFunctionConfiguration", json_answer(with_change(CONFIGURATION, Layers=None)), "$.Layers: null"),
    (
        "GetFunctionConfiguration",
        json_answer(with_change(CONFIGURATION, Colour="red")),
        "$.Colour: a member FunctionConfiguration does not have",
    ),
    (
        "GetFunction",
        json_answer({"Configuration": with_change(CONFIGURATION, Extra=1)}),
        "$.Configuration.Extra: a member FunctionConfiguration does not have",
    ),
    (
        "GetFunctionConfiguration",
        json_answer(with_change(CONFIGURATION, MemorySize="128")),
        '$.MemorySize: "128" is not an integer',
    ),
    (
        "GetFunctionConfiguration",
        json_answer(with_change(CONFIGURATION, Timeout=True)),
        "$.Timeout: true is not an integer",
    ),
    (
        "GetFunctionConfiguration",
        json_answer(with_change(CONFIGURATION, Architectures="x86_64")),
        '$.Architectures: "x86_64" is not an array',
    ),
    (
        "GetFunctionConfiguration",
        json_answer(with_change(CONFIGURATION, Architectures=["arm"])),
        "$.Architectures[0]: 'arm' is not one of Architecture's values",
    ),
    (
        "GetFunctionConfiguration",
        json_answer(with_change(CONFIGURATION, Environment={"Variables": {"K": 1}})),
        "$.Environment.Variables['K']: 1 is not a string",
    ),
    (
        "GetFunctionConfiguration",
        json_answer(with_change(CONFIGURATION, TracingConfig="Active")),
        '$.TracingConfig: "Active" is not an object',
    ),
    (
        "GetFunctionConfiguration",
        json_answer(with_change(CONFIGURATION, State="Ready")),
        "$.State: 'Ready' is not one of State's values",
    ),
    (
        "GetFunctionConfiguration",
        json_answer(with_change(CONFIGURATION, LastModified=1769904000)),
        "$.LastModified: 1769904000 is not a string (Timestamp is a string)",
    ),
    (
        "GetEventSourceMapping",
        json_answer(with_change(MAPPING, LastModified="2026-01-01T00:00:00Z")),
        '$.LastModified: "2026-01-01T00:00:00Z" is not epoch seconds (a number) (Date is a timestamp)',
    ),
    (
        "UpdateAlias",
        json_answer({"RoutingConfig": {"AdditionalVersionWeights": {"1": "0.5"}}}),
        "$.RoutingConfig.AdditionalVersionWeights['1']: \"0.5\" is not a number",
    ),
    ("GetFunctionConfiguration", Answer(200, {}, b"<html>"), "$: the body is not JSON: <html>"),
    ("GetFunctionConfiguration", json_answer([CONFIGURATION]), "$: [{"),
    ("CreateFunction", json_answer(CONFIGURATION, 200), "status 200: the model's responseCode is 201"),
    ("CreateEventSourceMapping", json_answer(MAPPING, 201), "status 201: the model's responseCode is 202"),
    ("DeleteAlias", Answer(200, {}, b""), "status 200: the model's responseCode is 204"),
    ("DeleteAlias", Answer(204, {}, b"{}"), "$: the operation has no output, yet the body is {}"),
    ("Invoke", Answer(302, {}, b""), "status 302: an error answer without x-amzn-ErrorType"),
    (
        "InvokeAsync",
        json_answer({"Status": 202}, 202),
        "$.Status: a member with location 'statusCode' is in the body",
    ),
    (
        "GetFunction",
        error_answer("UnknownOperationException", 404, {"message": "no"}),
        "x-amzn-ErrorType UnknownOperationException: not an error of GetFunction",
    ),
    (
        "GetFunction",
        error_answer("ResourceNotFoundException", 400, {"Message": "gone"}),
        "status 400: the model gives ResourceNotFoundException the status 404",
    ),
    (
        "GetFunction",
        error_answer("ValidationException", 422, {"message": "bad"}),
        "status 422: AWS's front end answers ValidationException with 400",
    ),
    (
        "GetFunction",
        error_answer("ResourceNotFoundException", 404, {"Message": "gone", "Detail": "x"}),
        "$.Detail: a member ResourceNotFoundException does not have",
    ),
    (
        "GetFunction",
        error_answer("ResourceNotFoundException", 404, {"Message": 404}),
        "$.Message: 404 is not a string",
    ),
    (
        "GetFunction",
        Answer(404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, b"gone"),
        "$: the error body is not JSON: gone",
    ),
    (
        "Invoke",
        error_answer("TooManyRequestsException", 429, {"message": "m", "retryAfterSeconds": "1"}),
        "$.retryAfterSeconds: a member with location 'header' is in the body",
    ),
]


@pytest.mark.parametrize(("operation", "answer", "expected"), NON_CONFORMING)
def test_an_answer_that_breaks_the_model_is_reported_at_its_path(
    operation: str, answer: Answer, expected: str
) -> None:
    found = violations(lambda_operation(operation), answer)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_a_value_aws_itself_answers_outside_an_enum_is_no_violation() -> None:
    update = with_change(CONFIGURATION, LastUpdateStatus="InProgress", LastUpdateStatusReasonCode="Creating")
    assert violations(lambda_operation("UpdateFunctionConfiguration"), json_answer(update)) == []
    other = with_change(CONFIGURATION, LastUpdateStatusReasonCode="Updating")
    assert len(violations(lambda_operation("UpdateFunctionConfiguration"), json_answer(other))) == 1


def test_every_violation_of_an_answer_is_listed() -> None:
    body = with_change(CONFIGURATION, MemorySize="1", Colour="red", State=None)
    found = violations(lambda_operation("CreateFunction"), json_answer(body, 200))
    assert [line.split(":")[0] for line in found] == ["status 200", "$.MemorySize", "$.State", "$.Colour"]


OWN_MODEL = {
    "version": "2.0",
    "metadata": {
        "apiVersion": "2026-01-01",
        "endpointPrefix": "own",
        "protocol": "rest-json",
        "serviceId": "Own",
        "signatureVersion": "v4",
    },
    "operations": {
        "Read": {
            "name": "Read",
            "http": {"method": "GET", "requestUri": "/r", "responseCode": 200},
            "output": {"shape": "ReadOutput"},
        },
    },
    "shapes": {
        "ReadOutput": {
            "type": "structure",
            "required": ["Id"],
            "members": {
                "Id": {"shape": "Text"},
                "Count": {"shape": "Number", "location": "header", "locationName": "X-Count"},
                "Ready": {"shape": "Flag", "location": "header", "locationName": "X-Ready"},
                "Made": {"shape": "Moment", "timestampFormat": "iso8601"},
                "Seen": {"shape": "Moment"},
                "Data": {"shape": "Bytes"},
                "Ratio": {"shape": "Fraction"},
            },
        },
        "Text": {"type": "string"},
        "Number": {"type": "long"},
        "Flag": {"type": "boolean"},
        "Moment": {"type": "timestamp"},
        "Bytes": {"type": "blob"},
        "Fraction": {"type": "double"},
    },
}
READ = ServiceModel(OWN_MODEL, "own").operation_model("Read")


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"X-Count": "3", "X-Ready": "true"}, {"Id": "a", "Made": "2026-01-01T00:00:00Z", "Seen": 1.5}, []),
        ({}, {"Id": "a", "Data": "aGVsbG8=", "Ratio": 1}, []),
        ({"X-Count": "three"}, {"Id": "a"}, ["header X-Count: 'three' is not a long (Count)"]),
        ({"X-Ready": "yes"}, {"Id": "a"}, ["header X-Ready: 'yes' is not a boolean (Ready)"]),
        ({}, {"Id": "a", "Made": 1.5}, ["$.Made: 1.5 is not a iso8601 string (Moment is a timestamp)"]),
        (
            {},
            {"Id": "a", "Seen": "2026-01-01"},
            ['$.Seen: "2026-01-01" is not epoch seconds (a number) (Moment is a timestamp)'],
        ),
        (
            {},
            {"Id": "a", "Data": "not base64!"},
            ['$.Data: "not base64!" is not a base64 string (Bytes is a blob)'],
        ),
        ({}, {"Id": "a", "Ratio": "1"}, ['$.Ratio: "1" is not a number (Fraction is a double)']),
        (
            {},
            {"Count": 3},
            [
                "$.Count: a member with location 'header' is in the body",
                "$.Id: required by ReadOutput, missing",
            ],
        ),
    ],
)
def test_header_members_timestamp_formats_blobs_and_required_members(
    headers: dict[str, str], body: dict[str, Any], expected: list[str]
) -> None:
    assert violations(READ, Answer(200, headers, json.dumps(body).encode())) == expected


def test_a_streamed_body_is_not_checked_but_its_status_is() -> None:
    assert violations(READ, Answer(200, {}, None)) == []
    assert violations(READ, Answer(201, {}, None)) == ["status 201: the model's responseCode is 200"]
