"""CreateFunction / UpdateFunctionConfiguration body checks and defaults."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from flare.control import runtime_lifecycle
from flare.control.validation import RESERVED_ENV_KEYS, merge_update, normalise_create
from flare.errors import FlareError, InvalidParameterValue, ValidationFailed

ROLE = "arn:aws:iam::000000000000:role/flare"
TODAY = date(2026, 12, 4)


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
    config = normalise_create(body(), TODAY)
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
    config = normalise_create(body(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:fn"), TODAY)
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
        ),
        TODAY,
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
    ("fields", "error", "message"),
    [
        (
            {"MemorySize": 10241},
            ValidationFailed,
            "'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to "
            "10240",
        ),
        (
            {"Timeout": 901},
            ValidationFailed,
            "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must "
            "have value less than or equal to 900",
        ),
        (
            {"EphemeralStorage": {"Size": 10241}},
            ValidationFailed,
            "1 validation error detected: Value '10241' at 'ephemeralStorage.size' failed to satisfy "
            "constraint: Member must have value less than or equal to 10240",
        ),
        (
            {"Runtime": "cobol9"},
            InvalidParameterValue,
            "Value cobol9 at 'runtime' failed to satisfy constraint",
        ),
        ({"Runtime": "ruby3.3"}, InvalidParameterValue, "not supported by Flare yet"),
        ({"Runtime": None}, InvalidParameterValue, "Runtime and Handler are mandatory"),
        ({"Handler": None}, InvalidParameterValue, "Runtime and Handler are mandatory"),
        ({"FunctionName": "fn:1"}, InvalidParameterValue, "qualifier"),
        ({"PackageType": "Image"}, InvalidParameterValue, "Zip packages only"),
        ({"VpcConfig": {"SubnetIds": ["s"]}}, InvalidParameterValue, "VpcConfig"),
    ],
)
def test_create_refuses_what_lambda_checks_after_the_model(
    fields: dict[str, Any], error: type[FlareError], message: str
) -> None:
    with pytest.raises(error) as caught:
        normalise_create(body(**fields), TODAY)
    assert message in caught.value.message


def test_an_unknown_runtime_is_refused_listing_the_runtimes_lambda_still_takes_or_an_arn() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        normalise_create(body(Runtime="cobol9"), TODAY)
    message = caught.value.message
    assert message.startswith(
        "Value cobol9 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
        "[nodejs16.x, nodejs18.x, "
    )
    assert message.endswith("] or be a valid ARN")
    listed = message.split("[", 1)[1].split("]", 1)[0].split(", ")
    assert "python3.9" in listed and "python3.14" in listed
    assert "python3.7" not in listed and "provided" not in listed and "go1.x" not in listed


@pytest.mark.parametrize(
    ("runtime", "today", "creating", "refused"),
    [
        ("python3.7", date(2024, 1, 8), True, False),
        ("python3.7", date(2024, 1, 9), True, True),
        ("python3.7", date(2026, 12, 4), False, False),
        ("python3.7", date(2027, 3, 3), False, True),
        ("python3.9", date(2026, 12, 4), True, False),
        ("python3.9", date(2027, 2, 1), True, True),
        ("provided", date(2026, 12, 4), True, True),
        ("provided", date(2026, 12, 4), False, False),
        ("python3.14", date(2029, 7, 30), True, False),
        ("custom", date(2040, 1, 1), True, False),
    ],
)
def test_runtimes_are_refused_from_their_block_dates(
    runtime: str, today: date, creating: bool, refused: bool
) -> None:
    assert runtime_lifecycle.blocked(runtime, today, creating) is refused


def test_a_blocked_runtime_is_refused_in_aws_words_recommending_its_successor() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        normalise_create(body(Runtime="provided"), TODAY)
    assert caught.value.message == (
        "The runtime parameter of provided is no longer supported for creating or updating AWS Lambda "
        "functions. We recommend you use the new runtime (provided.al2023) while creating or updating "
        "functions."
    )
    current = normalise_create(body(Runtime="python3.9"), TODAY)
    assert merge_update(current, {"Timeout": 5}, date(2027, 3, 2))["Timeout"] == 5
    with pytest.raises(InvalidParameterValue, match=r"python3\.9 is no longer supported"):
        merge_update(current, {"Timeout": 5}, date(2027, 3, 3))
    assert merge_update(current, {"Runtime": "python3.13"}, date(2027, 3, 3))["Runtime"] == "python3.13"


@pytest.mark.parametrize(
    "role",
    [ROLE, "arn:aws-cn:iam::123456789012:role/path/to/r", "arn:aws:iam::123456789012:role/a+b=c,d.e@f-g_h"],
)
def test_roles_matching_aws_pattern_are_accepted(role: str) -> None:
    assert normalise_create(body(Role=role), TODAY)["Role"] == role


@pytest.mark.parametrize(
    "runtime",
    ["python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14", "provided.al2023",
     "provided.al2"],
)  # fmt: skip
def test_every_supported_runtime_is_accepted(runtime: str) -> None:
    assert normalise_create(body(Runtime=runtime), TODAY)["Runtime"] == runtime


def test_every_reserved_env_key_is_named_in_the_rejection() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        normalise_create(
            body(Environment={"Variables": {"AWS_REGION": "x", "_HANDLER": "y", "OK": "z"}}), TODAY
        )
    assert caught.value.message == (
        "Lambda was unable to configure your environment variables because the environment variables you "
        "have provided contains reserved keys that are currently not supported for modification. Reserved "
        "keys used in this request: AWS_REGION,_HANDLER"
    )


@pytest.mark.parametrize("key", sorted(RESERVED_ENV_KEYS))
def test_each_reserved_env_key_is_rejected(key: str) -> None:
    with pytest.raises(InvalidParameterValue, match="reserved keys"):
        normalise_create(body(Environment={"Variables": {key: "x"}}), TODAY)


def test_environment_of_exactly_4kb_is_accepted_and_one_byte_more_is_not() -> None:
    at_limit = {"Variables": {"KEY": "v" * (4096 - 3)}}
    assert normalise_create(body(Environment=at_limit), TODAY)["Environment"] == at_limit
    with pytest.raises(InvalidParameterValue) as caught:
        normalise_create(body(Environment={"Variables": {"KEY": "v" * (4097 - 3)}}), TODAY)
    assert caught.value.message.startswith(
        "Lambda was unable to configure your environment variables because the environment variables you "
        'have provided exceeded the 4KB limit. String measured: {"KEY":"vvv'
    )


def test_update_changes_only_given_fields() -> None:
    current = normalise_create(body(MemorySize=256, Environment={"Variables": {"OLD": "1"}}), TODAY)
    updated = merge_update(current, {"Timeout": 30, "Environment": {"Variables": {"NEW": "2"}}}, TODAY)
    assert updated["Timeout"] == 30
    assert updated["MemorySize"] == 256
    assert updated["Environment"] == {"Variables": {"NEW": "2"}}
    assert current["Timeout"] == 3


def test_invalid_update_leaves_current_untouched() -> None:
    current = normalise_create(body(), TODAY)
    snapshot = dict(current)
    with pytest.raises(ValidationFailed):
        merge_update(current, {"Timeout": 30, "MemorySize": 10241}, TODAY)
    assert current == snapshot


def test_update_of_logging_level_keeps_the_log_group() -> None:
    current = normalise_create(body(LoggingConfig={"LogFormat": "JSON"}), TODAY)
    updated = merge_update(current, {"LoggingConfig": {"ApplicationLogLevel": "DEBUG"}}, TODAY)
    assert updated["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
    assert updated["LoggingConfig"]["LogGroup"] == "/aws/lambda/fn"


def test_update_with_empty_dead_letter_target_removes_it() -> None:
    current = normalise_create(
        body(DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:q"}), TODAY
    )
    assert "DeadLetterConfig" not in merge_update(current, {"DeadLetterConfig": {}}, TODAY)
