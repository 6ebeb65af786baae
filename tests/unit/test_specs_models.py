"""The Lambda operation table built from botocore's model (specs/models.py)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, MultiDict

from flare.errors import InvalidRequestContent, ValidationFailed
from flare.specs.models import rest_operations

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


@pytest.mark.parametrize(
    ("method", "path", "query", "operation", "labels"),
    [
        ("GET", "/2015-03-31/functions/", {}, "ListFunctions", {}),
        ("GET", "/2015-03-31/functions", {"MaxItems": "2"}, "ListFunctions", {}),
        ("GET", "/2015-03-31/functions/fn", {}, "GetFunction", {"FunctionName": "fn"}),
        ("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn",
         {}, "GetFunction", {"FunctionName": ARN}),
        ("POST", "/2015-03-31/functions/fn/invocations", {}, "Invoke", {"FunctionName": "fn"}),
        ("DELETE", "/2015-03-31/functions/fn/aliases/live", {}, "DeleteAlias",
         {"FunctionName": "fn", "Name": "live"}),
        ("GET", "/2019-09-30/functions/fn/provisioned-concurrency", {"List": "ALL"},
         "ListProvisionedConcurrencyConfigs", {"FunctionName": "fn"}),
        ("GET", "/2019-09-30/functions/fn/provisioned-concurrency", {"Qualifier": "1"},
         "GetProvisionedConcurrencyConfig", {"FunctionName": "fn"}),
        ("GET", "/2018-10-31/layers", {"find": "LayerVersion", "Arn": "x"}, "GetLayerVersionByArn", {}),
        ("GET", "/2018-10-31/layers", {}, "ListLayers", {}),
        ("GET", "/2017-03-31/tags/a%2Fb", {}, "ListTags", {"Resource": "a/b"}),
    ],
)  # fmt: skip
def test_a_request_is_recognised_as_its_operation(
    method: str, path: str, query: dict[str, str], operation: str, labels: dict[str, str]
) -> None:
    found = rest_operations("lambda").match(method, path, MultiDict(query))
    assert found is not None
    assert (found[0].name, found[1]) == (operation, labels)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/metrics"),
        ("POST", "/"),
        ("GET", "/flare/v1/schedules"),
        ("PATCH", "/2015-03-31/functions/fn"),
    ],
)
def test_what_is_no_lambda_operation_is_not_matched(method: str, path: str) -> None:
    assert rest_operations("lambda").match(method, path, MultiDict()) is None


def test_input_is_read_from_labels_query_headers_and_body_with_the_models_types() -> None:
    operation = rest_operations("lambda")["UpdateFunctionCode"]
    params = operation.read_input({"FunctionName": "fn"}, MultiDict(), CIMultiDict(), b'{"Publish": true}')
    assert params == {"FunctionName": "fn", "Publish": True}
    listing = rest_operations("lambda")["ListFunctions"]
    assert listing.read_input({}, MultiDict(MaxItems="7"), CIMultiDict(), b"") == {"MaxItems": 7}
    invoke = rest_operations("lambda")["Invoke"]
    headers = CIMultiDict({"x-amz-invocation-type": "Event"})
    assert invoke.reads_raw_body
    assert invoke.read_input({"FunctionName": "fn"}, MultiDict(), headers, None) == {
        "FunctionName": "fn",
        "InvocationType": "Event",
    }


def test_a_body_that_is_no_json_object_is_unparseable() -> None:
    operation = rest_operations("lambda")["CreateFunction"]
    with pytest.raises(InvalidRequestContent, match="Could not parse request body into json"):
        operation.read_input({}, MultiDict(), CIMultiDict(), b"[1, 2]")
    with pytest.raises(InvalidRequestContent):
        operation.read_input({}, MultiDict(), CIMultiDict(), b"{nope")


def test_a_query_number_that_is_no_number_is_refused() -> None:
    listing = rest_operations("lambda")["ListFunctions"]
    with pytest.raises(ValidationFailed, match="at 'maxItems'"):
        listing.read_input({}, MultiDict(MaxItems="many"), CIMultiDict(), b"")


def test_path_labels_take_their_members_types() -> None:
    operation = rest_operations("lambda")["GetLayerVersion"]
    labels = {"LayerName": "shared", "VersionNumber": "3"}
    assert operation.read_input(labels, MultiDict(), CIMultiDict(), b"") == {
        "LayerName": "shared",
        "VersionNumber": 3,
    }
    with pytest.raises(ValidationFailed, match="at 'versionNumber'"):
        operation.read_input(
            {"LayerName": "shared", "VersionNumber": "three"}, MultiDict(), CIMultiDict(), b""
        )
