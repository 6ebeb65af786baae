"""CreateFunction / UpdateFunctionConfiguration body checks and defaults."""

from __future__ import annotations

from typing import Any

import pytest

from flare.control.validation import RESERVED_ENV_KEYS, merge_update, normalise_create
from flare.errors import InvalidParameterValue

ROLE = "arn:aws:iam::000000000000:role/flare"


def body(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "FunctionName": "fn",
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def test_create_fills_aws_defaults() -> None:
    config = normalise_create(body())
    assert config == {
        "FunctionName": "fn",
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "TracingConfig": {"Mode": "PassThrough"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"},
        "Layers": [],
        "PackageType": "Zip",
    }


def test_create_from_an_unqualified_arn_stores_the_bare_name() -> None:
    config = normalise_create(body(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:fn"))
    assert config["FunctionName"] == "fn"


def test_create_keeps_every_chosen_setting() -> None:
    config = normalise_create(
        body(
            MemorySize=10240,
            Timeout=900,
            EphemeralStorage={"Size": 10240},
            Architectures=["arm64"],
            Environment={"Variables": {"A1": "x", "b_2": ""}},
            TracingConfig={"Mode": "Active"},
            SnapStart={"ApplyOn": "PublishedVersions"},
            DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
            LoggingConfig={"LogFormat": "JSON"},
            Description="d" * 256,
        )
    )
    assert config["MemorySize"] == 10240
    assert config["Timeout"] == 900
    assert config["EphemeralStorage"] == {"Size": 10240}
    assert config["Architectures"] == ["arm64"]
    assert config["Environment"] == {"Variables": {"A1": "x", "b_2": ""}}
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    assert config["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert config["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
        "LogGroup": "/aws/lambda/fn",
    }


@pytest.mark.parametrize(
    ("fields", "message_part"),
    [
        (
            {"MemorySize": 64},
            "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater",
        ),
        ({"MemorySize": 10241}, "less than or equal to 10240"),
        ({"MemorySize": "big"}, "'memorySize'"),
        ({"MemorySize": True}, "'memorySize'"),
        ({"Timeout": 0}, "Value '0' at 'timeout'"),
        (
            {"Timeout": 901},
            "Value '901' at 'timeout' failed to satisfy constraint: Member must have value less",
        ),
        ({"EphemeralStorage": {"Size": 511}}, "'ephemeralStorage.size'"),
        ({"EphemeralStorage": {"Size": 10241}}, "'ephemeralStorage.size'"),
        ({"Architectures": ["sparc"]}, "'architectures'"),
        ({"Architectures": ["x86_64", "arm64"]}, "'architectures'"),
        (
            {"Runtime": "cobol9"},
            "Value cobol9 at 'runtime' failed to satisfy constraint: Member must satisfy enum",
        ),
        ({"Runtime": "python2.7"}, "Member must satisfy enum value set: [nodejs"),
        ({"Runtime": "nodejs20.x"}, "not supported by Flare yet"),
        ({"Runtime": "java21"}, "not supported by Flare yet"),
        ({"Runtime": None}, "Runtime and Handler are mandatory"),
        ({"Handler": None}, "Runtime and Handler are mandatory"),
        ({"Handler": "has space"}, "'handler'"),
        ({"Handler": "h" * 129}, "length less than or equal to 128"),
        ({"Role": None}, "Role is required"),
        ({"Role": "someone"}, "at 'role' failed to satisfy constraint"),
        ({"Role": "arn:aws:iam::123:role/x"}, "at 'role'"),
        ({"FunctionName": None}, "FunctionName is required"),
        ({"FunctionName": "bad name"}, "'functionName'"),
        ({"FunctionName": "fn:1"}, "qualifier"),
        ({"Description": "d" * 257}, "'description'"),
        ({"PackageType": "Image"}, "Zip packages only"),
        ({"VpcConfig": {"SubnetIds": ["s"]}}, "VpcConfig"),
        ({"TracingConfig": {"Mode": "Loud"}}, "'tracingConfig.mode'"),
        ({"SnapStart": {"ApplyOn": "Always"}}, "'snapStart.applyOn'"),
        ({"LoggingConfig": {"LogFormat": "XML"}}, "'loggingConfig.logFormat'"),
        ({"Environment": {"Variables": {"1ABC": "x"}}}, "regular expression pattern"),
        ({"Environment": {"Variables": {"A": "x"}}}, "regular expression pattern"),
        ({"Environment": {"Variables": {"AB": 1}}}, "Member must be a string"),
    ],
)
def test_create_rejects_invalid_fields(fields: dict[str, Any], message_part: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        normalise_create(body(**fields))
    assert message_part in caught.value.message


@pytest.mark.parametrize(
    "role",
    [ROLE, "arn:aws-cn:iam::123456789012:role/path/to/r", "arn:aws:iam::123456789012:role/a+b=c,d.e@f-g_h"],
)
def test_roles_matching_aws_pattern_are_accepted(role: str) -> None:
    assert normalise_create(body(Role=role))["Role"] == role


@pytest.mark.parametrize(
    "runtime",
    ["python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14", "provided.al2023",
     "provided.al2", "provided"],
)  # fmt: skip
def test_every_supported_runtime_is_accepted(runtime: str) -> None:
    assert normalise_create(body(Runtime=runtime))["Runtime"] == runtime


def test_every_reserved_env_key_is_named_in_the_rejection() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        normalise_create(body(Environment={"Variables": {"AWS_REGION": "x", "_HANDLER": "y", "OK": "z"}}))
    assert caught.value.message == (
        "Lambda was unable to configure your environment variables because the environment variables you "
        "have provided contains reserved keys that are currently not supported for modification. Reserved "
        "keys used in this request: AWS_REGION,_HANDLER"
    )


@pytest.mark.parametrize("key", sorted(RESERVED_ENV_KEYS))
def test_each_reserved_env_key_is_rejected(key: str) -> None:
    with pytest.raises(InvalidParameterValue, match="reserved keys"):
        normalise_create(body(Environment={"Variables": {key: "x"}}))


def test_environment_of_exactly_4kb_is_accepted_and_one_byte_more_is_not() -> None:
    at_limit = {"Variables": {"KEY": "v" * (4096 - 3)}}
    assert normalise_create(body(Environment=at_limit))["Environment"] == at_limit
    with pytest.raises(InvalidParameterValue) as caught:
        normalise_create(body(Environment={"Variables": {"KEY": "v" * (4097 - 3)}}))
    assert caught.value.message.startswith(
        "Lambda was unable to configure your environment variables because the environment variables you "
        'have provided exceeded the 4KB limit. String measured: {"KEY":"vvv'
    )


def test_update_changes_only_given_fields() -> None:
    current = normalise_create(body(MemorySize=256, Environment={"Variables": {"OLD": "1"}}))
    updated = merge_update(current, {"Timeout": 30, "Environment": {"Variables": {"NEW": "2"}}})
    assert updated["Timeout"] == 30
    assert updated["MemorySize"] == 256
    assert updated["Environment"] == {"Variables": {"NEW": "2"}}
    assert current["Timeout"] == 3


def test_invalid_update_leaves_current_untouched() -> None:
    current = normalise_create(body())
    snapshot = dict(current)
    with pytest.raises(InvalidParameterValue):
        merge_update(current, {"Timeout": 30, "MemorySize": 1})
    assert current == snapshot


def test_update_of_logging_level_keeps_the_log_group() -> None:
    current = normalise_create(body(LoggingConfig={"LogFormat": "JSON"}))
    updated = merge_update(current, {"LoggingConfig": {"ApplicationLogLevel": "DEBUG"}})
    assert updated["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
    assert updated["LoggingConfig"]["LogGroup"] == "/aws/lambda/fn"


def test_update_with_empty_dead_letter_target_removes_it() -> None:
    current = normalise_create(body(DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:q"}))
    assert "DeadLetterConfig" not in merge_update(current, {"DeadLetterConfig": {}})
