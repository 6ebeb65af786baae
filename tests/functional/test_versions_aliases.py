"""Versions and aliases through boto3 against a real ``flare serve``: publishing, qualified
invokes, weighted routing, the 409 on deleting a referenced version, alias errors, restarts."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, launch, python_function
from tests.signing import signed_urlopen

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
WHO = """
import atexit, os
ENVIRONMENT = os.urandom(8).hex()
atexit.register(lambda: print("shutdown", CODE, flush=True))
def handler(event, context):
    return {
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "environment": ENVIRONMENT,
        "stage": os.environ.get("STAGE"),
        "code": CODE,
    }
CODE = %r
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def source(tag: str) -> bytes:
    return python_function(WHO % tag)


def invoke(lam: Any, name: str | None = None, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if name is not None:
        kwargs["FunctionName"] = name
    response = lam.invoke(Payload=b"{}", **kwargs)
    return response, json.loads(response["Payload"].read())


def error_of(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def two_versions(lam: Any, prefix: str) -> str:
    """A function with version 1 (code "one") and version 2 (code "two"); $LATEST is version 2."""
    name = unique(prefix)
    create_function(lam, name, source("one"), Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=source("two"), Publish=True)
    return name


def test_publish_version_is_201_with_qualified_arn_and_repeat_returns_it(lam: Any) -> None:
    name = unique("pub")
    create_function(lam, name, source("one"))
    first = lam.publish_version(FunctionName=name, Description="first")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (first["Version"], first["FunctionArn"]) == ("1", f"{ACCOUNT_ARN}{name}:1")
    assert first["Description"] == "first"
    again = lam.publish_version(FunctionName=name)
    assert (again["Version"], again["RevisionId"]) == ("1", first["RevisionId"])
    lam.update_function_configuration(FunctionName=name, Timeout=10)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"


def test_version_numbers_are_never_reused_after_a_delete(lam: Any) -> None:
    name = two_versions(lam, "reuse")
    lam.delete_function(FunctionName=name, Qualifier="2")
    lam.update_function_code(FunctionName=name, ZipFile=source("three"))
    assert lam.publish_version(FunctionName=name)["Version"] == "3"
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [config["Version"] for config in versions] == ["$LATEST", "1", "3"]


def test_publish_version_preconditions(lam: Any) -> None:
    name = unique("pre")
    created = create_function(lam, name, source("one"))
    code, status, message = error_of(lambda: lam.publish_version(FunctionName=name, CodeSha256="bogus"))
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("CodeSHA256 (bogus) is different from current CodeSHA256 in $LATEST")
    code, status, _ = error_of(lambda: lam.publish_version(FunctionName=name, RevisionId="stale"))
    assert (code, status) == ("PreconditionFailedException", 412)
    published = lam.publish_version(
        FunctionName=name, CodeSha256=created["CodeSha256"], RevisionId=created["RevisionId"]
    )
    assert published["Version"] == "1"


def test_list_versions_pages_latest_first_and_list_functions_all_includes_them(lam: Any) -> None:
    name = unique("list")
    create_function(lam, name, source("0"))
    for index in range(1, 4):
        lam.update_function_code(FunctionName=name, ZipFile=source(str(index)), Publish=True)
    pages = lam.get_paginator("list_versions_by_function").paginate(
        FunctionName=name, PaginationConfig={"PageSize": 2}
    )
    seen = [[config["Version"] for config in page["Versions"]] for page in pages]
    assert seen == [["$LATEST", "1"], ["2", "3"]]
    every = [
        config
        for page in lam.get_paginator("list_functions").paginate(FunctionVersion="ALL")
        for config in page["Functions"]
        if config["FunctionName"] == name
    ]
    assert [config["Version"] for config in every] == ["$LATEST", "1", "2", "3"]


def test_invoke_by_version_alias_and_arn_runs_that_version(lam: Any) -> None:
    name = two_versions(lam, "qual")
    arn = f"{ACCOUNT_ARN}{name}"
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    cases = [
        ({"FunctionName": f"{name}:1"}, "1", "one", f"{arn}:1"),
        ({"FunctionName": name, "Qualifier": "1"}, "1", "one", f"{arn}:1"),
        ({"FunctionName": name, "Qualifier": "live"}, "1", "one", f"{arn}:live"),
        ({"FunctionName": f"{arn}:live"}, "1", "one", f"{arn}:live"),
        ({"FunctionName": f"000000000000:function:{name}:2"}, "2", "two", f"{arn}:2"),
        ({"FunctionName": name}, "$LATEST", "two", arn),
    ]
    for kwargs, version, tag, invoked_arn in cases:
        response, body = invoke(lam, **kwargs)
        assert response["ExecutedVersion"] == version, kwargs
        assert (body["version"], body["code"], body["arn"]) == (version, tag, invoked_arn), kwargs


def test_weighted_alias_runs_both_versions_and_weight_zero_only_the_primary(lam: Any) -> None:
    name = two_versions(lam, "weight")
    lam.create_alias(
        FunctionName=name,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    lam.create_alias(
        FunctionName=name,
        Name="steady",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.0}},
    )
    executed = Counter(invoke(lam, name, Qualifier="canary")[0]["ExecutedVersion"] for _ in range(200))
    assert set(executed) == {"1", "2"}
    assert 50 <= executed["2"] <= 150, executed
    for _ in range(30):
        response, body = invoke(lam, name, Qualifier="steady")
        assert (response["ExecutedVersion"], body["version"], body["code"]) == ("1", "1", "one")


def test_get_function_through_an_alias_shows_its_version(lam: Any) -> None:
    name = two_versions(lam, "getq")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    config = lam.get_function_configuration(FunctionName=name, Qualifier="live")
    assert (config["Version"], config["FunctionArn"]) == ("2", f"{ACCOUNT_ARN}{name}:live")
    assert lam.get_function(FunctionName=f"{name}:1")["Configuration"]["Version"] == "1"


def test_published_versions_are_immutable_and_keep_their_environments(lam: Any) -> None:
    name = unique("immut")
    create_function(lam, name, source("one"), Environment={"Variables": {"STAGE": "old"}}, Publish=True)
    _, warm = invoke(lam, name, Qualifier="1")
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"STAGE": "new"}})
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["Environment"] == {
        "Variables": {"STAGE": "old"}
    }
    _, again = invoke(lam, name, Qualifier="1")
    assert (again["stage"], again["environment"]) == ("old", warm["environment"])
    assert invoke(lam, name)[1]["stage"] == "new"


def test_deleting_a_referenced_version_is_409_and_deleting_a_version_stops_its_environment(
    lam: Any, flare: FlareServer
) -> None:
    name = two_versions(lam, "del")
    lam.create_alias(
        FunctionName=name,
        Name="canary",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}},
    )
    assert error_of(lambda: lam.delete_function(FunctionName=name, Qualifier="1")) == (
        "ResourceConflictException",
        409,
        "Unable to delete version because the following aliases reference it: [canary]",
    )
    code, status, _ = error_of(lambda: lam.delete_function(FunctionName=name, Qualifier="$LATEST"))
    assert (code, status) == ("InvalidParameterValueException", 400)
    lam.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {}})
    invoke(lam, name, Qualifier="1")
    invoke(lam, name, Qualifier="canary")
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert error_of(lambda: invoke(lam, name, Qualifier="1"))[:2] == ("ResourceNotFoundException", 404)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "shutdown one" not in log_messages(flare, name):
        time.sleep(0.05)
    assert "shutdown one" in log_messages(flare, name)
    assert "shutdown two" not in log_messages(flare, name)
    assert invoke(lam, name, Qualifier="canary")[0]["ExecutedVersion"] == "2"


def log_messages(flare: FlareServer, name: str) -> list[str]:
    """The function's log lines, from Flare's own logs route."""
    with signed_urlopen(f"{flare.url}/flare/v1/functions/{name}/logs") as reply:
        return [event["message"].strip() for event in json.load(reply)["events"]]


def test_delete_function_removes_all_versions_and_aliases(lam: Any) -> None:
    name = two_versions(lam, "gone")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.delete_function(FunctionName=name)
    for call in (
        lambda: lam.get_function(FunctionName=name, Qualifier="1"),
        lambda: lam.get_alias(FunctionName=name, Name="live"),
        lambda: lam.invoke(FunctionName=name, Qualifier="live"),
    ):
        assert error_of(call)[:2] == ("ResourceNotFoundException", 404)
    create_function(lam, name, source("again"))
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []
    assert lam.publish_version(FunctionName=name)["Version"] == "1"


def test_alias_lifecycle_through_boto3(lam: Any) -> None:
    name = two_versions(lam, "alias")
    arn = f"{ACCOUNT_ARN}{name}"
    created = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="prod")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (created["AliasArn"], created["FunctionVersion"], created["Description"]) == (
        f"{arn}:live",
        "1",
        "prod",
    )
    fetched = lam.get_alias(FunctionName=name, Name="live")
    assert fetched["RevisionId"] == created["RevisionId"]
    updated = lam.update_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}},
        RevisionId=created["RevisionId"],
    )
    assert updated["FunctionVersion"] == "2"
    assert updated["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    lam.create_alias(FunctionName=name, Name="beta", FunctionVersion="$LATEST")
    listed = lam.list_aliases(FunctionName=name)["Aliases"]
    assert [alias["Name"] for alias in listed] == ["beta", "live"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]] == [
        "live"
    ]
    deleted = lam.delete_alias(FunctionName=name, Name="beta")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [alias["Name"] for alias in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]


def test_alias_errors_have_aws_codes_and_messages(lam: Any) -> None:
    name = two_versions(lam, "aerr")
    arn = f"{ACCOUNT_ARN}{name}"
    revision = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")["RevisionId"]
    lam.update_alias(FunctionName=name, Name="live", Description="moved on")

    def weighted(weights: dict[str, float], primary: str = "1") -> Callable[[], Any]:
        return lambda: lam.create_alias(
            FunctionName=name,
            Name="w",
            FunctionVersion=primary,
            RoutingConfig={"AdditionalVersionWeights": weights},
        )

    cases: list[tuple[Callable[[], Any], str, int, str]] = [
        (
            lambda: lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2"),
            "ResourceConflictException",
            409,
            f"Alias already exists: {arn}:live",
        ),
        (
            lambda: lam.get_alias(FunctionName=name, Name="ghost"),
            "ResourceNotFoundException",
            404,
            f"Cannot find alias arn: {arn}:ghost",
        ),
        (
            lambda: lam.create_alias(FunctionName=name, Name="x", FunctionVersion="9"),
            "ResourceNotFoundException",
            404,
            f"Function not found: {arn}:9",
        ),
        (
            lambda: lam.create_alias(FunctionName=name, Name="123", FunctionVersion="1"),
            "ValidationException",
            400,
            "at 'name' failed to satisfy constraint",
        ),
        (
            lambda: lam.update_alias(
                FunctionName=name, Name="live", FunctionVersion="2", RevisionId=revision
            ),
            "PreconditionFailedException",
            412,
            "The Revision Id provided does not match the latest Revision Id.",
        ),
        (weighted({"2": 0.5}, primary="$LATEST"), "InvalidParameterValueException", 400, "$LATEST is not"),
        (weighted({"1": 0.5}), "InvalidParameterValueException", 400, "already included in routing"),
        (weighted({"2": 0.1, "3": 0.1}), "InvalidParameterValueException", 400, "cannot be greater than 1"),
        (weighted({"2": 1.5}), "ValidationException", 400, "less than or equal to 1.0"),
        (weighted({"7": 0.5}), "ResourceNotFoundException", 404, f"Function not found: {arn}:7"),
    ]
    for call, code, status, message in cases:
        got_code, got_status, got_message = error_of(call)
        assert (got_code, got_status) == (code, status), got_message
        assert message in got_message
    assert error_of(lambda: invoke(lam, name, Qualifier="ghost")) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {arn}:ghost",
    )


def test_versions_and_aliases_survive_a_restart(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        lam = server.client()
        name = two_versions(lam, "durable")
        lam.create_alias(
            FunctionName=name,
            Name="canary",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}},
        )
        before = lam.get_alias(FunctionName=name, Name="canary")
        server.restart()
        lam = server.client()
        after = lam.get_alias(FunctionName=name, Name="canary")
        before.pop("ResponseMetadata")
        after.pop("ResponseMetadata")
        assert after == before
        versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
        assert [config["Version"] for config in versions] == ["$LATEST", "1", "2"]
        assert invoke(lam, name, Qualifier="canary")[0]["ExecutedVersion"] == "2"
        assert invoke(lam, f"{name}:1")[1]["code"] == "one"
        lam.update_function_code(FunctionName=name, ZipFile=source("three"))
        assert lam.publish_version(FunctionName=name)["Version"] == "3"
    finally:
        server.stop()
