"""A serverless.yml as the SAM template it stands for (``flare.projects.serverless_config``)."""

from __future__ import annotations

from typing import Any

import pytest

from flare.errors import TemplateRefused
from flare.projects.serverless_config import logical_id, resolve_variables, stack_name, to_sam

CONFIG: dict[str, Any] = {
    "service": "shop",
    "provider": {
        "name": "aws",
        "runtime": "python3.12",
        "stage": "${opt:stage, 'dev'}",
        "environment": {"A": "1"},
    },
    "functions": {
        "worker": {
            "handler": "handler.worker",
            "environment": {"B": "${self:service}-${sls:stage}"},
            "reservedConcurrency": 2,
            "provisionedConcurrency": 1,
            "events": [
                {"sqs": {"arn": {"Fn::GetAtt": ["Jobs", "Arn"]}, "batchSize": 3}},
                {"stream": "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"},
                {"schedule": {"rate": ["rate(1 hour)", "cron(0 12 * * ? *)"], "input": {"tick": True}}},
            ],
        },
        "api-v2": {
            "handler": "handler.api",
            "timeout": 10,
            "events": [{"httpApi": "GET /hello"}, {"http": "*"}],
        },
    },
    "resources": {"Resources": {"Jobs": {"Type": "AWS::SQS::Queue"}}},
}


def test_functions_become_sam_functions_named_as_the_framework_names_them() -> None:
    resources = to_sam(CONFIG, {}, {})["Resources"]
    assert set(resources) == {"WorkerLambdaFunction", "ApiDashv2LambdaFunction", "Jobs"}
    worker = resources["WorkerLambdaFunction"]["Properties"]
    assert {
        key: worker[key] for key in ("FunctionName", "CodeUri", "Handler", "Runtime", "MemorySize", "Timeout")
    } == {
        "FunctionName": "shop-dev-worker",
        "CodeUri": ".",
        "Handler": "handler.worker",
        "Runtime": "python3.12",
        "MemorySize": 1024,
        "Timeout": 6,
    }
    assert worker["Environment"] == {"Variables": {"A": "1", "B": "shop-dev"}}
    assert worker["ReservedConcurrentExecutions"] == 2
    assert (worker["AutoPublishAlias"], worker["ProvisionedConcurrencyConfig"]) == (
        "provisioned",
        {"ProvisionedConcurrentExecutions": 1},
    )
    assert resources["ApiDashv2LambdaFunction"]["Properties"]["Timeout"] == 10


def test_events_become_sam_events() -> None:
    resources = to_sam(CONFIG, {"stage": "prod"}, {})["Resources"]
    assert resources["WorkerLambdaFunction"]["Properties"]["Events"] == {
        "SQS1": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Jobs", "Arn"]}, "BatchSize": 3}},
        "Kinesis2": {
            "Type": "Kinesis",
            "Properties": {
                "Stream": "arn:aws:kinesis:us-east-1:000000000000:stream/clicks",
                "StartingPosition": "TRIM_HORIZON",
                "BatchSize": 100,
            },
        },
        "Schedule3": {
            "Type": "Schedule",
            "Properties": {"Schedule": "rate(1 hour)", "Enabled": True, "Input": '{"tick": true}'},
        },
        "Schedule4": {
            "Type": "Schedule",
            "Properties": {"Schedule": "cron(0 12 * * ? *)", "Enabled": True, "Input": '{"tick": true}'},
        },
    }
    assert resources["ApiDashv2LambdaFunction"]["Properties"]["Events"] == {
        "HttpApi1": {"Type": "HttpApi", "Properties": {"Path": "/hello", "Method": "get"}},
        "Api2": {"Type": "Api", "Properties": {"Path": "/{proxy+}", "Method": "any"}},
    }
    assert resources["WorkerLambdaFunction"]["Properties"]["FunctionName"] == "shop-prod-worker"
    assert stack_name(CONFIG, {"stage": "prod"}, {}) == "shop-prod"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${opt:stage}", "qa"),
        ("${env:HOME_DIR}", "/home/x"),
        ("${env:MISSING, 'fallback'}", "fallback"),
        ("${opt:size, 3}", 3),
        ("${self:custom.${opt:stage}}", "qa-value"),
        ("${self:custom.size}", 5),
        ("pre-${self:custom.size}-post", "pre-5-post"),
        ("${env:MISSING, self:custom.size}", 5),
    ],
)
def test_variables_are_replaced(value: str, expected: Any) -> None:
    root = {"custom": {"qa": "qa-value", "size": 5}, "value": value}
    assert resolve_variables(root, {"stage": "qa"}, {"HOME_DIR": "/home/x"})["value"] == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"provider": {"name": "azure", "runtime": "python3.12"}}, "only aws is supported"),
        (
            {"functions": {"f": {"handler": "h.h", "events": [{"s3": "bucket"}]}}},
            "event type s3 is not supported",
        ),
        (
            {
                "functions": {
                    "f": {"handler": "h.h", "events": [{"stream": "arn:aws:dynamodb:r:1:table/t/stream/x"}]}
                }
            },
            "DynamoDB",
        ),
        ({"provider": {"name": "aws"}}, "no runtime"),
        ({"service": "${ssm:/name}"}, "only self, opt, env and sls:stage"),
        ({"service": "${env:UNSET}"}, "has no value"),
    ],
)
def test_what_flare_cannot_deploy_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateRefused, match=message):
        to_sam({**CONFIG, **change}, {}, {})


def test_logical_ids_follow_the_framework() -> None:
    assert [logical_id(name) for name in ("hello", "hello-world", "my_fn")] == [
        "HelloLambdaFunction",
        "HelloDashworldLambdaFunction",
        "MyUnderscorefnLambdaFunction",
    ]
