"""What each API request is authorized as: action, resources and condition keys."""

from __future__ import annotations

from typing import Any

import pytest

from flare.iam import actions
from flare.iam.actions import STAR
from flare.scope import Scope

SCOPE = Scope("123456789012", "us-east-1")
OTHER = "210987654321"
FN = "arn:aws:lambda:us-east-1:123456789012:function:my-function"


def test_every_lambda_operation_of_the_model_has_an_action_and_resources() -> None:
    operations = actions.operations("lambda")
    assert len(operations) > 80
    for operation in operations:
        params: dict[str, Any] = {
            "FunctionName": "f",
            "UUID": "u",
            "LayerName": "l",
            "VersionNumber": 1,
            "CapacityProviderName": "c",
        }
        found = actions.for_lambda(operation, params, SCOPE)
        assert found.action.startswith("lambda:")
        assert found.resources
        assert all(
            r == STAR or r.startswith("arn:aws:lambda:us-east-1:123456789012:") for r in found.resources
        )


LAMBDA: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
    ("Invoke", {"FunctionName": "my-function"}, "lambda:InvokeFunction", (FN,)),
    (
        "Invoke",
        {"FunctionName": "my-function", "Qualifier": "prod"},
        "lambda:InvokeFunction",
        (FN + ":prod",),
    ),
    ("Invoke", {"FunctionName": "my-function:3"}, "lambda:InvokeFunction", (FN + ":3",)),
    ("InvokeWithResponseStream", {"FunctionName": "my-function"}, "lambda:InvokeFunction", (FN,)),
    ("InvokeAsync", {"FunctionName": "my-function"}, "lambda:InvokeFunction", (FN,)),
    (
        "Invoke",
        {"FunctionName": f"arn:aws:lambda:us-east-1:{OTHER}:function:theirs"},
        "lambda:InvokeFunction",
        (f"arn:aws:lambda:us-east-1:{OTHER}:function:theirs",),
    ),
    (
        "GetFunction",
        {"FunctionName": f"{OTHER}:function:theirs"},
        "lambda:GetFunction",
        (f"arn:aws:lambda:us-east-1:{OTHER}:function:theirs",),
    ),
    (
        "UpdateFunctionConfiguration",
        {"FunctionName": "my-function"},
        "lambda:UpdateFunctionConfiguration",
        (FN,),
    ),
    ("ListFunctions", {}, "lambda:ListFunctions", (STAR,)),
    ("GetAccountSettings", {}, "lambda:GetAccountSettings", (STAR,)),
    ("ListLayers", {}, "lambda:ListLayers", (STAR,)),
    ("ListLayerVersions", {"LayerName": "deps"}, "lambda:ListLayerVersions", (STAR,)),
    (
        "GetLayerVersion",
        {"LayerName": "deps", "VersionNumber": 2},
        "lambda:GetLayerVersion",
        ("arn:aws:lambda:us-east-1:123456789012:layer:deps:2",),
    ),
    (
        "GetLayerVersionByArn",
        {"Arn": f"arn:aws:lambda:us-east-1:{OTHER}:layer:deps:2"},
        "lambda:GetLayerVersion",
        (f"arn:aws:lambda:us-east-1:{OTHER}:layer:deps:2",),
    ),
    (
        "PublishLayerVersion",
        {"LayerName": "deps"},
        "lambda:PublishLayerVersion",
        ("arn:aws:lambda:us-east-1:123456789012:layer:deps",),
    ),
    ("CreateEventSourceMapping", {"FunctionName": "my-function"}, "lambda:CreateEventSourceMapping", (STAR,)),
    ("ListEventSourceMappings", {"FunctionName": "my-function"}, "lambda:ListEventSourceMappings", (STAR,)),
    (
        "DeleteEventSourceMapping",
        {"UUID": "1234"},
        "lambda:DeleteEventSourceMapping",
        ("arn:aws:lambda:us-east-1:123456789012:event-source-mapping:1234",),
    ),
    ("TagResource", {"Resource": FN, "Tags": {"team": "a"}}, "lambda:TagResource", (FN,)),
    ("GetResourcePolicy", {"ResourceArn": FN + ":1"}, "lambda:GetResourcePolicy", (FN + ":1",)),
    ("CreateCodeSigningConfig", {}, "lambda:CreateCodeSigningConfig", (STAR,)),
    (
        "PutFunctionCodeSigningConfig",
        {
            "FunctionName": "my-function",
            "CodeSigningConfigArn": "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-1",
        },
        "lambda:PutFunctionCodeSigningConfig",
        (FN, "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-1"),
    ),
    (
        "GetCapacityProvider",
        {"CapacityProviderName": "cp"},
        "lambda:GetCapacityProvider",
        ("arn:aws:lambda:us-east-1:123456789012:capacity-provider:cp",),
    ),
]


@pytest.mark.parametrize(("operation", "params", "action", "resources"), LAMBDA)
def test_lambda_operations_are_authorized_as_aws_lists_them(
    operation: str, params: dict[str, Any], action: str, resources: tuple[str, ...]
) -> None:
    found = actions.for_lambda(operation, params, SCOPE)
    assert (found.action, found.resources) == (action, resources)


def test_lambda_condition_keys_come_from_the_request() -> None:
    esm = actions.for_lambda("CreateEventSourceMapping", {"FunctionName": "my-function:prod"}, SCOPE)
    assert esm.context == {"lambda:FunctionArn": FN}
    layers = ["arn:aws:lambda:us-east-1:123456789012:layer:deps:1"]
    created = actions.for_lambda(
        "CreateFunction",
        {
            "FunctionName": "my-function",
            "Layers": layers,
            "Tags": {"team": "a"},
            "VpcConfig": {"SubnetIds": ["s-1"], "SecurityGroupIds": ["g-1"]},
        },
        SCOPE,
    )
    assert created.context == {
        "lambda:Layer": layers,
        "aws:TagKeys": ["team"],
        "aws:RequestTag/team": "a",
        "lambda:SubnetIds": ["s-1"],
        "lambda:SecurityGroupIds": ["g-1"],
    }
    permission = actions.for_lambda(
        "AddPermission",
        {"FunctionName": "my-function", "Principal": "s3.amazonaws.com", "FunctionUrlAuthType": "NONE"},
        SCOPE,
    )
    assert permission.context == {
        "lambda:Principal": "s3.amazonaws.com",
        "lambda:FunctionUrlAuthType": "NONE",
    }
    untag = actions.for_lambda("UntagResource", {"Resource": FN, "TagKeys": ["team"]}, SCOPE)
    assert untag.context == {"aws:TagKeys": ["team"]}


QUEUE = "arn:aws:sqs:us-east-1:123456789012:orders"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/my-function"
TARGETS: list[tuple[str, str, dict[str, Any], str, tuple[str, ...]]] = [
    (
        "AmazonSQS",
        "SendMessage",
        {"QueueUrl": "http://127.0.0.1:9000/123456789012/orders"},
        "sqs:SendMessage",
        (QUEUE,),
    ),
    (
        "AmazonSQS",
        "SendMessageBatch",
        {"QueueUrl": "http://h/123456789012/orders"},
        "sqs:SendMessage",
        (QUEUE,),
    ),
    (
        "AmazonSQS",
        "DeleteMessageBatch",
        {"QueueUrl": "http://h/123456789012/orders"},
        "sqs:DeleteMessage",
        (QUEUE,),
    ),
    (
        "AmazonSQS",
        "ReceiveMessage",
        {"QueueUrl": f"http://h/{OTHER}/orders"},
        "sqs:ReceiveMessage",
        (QUEUE.replace("123456789012", OTHER),),
    ),
    ("AmazonSQS", "CreateQueue", {"QueueName": "orders"}, "sqs:CreateQueue", (QUEUE,)),
    ("AmazonSQS", "ListQueues", {}, "sqs:ListQueues", (STAR,)),
    ("Kinesis_20131202", "PutRecord", {"StreamName": "clicks"}, "kinesis:PutRecord", (STREAM,)),
    ("Kinesis_20131202", "GetRecords", {"StreamARN": STREAM}, "kinesis:GetRecords", (STREAM,)),
    ("Kinesis_20131202", "ListStreams", {}, "kinesis:ListStreams", (STAR,)),
    (
        "Logs_20140328",
        "CreateLogGroup",
        {"logGroupName": "/aws/lambda/my-function"},
        "logs:CreateLogGroup",
        (GROUP,),
    ),
    (
        "Logs_20140328",
        "PutLogEvents",
        {"logGroupName": "/aws/lambda/my-function", "logStreamName": "s1"},
        "logs:PutLogEvents",
        (GROUP + ":log-stream:s1",),
    ),
    (
        "Logs_20140328",
        "FilterLogEvents",
        {"logGroupIdentifier": GROUP + ":*"},
        "logs:FilterLogEvents",
        (GROUP,),
    ),
    (
        "Logs_20140328",
        "StartLiveTail",
        {"logGroupIdentifiers": [GROUP, GROUP + "2"]},
        "logs:StartLiveTail",
        (GROUP, GROUP + "2"),
    ),
    ("Logs_20140328", "DescribeLogGroups", {}, "logs:DescribeLogGroups", (STAR,)),
]


@pytest.mark.parametrize(("prefix", "operation", "body", "action", "resources"), TARGETS)
def test_json_services_are_authorized_on_their_resources(
    prefix: str, operation: str, body: dict[str, Any], action: str, resources: tuple[str, ...]
) -> None:
    found = actions.for_target(prefix, operation, body, SCOPE)
    assert found is not None
    assert (found.action, found.resources) == (action, resources)


def test_every_operation_of_the_embedded_services_maps_to_its_prefix() -> None:
    for prefix, service in actions.TARGET_SERVICES.items():
        for operation in actions.operations(service):
            found = actions.for_target(prefix, operation, {}, SCOPE)
            assert found is not None and found.action.startswith(f"{service}:")
    assert actions.for_target("DynamoDB_20120810", "GetItem", {}, SCOPE) is None
