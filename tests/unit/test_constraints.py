"""Requests checked against botocore's Lambda model, in AWS's words (specs/constraints.py)."""

from __future__ import annotations

from typing import Any

import pytest

from flare.api.request_check import SERVICE_CHECKED
from flare.errors import FlareError, InvalidRequestContent, ValidationFailed
from flare.specs import constraints
from flare.specs.models import rest_operations, service_model

ROLE = "arn:aws:iam::000000000000:role/flare"
FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)


def refusal(operation: str, params: dict[str, Any]) -> FlareError | None:
    """What AWS's front end answers to ``operation`` with ``params``, or None when it passes."""
    shape = rest_operations("lambda")[operation].input_shape
    assert shape is not None
    try:
        constraints.check(shape, params, SERVICE_CHECKED.get(operation, ()))
    except FlareError as error:
        return error
    return None


def create(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "FunctionName": "fn",
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def test_a_bad_function_name_is_the_validation_exception_aws_sends() -> None:
    error = refusal("GetFunction", {"FunctionName": "my-function!"})
    assert isinstance(error, ValidationFailed)
    assert (error.aws_name, error.status) == ("ValidationException", 400)
    assert error.message == (
        "1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
    )


def test_every_violation_is_listed_with_their_count() -> None:
    error = refusal("CreateFunction", create(Role=None, Handler="has space", MemorySize=64))
    assert isinstance(error, ValidationFailed)
    assert error.message == (
        "3 validation errors detected: "
        "Value null at 'role' failed to satisfy constraint: Member must not be null; "
        "Value 'has space' at 'handler' failed to satisfy constraint: Member must satisfy regular "
        r"expression pattern: [^\s]+; "
        "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or "
        "equal to 128"
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"MemorySize": 64},
            "Value '64' at 'memorySize' failed to satisfy constraint: Member must have value",
        ),
        ({"Timeout": 0}, "Value '0' at 'timeout' failed to satisfy constraint"),
        ({"EphemeralStorage": {"Size": 511}}, "Value '511' at 'ephemeralStorage.size'"),
        (
            {"Architectures": ["sparc"]},
            "Value '[null]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: "
            "[Member must satisfy enum value set: [x86_64, arm64], Member must not be null]",
        ),
        (
            {"Architectures": ["x86_64", "arm64"]},
            "Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must "
            "have length "
            "less than or equal to 1",
        ),
        ({"Handler": "h" * 129}, "at 'handler' failed to satisfy constraint: Member must have length less"),
        ({"Role": "someone"}, "Value 'someone' at 'role' failed to satisfy constraint: Member must satisfy"),
        ({"Role": "arn:aws:iam::123:role/x"}, "at 'role' failed to satisfy constraint"),
        (
            {"FunctionName": None},
            "Value null at 'functionName' failed to satisfy constraint: Member must not",
        ),
        ({"FunctionName": "bad name"}, "Value 'bad name' at 'functionName'"),
        ({"Code": None}, "Value null at 'code' failed to satisfy constraint: Member must not be null"),
        (
            {"Description": "d" * 257},
            "at 'description' failed to satisfy constraint: Member must have length",
        ),
        (
            {"TracingConfig": {"Mode": "Loud"}},
            "Value 'Loud' at 'tracingConfig.mode' failed to satisfy constraint: Member must satisfy "
            "enum value "
            "set: [Active, PassThrough]",
        ),
        ({"SnapStart": {"ApplyOn": "Always"}}, "at 'snapStart.applyOn'"),
        ({"LoggingConfig": {"LogFormat": "XML"}}, "Value 'XML' at 'loggingConfig.logFormat'"),
        (
            {"Environment": {"Variables": {"1ABC": "x"}}},
            "Value '{1ABC=x}' at 'environment.variables' failed to satisfy constraint: Map keys must satisfy "
            "constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
        ),
        ({"Environment": {"Variables": {"A": "x"}}}, "Map keys must satisfy constraint"),
        ({"PackageType": "Jar"}, "Value 'Jar' at 'packageType'"),
    ],
)
def test_create_function_fields_outside_the_model_are_validation_exceptions(
    fields: dict[str, Any], expected: str
) -> None:
    error = refusal("CreateFunction", create(**fields))
    assert isinstance(error, ValidationFailed)
    assert error.message.startswith("1 validation error detected: ")
    assert expected in error.message


@pytest.mark.parametrize(
    ("fields", "member"),
    [
        ({"MemorySize": "big"}, "'memorySize'"),
        ({"MemorySize": True}, "'memorySize'"),
        ({"Environment": {"Variables": {"AB": 1}}}, "'environment.variables.AB'"),
        ({"Architectures": "x86_64"}, "'architectures'"),
        ({"TracingConfig": "Active"}, "'tracingConfig'"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_unparseable_content(fields: dict[str, Any], member: str) -> None:
    error = refusal("CreateFunction", create(**fields))
    assert isinstance(error, InvalidRequestContent)
    assert error.message.startswith("Could not parse request body into json: ")
    assert member in error.message


@pytest.mark.parametrize("runtime", ["cobol9", "python2.7", "nodejs20.x"])
def test_runtime_values_are_left_to_lambda_itself(runtime: str) -> None:
    assert refusal("CreateFunction", create(Runtime=runtime)) is None
    assert refusal("UpdateFunctionConfiguration", {"FunctionName": "fn", "Runtime": runtime}) is None


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        (
            "PutFunctionConcurrency",
            {"FunctionName": "fn", "ReservedConcurrentExecutions": -1},
            "Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must "
            "have value "
            "greater than or equal to 0",
        ),
        (
            "PutFunctionConcurrency",
            {"FunctionName": "fn"},
            "Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must "
            "not be null",
        ),
        (
            "PutProvisionedConcurrencyConfig",
            {"FunctionName": "fn", "Qualifier": "1", "ProvisionedConcurrentExecutions": 0},
            "Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint",
        ),
        (
            "PutProvisionedConcurrencyConfig",
            {"FunctionName": "fn", "ProvisionedConcurrentExecutions": 1},
            "Value null at 'qualifier' failed to satisfy constraint: Member must not be null",
        ),
        (
            "CreateAlias",
            {"FunctionName": "fn", "Name": "123", "FunctionVersion": "1"},
            "Value '123' at 'name'",
        ),
        ("CreateAlias", {"FunctionName": "fn", "Name": "a:b", "FunctionVersion": "1"}, "at 'name'"),
        ("CreateAlias", {"FunctionName": "fn", "FunctionVersion": "1"}, "Value null at 'name'"),
        ("CreateAlias", {"FunctionName": "fn", "Name": "live", "FunctionVersion": "v1"}, "'functionVersion'"),
        (
            "CreateAlias",
            {
                "FunctionName": "fn",
                "Name": "live",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.5}},
            },
            "Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy "
            "constraint: Map value "
            "must satisfy constraint: [Member must have value less than or equal to 1.0, Member "
            "must have value "
            "greater than or equal to 0.0, Member must not be null]",
        ),
        (
            "CreateAlias",
            {
                "FunctionName": "fn",
                "Name": "live",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"live": 0.5}},
            },
            "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, "
            "Member must "
            "have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]",
        ),
        (
            "PutFunctionEventInvokeConfig",
            {"FunctionName": "fn", "MaximumRetryAttempts": 3},
            "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have "
            "value less than "
            "or equal to 2",
        ),
        (
            "PutFunctionEventInvokeConfig",
            {"FunctionName": "fn", "MaximumEventAgeInSeconds": 59},
            "at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than",
        ),
        (
            "CreateEventSourceMapping",
            {"FunctionName": "fn", "BatchSize": 0},
            "Value '0' at 'batchSize' failed to satisfy constraint",
        ),
        (
            "CreateEventSourceMapping",
            {"FunctionName": "fn", "MaximumBatchingWindowInSeconds": 301},
            "less than or equal to 300",
        ),
        (
            "CreateEventSourceMapping",
            {"FunctionName": "fn", "ScalingConfig": {"MaximumConcurrency": 1}},
            "Value '1' at 'scalingConfig.maximumConcurrency'",
        ),
        (
            "CreateEventSourceMapping",
            {"FunctionName": "fn", "FunctionResponseTypes": ["X"]},
            "Value '[null]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy "
            "constraint: [Member must satisfy enum value set: [ReportBatchItemFailures], Member "
            "must not be null]",
        ),
        ("CreateEventSourceMapping", {"FunctionName": "fn", "TumblingWindowInSeconds": 901}, "900"),
        ("CreateEventSourceMapping", {"FunctionName": "fn", "MaximumRetryAttempts": -2}, "-1"),
        (
            "CreateEventSourceMapping",
            {"FunctionName": "fn", "ParallelizationFactor": 0},
            "'parallelizationFactor'",
        ),
        ("CreateEventSourceMapping", {"FunctionName": "fn", "StartingPosition": "NOW"}, "'startingPosition'"),
        ("ListFunctions", {"MaxItems": 0}, "Value '0' at 'maxItems'"),
        ("ListFunctions", {"FunctionVersion": "X"}, "Member must satisfy enum value set: [ALL]"),
        ("Invoke", {"FunctionName": "fn", "InvocationType": "Bogus"}, "Value 'Bogus' at 'invocationType'"),
        ("Invoke", {"FunctionName": "fn", "LogType": "tail"}, "Value 'tail' at 'logType'"),
        (
            "Invoke",
            {"FunctionName": "fn", "Qualifier": "bad qualifier"},
            "Value 'bad qualifier' at 'qualifier'",
        ),
    ],
)
def test_other_operations_answer_the_model_constraints(
    operation: str, params: dict[str, Any], expected: str
) -> None:
    error = refusal(operation, params)
    assert isinstance(error, ValidationFailed), error
    assert expected in error.message


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("CreateFunction", create()),
        ("CreateFunction", create(Tags={"team": "a b", "owner:id": "x+y=z@w"})),
        ("GetFunction", {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:fn:live"}),
        ("ListFunctions", {}),
        ("Invoke", {"FunctionName": "fn", "Qualifier": "$LATEST", "InvocationType": "Event"}),
        ("PutFunctionConcurrency", {"FunctionName": "fn", "ReservedConcurrentExecutions": 0}),
    ],
)
def test_requests_within_the_model_pass(operation: str, params: dict[str, Any]) -> None:
    assert refusal(operation, params) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "null"), (True, "true"), ("a", "a"), (5, "5"), (["a", "b"], "[a, b]"), ({"k": 1}, "{k=1}")],
)
def test_values_are_printed_as_aws_prints_them(value: object, shown: str) -> None:
    assert constraints.render(value) == shown


def test_java_unicode_classes_are_read_as_their_python_counterparts() -> None:
    pattern = constraints.compiled(r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)")
    assert pattern.fullmatch("Équipe 42: a/b=c+d@e")
    assert not pattern.fullmatch("semi;colon")


def test_a_structure_inside_a_list_is_named_by_its_position() -> None:
    shape = service_model("logs").operation_model("PutLogEvents").input_shape
    assert shape is not None
    with pytest.raises(ValidationFailed) as caught:
        constraints.check(shape, {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"message": "m"}]})
    assert caught.value.message == (
        "1 validation error detected: Value null at 'logEvents.1.member.timestamp' failed to satisfy "
        "constraint: Member must not be null"
    )


def _model_patterns() -> list[tuple[str, str, str]]:
    found = set()
    for service in ("lambda", "sqs", "kinesis", "logs"):
        model = service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                found.add((service, name, pattern))
    return sorted(found)


@pytest.mark.parametrize(("service", "shape", "pattern"), _model_patterns())
def test_every_model_pattern_compiles(service: str, shape: str, pattern: str) -> None:
    constraints.compiled(pattern)


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"[\w-_]*", "a-b_c", True),  # Logs' ResourceType: '-' after a class is itself in Java
        (r"[\w-_]*", "a b", False),
        (r"[\p{L}\p{N}-]+", "é1-", True),
        (r"\d-\d", "1-2", True),
    ],
)
def test_java_dash_after_a_class_is_a_literal(pattern: str, value: str, matches: bool) -> None:
    assert (constraints.compiled(pattern).fullmatch(value) is not None) is matches
