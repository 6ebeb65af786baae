"""Every operation of the Lambda model, called through boto3: each answer, and each error
answer, conforms to the model (the suite's client checks them as they arrive), and the errors
are the ones AWS answers for the situation."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from botocore import xform_name
from botocore.eventstream import EventStream
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from flare.api.coverage import REFUSALS
from flare.specs.models import service_model
from tests.conformance.account import ACCOUNT, REGION
from tests.conformance.answered import require
from tests.conformance.checked_client import Recorder
from tests.conformance.operation_tour import CODE, ROLE, TOUR, Resources
from tests.conftest import FlareServer

MODEL = service_model("lambda")


@pytest.fixture(scope="module")
def resources(flare: FlareServer, lam: Any) -> Resources:
    return Resources(lam, flare.client("sqs"))


def test_the_tour_calls_every_operation_of_the_model() -> None:
    assert sorted(set(MODEL.operation_names) - set(TOUR)) == [], "operations the tour does not call"
    assert sorted(set(TOUR) - set(MODEL.operation_names)) == [], "calls of operations the model does not have"


def test_the_tour_expects_a_refusal_exactly_where_flare_refuses_on_purpose() -> None:
    refused = {operation for operation, state in REFUSALS.items() if not state.startswith("lists none")}
    assert {operation for operation, call in TOUR.items() if call.refused} == refused


def call(lam: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``operation``'s parsed answer, its streamed members read."""
    answer: dict[str, Any] = getattr(lam, xform_name(operation))(**params)
    for name, value in answer.items():
        if isinstance(value, StreamingBody):
            answer[name] = value.read()
        elif isinstance(value, EventStream):
            answer[name] = list(value)
    return answer


def marked(operation: str) -> Any:
    bug = TOUR[operation].bug
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(operation, marks=marks, id=operation)


@pytest.mark.parametrize("operation", [marked(operation) for operation in sorted(TOUR)])
def test_the_answer_of_every_operation_conforms_to_the_model(
    operation: str, resources: Resources, lam: Any, recorder: Recorder
) -> None:
    tour = TOUR[operation]
    require(operation, *tour.needs)
    tour.prepare(resources)
    params = tour.params(resources)
    if tour.refused:
        with pytest.raises(ClientError) as refused:
            call(lam, operation, params)
        assert refused.value.response["Error"]["Code"] == tour.refused
    else:
        status = call(lam, operation, params)["ResponseMetadata"]["HTTPStatusCode"]
        assert 200 <= status < 300
    assert recorder.exchanges[-1].operation == operation and recorder.exchanges[-1].answer is not None


def _names_function_in_uri(operation: str) -> bool:
    """Whether ``operation``'s input has a FunctionName, and in the URI."""
    shape = MODEL.operation_model(operation).input_shape
    member = shape.members.get("FunctionName") if shape is not None else None
    return member is not None and member.serialization.get("location") == "uri"


FUNCTION_OPERATIONS = sorted(
    name for name in MODEL.operation_names if _names_function_in_uri(name) and name not in REFUSALS
)


@pytest.mark.parametrize("operation", FUNCTION_OPERATIONS)
def test_a_function_that_does_not_exist_is_answered_resource_not_found(
    operation: str, resources: Resources, lam: Any
) -> None:
    tour = TOUR[operation]
    require(operation, *tour.needs)
    params = {**tour.params(resources), "FunctionName": "no-such-function"}
    with pytest.raises(ClientError) as missing:
        call(lam, operation, params)
    error = missing.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ResourceNotFoundException",
        404,
    )


def checked_since(recorder: Recorder, start: int) -> list[str]:
    """The operations whose answers the checker passed since exchange ``start``, in order, a run
    of the same one (polling until Active) counted once."""
    answered = [exchange.operation for exchange in recorder.exchanges[start:] if exchange.answer is not None]
    return [operation for operation, _ in itertools.groupby(answered)]


def stale_revision(resources: Resources) -> str:
    """A revision id the tour's function (made if need be) does not have."""
    return "00000000-0000-0000-0000-000000000000" if resources.arn else ""


def throttled(resources: Resources) -> str:
    name = resources.function("throttled")
    resources.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    return name


ARN_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT}"
SIX_MB = b'"' + b"x" * (6 * 1024 * 1024) + b'"'
ERRORS: list[tuple[str, str, Callable[[Resources], dict[str, Any]], str]] = [
    ("an invalid name", "GetFunction", lambda r: {"FunctionName": "not a name!"}, "ValidationException"),
    (
        "a name in use",
        "CreateFunction",
        lambda r: (
            {
                "FunctionName": r.name,
                "Runtime": "python3.12",
                "Role": ROLE,
                "Handler": "app.handler",
                "Code": {"ZipFile": CODE},
            }
            if r.arn
            else {}
        ),
        "ResourceConflictException",
    ),
    (
        "a runtime past its deprecation",
        "CreateFunction",
        lambda r: {
            "FunctionName": "old",
            "Runtime": "python2.7",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": CODE},
        },
        "InvalidParameterValueException",
    ),
    (
        "a stale revision",
        "UpdateFunctionConfiguration",
        lambda r: {"FunctionName": r.name, "Timeout": 9, "RevisionId": stale_revision(r)},
        "PreconditionFailedException",
    ),
    (
        "a digest that is not $LATEST's",
        "PublishVersion",
        lambda r: {"FunctionName": r.name, "CodeSha256": "abc"} if r.arn else {},
        "InvalidParameterValueException",
    ),
    (
        "a missing version",
        "CreateAlias",
        lambda r: {"FunctionName": r.name, "Name": "NOWHERE", "FunctionVersion": "99"} if r.arn else {},
        "ResourceNotFoundException",
    ),
    (
        "a missing alias",
        "GetAlias",
        lambda r: {"FunctionName": r.name, "Name": "NOPE"} if r.arn else {},
        "ResourceNotFoundException",
    ),
    (
        "no provisioned concurrency",
        "GetProvisionedConcurrencyConfig",
        lambda r: {"FunctionName": r.name, "Qualifier": "1"} if r.arn else {},
        "ProvisionedConcurrencyConfigNotFoundException",
    ),
    (
        "too much reserved concurrency",
        "PutFunctionConcurrency",
        lambda r: {"FunctionName": r.name, "ReservedConcurrentExecutions": 5000} if r.arn else {},
        "InvalidParameterValueException",
    ),
    (
        "no policy",
        "GetPolicy",
        lambda r: {"FunctionName": r.function("unshared")},
        "ResourceNotFoundException",
    ),
    (
        "a missing mapping",
        "GetEventSourceMapping",
        lambda r: {"UUID": "00000000-0000-0000-0000-000000000000"},
        "ResourceNotFoundException",
    ),
    (
        "a missing code signing config",
        "GetCodeSigningConfig",
        lambda r: {"CodeSigningConfigArn": f"{ARN_PREFIX}:code-signing-config:csc-0123456789abcdef0"},
        "ResourceNotFoundException",
    ),
    (
        "a throttle",
        "Invoke",
        lambda r: {"FunctionName": throttled(r), "Payload": b"{}"},
        "TooManyRequestsException",
    ),
    (
        "a payload over 6 MB",
        "Invoke",
        lambda r: {"FunctionName": r.name, "Payload": SIX_MB} if r.arn else {},
        "RequestTooLargeException",
    ),
]


@pytest.mark.parametrize(("situation", "operation", "params", "code"), ERRORS, ids=[row[0] for row in ERRORS])
def test_an_error_is_answered_as_aws_answers_it(
    situation: str,
    operation: str,
    params: Callable[[Resources], dict[str, Any]],
    code: str,
    resources: Resources,
    lam: Any,
    recorder: Recorder,
) -> None:
    require(operation)
    with pytest.raises(ClientError) as refused:
        call(lam, operation, params(resources))
    assert refused.value.response["Error"]["Code"] == code
    answer = recorder.exchanges[-1].answer
    assert answer is not None and answer.header("x-amzn-ErrorType") is not None


INVOKES: list[tuple[str, dict[str, Any], int, dict[str, str]]] = [
    ("synchronous", {}, 200, {"ExecutedVersion": "$LATEST"}),
    ("with its log", {"LogType": "Tail"}, 200, {"ExecutedVersion": "$LATEST"}),
    ("of a version", {"Qualifier": "1"}, 200, {"ExecutedVersion": "1"}),
    ("of an alias", {"Qualifier": "LIVE"}, 200, {"ExecutedVersion": "1"}),
    ("failing", {"Payload": b'{"fail": true}'}, 200, {"FunctionError": "Unhandled"}),
    ("asynchronous", {"InvocationType": "Event"}, 202, {}),
    ("dry run", {"InvocationType": "DryRun"}, 204, {}),
]


@pytest.mark.parametrize(("mode", "params", "status", "headers"), INVOKES, ids=[row[0] for row in INVOKES])
def test_every_kind_of_invoke_is_answered_as_the_model_says(
    mode: str, params: dict[str, Any], status: int, headers: dict[str, str], resources: Resources, lam: Any
) -> None:
    require("Invoke")
    answer = call(
        lam, "Invoke", {"FunctionName": resources.name, "Payload": b"{}", **params} if resources.arn else {}
    )
    assert (answer["StatusCode"], answer["ResponseMetadata"]["HTTPStatusCode"]) == (status, status)
    assert {name: answer.get(name) for name in headers} == headers
    if params.get("LogType") == "Tail":
        assert "REPORT RequestId" in base64.b64decode(answer["LogResult"]).decode()


def test_a_function_configured_in_every_way_flare_runs_is_answered_in_the_models_shapes(
    resources: Resources, lam: Any, recorder: Recorder
) -> None:
    """Every optional part of FunctionConfiguration Flare answers goes through the checker."""
    start = len(recorder.exchanges)
    dead_letters = resources.queue("tour-dead-letters")
    name = "tour-rich"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": CODE},
        Description="every setting",
        Timeout=30,
        MemorySize=512,
        Architectures=["x86_64"],
        Environment={"Variables": {"STAGE": "tour"}},
        TracingConfig={"Mode": "Active"},
        DeadLetterConfig={"TargetArn": dead_letters},
        EphemeralStorage={"Size": 1024},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"},
        SnapStart={"ApplyOn": "PublishedVersions"},
        Tags={"team": "tour"},
    )
    resources.active(name)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    lam.get_function(FunctionName=name)
    lam.publish_version(FunctionName=name)
    lam.get_function(FunctionName=name, Qualifier="1")
    lam.list_functions(MaxItems=1)
    lam.list_versions_by_function(FunctionName=name, MaxItems=1)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {}})
    assert checked_since(recorder, start) == [
        "CreateFunction", "GetFunctionConfiguration", "PutFunctionConcurrency", "GetFunction",
        "PublishVersion", "GetFunction", "ListFunctions", "ListVersionsByFunction",
        "UpdateFunctionConfiguration",
    ]  # fmt: skip


@pytest.mark.xfail(
    strict=True,
    reason=(
        "GetFunctionCodeSigningConfig of a function without a code signing config answers {}; the model's "
        "GetFunctionCodeSigningConfigResponse requires CodeSigningConfigArn and FunctionName "
        "(so does AWS's reference)"
    ),
)
def test_the_code_signing_config_of_a_function_without_one_has_the_models_members(
    resources: Resources, lam: Any
) -> None:
    require("GetFunctionCodeSigningConfig")
    lam.get_function_code_signing_config(FunctionName=resources.function("unsigned"))


def test_a_tenant_isolated_function_is_answered_in_the_models_shapes(
    resources: Resources, lam: Any, recorder: Recorder
) -> None:
    start = len(recorder.exchanges)
    name = "tour-tenanted"
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": CODE},
        TenancyConfig={"TenantIsolationMode": "PER_TENANT"},
    )  # fmt: skip
    resources.active(name)
    answer = call(lam, "Invoke", {"FunctionName": name, "Payload": b'{"a": 1}', "TenantId": "tenant-1"})
    assert answer["Payload"] == b'{"a": 1}'
    lam.get_function(FunctionName=name)
    lam.publish_version(FunctionName=name)
    lam.list_versions_by_function(FunctionName=name)
    assert checked_since(recorder, start) == [
        "CreateFunction", "GetFunctionConfiguration", "Invoke", "GetFunction", "PublishVersion",
        "ListVersionsByFunction",
    ]  # fmt: skip
