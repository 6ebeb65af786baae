"""Provisioned concurrency through boto3: the config API, and environments that are warm, count
against the limits, spill over, shrink, die and come back.

Clients make one attempt (``total_max_attempts: 1``: botocore's ``max_attempts`` counts retries)
so every error reaches the test as it was sent.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, launch, python_function

# Each environment names itself once, at INIT, so answers tell environments apart.
SOURCE = """\
import os, time, uuid
ENV = uuid.uuid4().hex
def handler(event, context):
    if event.get("die"):
        os._exit(1)
    time.sleep(event.get("sleep", 0))
    return {"env": ENV, "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
"""
LAST_MODIFIED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def published(lam: Any, prefix: str = "pc") -> str:
    """A new function with version 1 published."""
    name = unique(prefix)
    create_function(lam, name, python_function(SOURCE))
    lam.publish_version(FunctionName=name)
    return name


def wait_status(lam: Any, name: str, qualifier: str, wanted: str = "READY", timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if config["Status"] == wanted or time.monotonic() > deadline:
            return config
        time.sleep(0.05)


def invoke(lam: Any, name: str, qualifier: str | None = None, **event: Any) -> dict[str, Any]:
    """The handler's answer, plus ``cold``: whether the REPORT line had an Init Duration."""
    extra = {"Qualifier": qualifier} if qualifier else {}
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail", **extra)
    body: dict[str, Any] = json.loads(response["Payload"].read())
    log = base64.b64decode(response["LogResult"]).decode()
    report = [line for line in log.splitlines() if line.startswith("REPORT")]
    assert report, log
    body["cold"] = "Init Duration" in report[-1]
    return body


def parallel(lam: Any, name: str, qualifier: str | None, count: int, sleep: float) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(invoke, lam, name, qualifier, sleep=sleep) for _ in range(count)]
        return [future.result() for future in futures]


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server whose account runs 10 at once, with a minimum of 5 unreserved."""
    server = launch(tmp_path_factory.mktemp("small"), "--account-concurrency", "10", "--min-unreserved", "5")
    yield server
    server.stop()


# -- the config API ---------------------------------------------------------------------------


def test_latest_is_rejected_as_unpublished(lam: Any) -> None:
    name = published(lam)
    code, message, status = error_of(
        lam.put_provisioned_concurrency_config,
        FunctionName=name,
        Qualifier="$LATEST",
        ProvisionedConcurrentExecutions=1,
    )
    assert (code, message, status) == ("InvalidParameterValueException", UNPUBLISHED, 400)


def test_alias_of_latest_is_rejected_as_unpublished(lam: Any) -> None:
    name = published(lam)
    lam.create_alias(FunctionName=name, Name="dev", FunctionVersion="$LATEST")
    code, message, _ = error_of(
        lam.put_provisioned_concurrency_config,
        FunctionName=name,
        Qualifier="dev",
        ProvisionedConcurrentExecutions=1,
    )
    assert (code, message) == ("InvalidParameterValueException", UNPUBLISHED)


def test_missing_version_or_alias_is_not_found(lam: Any) -> None:
    name = published(lam)
    for qualifier in ("7", "nope"):
        code, message, status = error_of(
            lam.put_provisioned_concurrency_config,
            FunctionName=name,
            Qualifier=qualifier,
            ProvisionedConcurrentExecutions=1,
        )
        assert (code, status) == ("ResourceNotFoundException", 404)
        assert message.endswith(f":function:{name}:{qualifier}")


def test_zero_is_an_invalid_value(flare: FlareServer, lam: Any) -> None:
    name = published(lam)
    unchecked = boto3.client(
        "lambda",
        endpoint_url=flare.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )
    code, message, _ = error_of(
        unchecked.put_provisioned_concurrency_config,
        FunctionName=name,
        Qualifier="1",
        ProvisionedConcurrentExecutions=0,
    )
    assert code == "ValidationException"
    assert "at 'provisionedConcurrentExecutions' failed to satisfy constraint" in message


def test_get_without_config_is_provisioned_concurrency_config_not_found(lam: Any) -> None:
    name = published(lam)
    code, message, status = error_of(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="1")
    assert (code, status) == ("ProvisionedConcurrencyConfigNotFoundException", 404)
    assert message == "No Provisioned Concurrency Config found for this function"
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")


def test_put_answers_202_in_progress_then_ready_with_true_counts(lam: Any) -> None:
    name = published(lam)
    answer = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["Status"] == "IN_PROGRESS"
    assert answer["RequestedProvisionedConcurrentExecutions"] == 2
    assert answer["AvailableProvisionedConcurrentExecutions"] < 2
    assert (
        answer["AllocatedProvisionedConcurrentExecutions"]
        == answer["AvailableProvisionedConcurrentExecutions"]
    )
    assert LAST_MODIFIED.fullmatch(answer["LastModified"])
    config = wait_status(lam, name, "1")
    assert config["Status"] == "READY"
    assert config["AvailableProvisionedConcurrentExecutions"] == 2
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2
    assert config["LastModified"] == answer["LastModified"]


def test_list_all_names_each_config_by_qualified_arn(lam: Any) -> None:
    name = published(lam)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"BUMP": "2"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    configs = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    arns = [config["FunctionArn"] for config in configs]
    assert [arn.rsplit(":", 1)[1] for arn in arns] == ["1", "live"]
    assert all(config["RequestedProvisionedConcurrentExecutions"] == 1 for config in configs)


def test_alias_and_the_version_it_points_to_cannot_both_have_a_config(lam: Any) -> None:
    name = published(lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    code, _, status = error_of(
        lam.put_provisioned_concurrency_config,
        FunctionName=name,
        Qualifier="live",
        ProvisionedConcurrentExecutions=1,
    )
    assert (code, status) == ("ResourceConflictException", 409)


def test_deleting_the_version_drops_its_config(lam: Any) -> None:
    name = published(lam)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    wait_status(lam, name, "1")
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []


# -- limits -----------------------------------------------------------------------------------


def test_provisioned_over_all_versions_must_fit_the_reservation(lam: Any) -> None:
    name = published(lam)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    code, message, _ = error_of(
        lam.put_provisioned_concurrency_config,
        FunctionName=name,
        Qualifier="1",
        ProvisionedConcurrentExecutions=3,
    )
    assert code == "InvalidParameterValueException"
    assert "reservedConcurrentExecution" in message
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    code, _, _ = error_of(lam.put_function_concurrency, FunctionName=name, ReservedConcurrentExecutions=1)
    assert code == "InvalidParameterValueException"


def test_provisioned_without_reservation_keeps_the_minimum_unreserved(small: FlareServer) -> None:
    lam = small.client()
    name = published(lam)
    code, message, _ = error_of(
        lam.put_provisioned_concurrency_config,
        FunctionName=name,
        Qualifier="1",
        ProvisionedConcurrentExecutions=6,
    )
    assert code == "InvalidParameterValueException"
    assert message == (
        "Specified ConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [5]."
    )
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    settings = lam.get_account_settings()["AccountLimit"]
    assert settings["UnreservedConcurrentExecutions"] == 8
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 10


def test_idle_provisioned_environment_still_holds_its_share_of_the_reservation(lam: Any) -> None:
    name = published(lam)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    assert wait_status(lam, name, "1")["Status"] == "READY"

    def outcome(_: int) -> str:
        try:
            invoke(lam, name, None, sleep=1.0)  # $LATEST: on demand
        except lam.exceptions.TooManyRequestsException as error:
            return str(error.response["Reason"])
        return "200"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(outcome, range(2)))
    assert outcomes == ["200", "ReservedFunctionConcurrentInvocationLimitExceeded"]


# -- environments -----------------------------------------------------------------------------


def test_invokes_use_warm_provisioned_environments_then_spill_over_with_a_cold_start(lam: Any) -> None:
    name = published(lam)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    assert wait_status(lam, name, "live")["Status"] == "READY"
    first = parallel(lam, name, "live", 2, sleep=0.5)
    assert [answer["cold"] for answer in first] == [False, False]
    assert {answer["init"] for answer in first} == {"provisioned-concurrency"}
    assert len({answer["env"] for answer in first}) == 2
    version = invoke(lam, name, "1")  # the version itself is served by the alias's environments
    assert (version["cold"], version["init"]) == (False, "provisioned-concurrency")
    spill = parallel(lam, name, "live", 3, sleep=0.8)
    assert sorted(answer["cold"] for answer in spill) == [False, False, True]
    assert sorted(str(answer["init"]) for answer in spill) == ["on-demand", *["provisioned-concurrency"] * 2]


def test_reducing_shuts_down_the_surplus_and_deleting_shuts_down_the_rest(lam: Any) -> None:
    name = published(lam)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=3
    )
    wait_status(lam, name, "1")
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    config = wait_status(lam, name, "1")
    assert config["AllocatedProvisionedConcurrentExecutions"] == 1
    assert config["AvailableProvisionedConcurrentExecutions"] == 1
    answers = parallel(lam, name, "1", 2, sleep=0.5)
    assert sorted(answer["cold"] for answer in answers) == [False, True]
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    answer = invoke(lam, name, "1")
    assert answer["init"] == "on-demand"


def test_a_provisioned_environment_that_dies_is_replaced(lam: Any) -> None:
    name = published(lam)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    wait_status(lam, name, "1")
    before = invoke(lam, name, "1")
    response = lam.invoke(FunctionName=name, Qualifier="1", Payload=b'{"die": true}')
    assert response["FunctionError"] == "Unhandled"
    assert wait_status(lam, name, "1")["AvailableProvisionedConcurrentExecutions"] == 1
    after = invoke(lam, name, "1")
    assert after["env"] != before["env"]
    assert (after["cold"], after["init"]) == (False, "provisioned-concurrency")


def test_provisioned_environments_outlive_the_idle_timer_and_a_restart(tmp_path: Path) -> None:
    server = launch(tmp_path, "--idle-timeout", "0.5")
    try:
        lam = server.client()
        name = published(lam)
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
        )
        wait_status(lam, name, "1")
        first = invoke(lam, name, "1")
        time.sleep(1.5)
        second = invoke(lam, name, "1")
        assert (second["env"], second["cold"]) == (first["env"], False)
        server.restart()
        lam = server.client()
        config = wait_status(lam, name, "1")
        assert (config["Status"], config["AvailableProvisionedConcurrentExecutions"]) == ("READY", 1), config
        assert invoke(lam, name, "1")["cold"] is False
    finally:
        server.stop()
