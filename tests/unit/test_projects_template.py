"""The pure parts of ``flare deploy --template``: intrinsic functions, ordering, decisions, support,
and reading a SAM template into plain CloudFormation with local code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flare.errors import TemplateRefused
from flare.projects import sam_template, support
from flare.projects.intrinsic import UNKNOWN, Intrinsics, references
from flare.projects.plan import (
    Action,
    cloudformation_types,
    decide,
    function_fields,
    mapping_fields,
    order,
    queue_attributes,
)


def intrinsics() -> Intrinsics:
    resolver = Intrinsics({"AWS::Region": "eu-west-1", "Stage": "dev"})
    resolver.record("Queue", {"Ref": "http://h/1/q", "Arn": "arn:aws:sqs:eu-west-1:1:q"})
    resolver.record("Version", {"Ref": UNKNOWN, "Version": UNKNOWN})
    return resolver


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Queue"}, "http://h/1/q"),
        ({"Ref": "Stage"}, "dev"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:aws:sqs:eu-west-1:1:q"),
        ({"Fn::GetAtt": "Queue.Arn"}, "arn:aws:sqs:eu-west-1:1:q"),
        ({"Fn::Sub": "${Queue.Arn}/${Stage}-${AWS::Region}"}, "arn:aws:sqs:eu-west-1:1:q/dev-eu-west-1"),
        ({"Fn::Sub": ["${A}-${!Literal}", {"A": {"Ref": "Stage"}}]}, "dev-${Literal}"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}, "a-dev"),
        ({"Fn::Select": [1, ["a", "b"]]}, "b"),
        ({"Fn::Split": [",", "a,b"]}, ["a", "b"]),
        ({"Fn::GetAtt": ["Version", "Version"]}, UNKNOWN),
        ({"Fn::Sub": "x-${Version.Version}"}, UNKNOWN),
        ({"Fn::Join": ["", ["x", {"Ref": "Version"}]]}, UNKNOWN),
        ({"Nested": [{"Ref": "Stage"}]}, {"Nested": ["dev"]}),
    ],
)
def test_intrinsic_functions_resolve_to_what_flare_holds(value: Any, expected: Any) -> None:
    assert intrinsics().resolve(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Nowhere"}, "Nowhere is neither a parameter nor a resource Flare deploys"),
        ({"Fn::GetAtt": ["Queue", "Owner"]}, "GetAtt Queue.Owner: Flare does not know this attribute"),
        ({"Fn::If": ["C", 1, 2]}, "Fn::If is not supported"),
        ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not supported"),
    ],
)
def test_unknown_names_and_functions_are_refused(value: Any, message: str) -> None:
    with pytest.raises(TemplateRefused, match=message):
        intrinsics().resolve(value)


def test_references_name_refs_getatts_and_sub_variables_but_not_sub_locals() -> None:
    value = {
        "A": {"Ref": "X"},
        "B": [{"Fn::GetAtt": "Y.Arn"}],
        "C": {"Fn::Sub": ["${Z.Arn}${L}", {"L": "l"}]},
    }
    assert list(references(value)) == ["X", "Y", "Z"]


def test_order_puts_each_resource_after_what_it_references() -> None:
    resources: dict[str, dict[str, Any]] = {
        "Mapping": {
            "Properties": {"FunctionName": {"Ref": "Alias"}, "EventSourceArn": {"Fn::GetAtt": "Q.Arn"}}
        },
        "Alias": {"Properties": {"FunctionVersion": {"Fn::GetAtt": ["Version", "Version"]}}},
        "Version": {"Properties": {"FunctionName": {"Ref": "Fn"}}},
        "Fn": {"Properties": {"Environment": {"Variables": {"Q": {"Fn::Sub": "${Q}"}}}}},
        "Q": {"Properties": {}},
        "Late": {"DependsOn": "Mapping"},
    }
    assert order(resources) == ["Q", "Fn", "Version", "Alias", "Mapping", "Late"]


def test_a_reference_cycle_is_refused() -> None:
    resources = {"A": {"Properties": {"X": {"Ref": "B"}}}, "B": {"Properties": {"X": {"Ref": "A"}}}}
    with pytest.raises(TemplateRefused, match="circular"):
        order(resources)


@pytest.mark.parametrize(
    ("desired", "current", "expected"),
    [
        ({"A": 1}, None, (Action.ADD, ())),
        ({"A": 1, "B": "x"}, {"A": 1, "B": "x", "Extra": 2}, (Action.NO_CHANGE, ())),
        ({"A": 1, "B": "x"}, {"A": 2, "B": "x"}, (Action.MODIFY, ("A",))),
        ({"VisibilityTimeout": "30"}, {"VisibilityTimeout": "30"}, (Action.NO_CHANGE, ())),
        ({"Timeout": 30}, {"Timeout": "30"}, (Action.NO_CHANGE, ())),
        ({"Policy": '{"a": 1}'}, {"Policy": '{ "a" : 1 }'}, (Action.NO_CHANGE, ())),
        ({"Layers": [UNKNOWN]}, {"Layers": ["arn"]}, (Action.MODIFY, ("Layers",))),
    ],
)
def test_decide_compares_only_what_the_template_says(
    desired: dict[str, Any], current: dict[str, Any] | None, expected: tuple[Action, tuple[str, ...]]
) -> None:
    assert decide(desired, current) == expected


def test_a_property_left_out_is_lambdas_default() -> None:
    fields = function_fields({"Handler": "app.h", "Runtime": "python3.12"})
    assert (fields["MemorySize"], fields["Timeout"], fields["Environment"], fields["SnapStart"]) == (
        128,
        3,
        {},
        "None",
    )
    assert mapping_fields({"EventSourceArn": "arn:aws:sqs:r:1:q"})["BatchSize"] == 10
    assert mapping_fields({"EventSourceArn": "arn:aws:kinesis:r:1:stream/s"})["BatchSize"] == 100
    assert queue_attributes(
        {"QueueName": "q", "FifoQueue": True, "RedrivePolicy": {"maxReceiveCount": 3}}
    ) == {
        "FifoQueue": "true",
        "RedrivePolicy": '{"maxReceiveCount": 3}',
    }


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"Type": "AWS::S3::Bucket"}, "resource type AWS::S3::Bucket is not supported"),
        ({"Type": "AWS::SQS::Queue", "Condition": "IsProd"}, "conditions are not supported"),
        ({"Type": "AWS::Lambda::Function", "Properties": {"VpcConfig": {}}}, "property VpcConfig"),
        ({"Type": "AWS::Lambda::Function", "Properties": {"PackageType": "Image"}}, "container images"),
        ({"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {}}}, "only schedules are supported"),
        (
            {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "ScheduleExpression": "rate(1 hour)",
                    "ScheduleExpressionTimezone": "Europe/Paris",
                    "Target": {"Arn": "a"},
                },
            },
            "schedules run in UTC",
        ),
        (
            {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "ScheduleExpression": "rate(1 hour)",
                    "Targets": [{"Arn": "a", "Id": "t", "InputTransformer": {}}],
                },
            },
            "schedule target property InputTransformer",
        ),
        (
            {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "ScheduleExpression": "rate(1 hour)",
                    "Target": {"Arn": "a", "RetryPolicy": {}},
                },
            },
            "schedule target property RetryPolicy",
        ),
    ],
)
def test_support_refuses_what_flare_cannot_deploy(resource: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateRefused, match=message):
        support.check({"R": resource})


def test_support_skips_iam_and_api_gateway() -> None:
    support.check({"Role": {"Type": "AWS::IAM::Role", "Properties": {"Anything": 1}}})
    support.check({"Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Body": {}}}})


def test_a_sam_template_becomes_cloudformation_with_its_local_code(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Globals:\n  Function:\n    Timeout: 7\n"
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: code/\n      Handler: app.h\n      Runtime: python3.12\n"
        "      Environment:\n        Variables:\n          Q: !GetAtt Queue.Arn\n"
        "  Queue:\n    Type: AWS::SQS::Queue\n"
    )
    template = sam_template.read(tmp_path / "template.yaml", "us-east-1", "000000000000")
    function = template.resources["Fn"]
    assert function["Type"] == "AWS::Lambda::Function"
    assert function["Properties"]["Timeout"] == 7
    assert function["Properties"]["Environment"] == {"Variables": {"Q": {"Fn::GetAtt": ["Queue", "Arn"]}}}
    assert template.code_path(function["Properties"]["Code"]) == (tmp_path / "code").resolve()
    assert template.resources["FnRole"]["Type"] == "AWS::IAM::Role"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Resources: [", "cannot read"),
        ("Description: no resources\n", "has no Resources section"),
        (
            "Parameters:\n  Stage:\n    Type: String\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n",
            "Stage has no Default",
        ),
        (
            "Transform: AWS::Include\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n",
            "only the AWS::Serverless",
        ),
        (
            "Resources:\n  F:\n    Type: AWS::Lambda::Function\n    Properties:\n      Code: missing/\n",
            "code path .* does not exist",
        ),
    ],
)
def test_templates_that_cannot_be_read_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "template.yaml").write_text(text)
    with pytest.raises(TemplateRefused, match=message):
        sam_template.read(tmp_path / "template.yaml", "us-east-1", "000000000000")


def test_parameters_take_their_defaults_then_the_overrides(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        "Parameters:\n  A:\n    Type: String\n    Default: a\n  B:\n    Type: String\n    Default: b\n"
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
    )
    template = sam_template.read(tmp_path / "template.yaml", "us-east-1", "000000000000", {"B": "override"})
    assert template.parameters == {"A": "a", "B": "override"}


def test_neither_the_cli_nor_the_engine_imports_the_sam_translator() -> None:
    code = (
        "import sys, flare.cli.main, flare.cli.deploy, flare.server, flare.engine\n"
        "heavy = ('samtranslator', 'yaml', 'pydantic', 'flare.projects')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_scalars_get_cloudformations_types() -> None:
    properties = {
        "MemorySize": "1024",
        "Timeout": 3,
        "Handler": "123",
        "Environment": {"Variables": {"PORT": 8080, "DEBUG": True, "NAME": "x"}},
        "ScalingConfig": {"MaximumConcurrency": "5"},
        "Enabled": "False",
    }
    assert cloudformation_types(properties) == {
        "MemorySize": 1024,
        "Timeout": 3,
        "Handler": "123",
        "Environment": {"Variables": {"PORT": "8080", "DEBUG": "true", "NAME": "x"}},
        "ScalingConfig": {"MaximumConcurrency": 5},
        "Enabled": False,
    }
