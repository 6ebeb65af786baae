"""Reserved concurrency, the account pool, the scaling rate and account settings through boto3.

Clients make one attempt (``total_max_attempts: 1``: botocore's ``max_attempts`` counts retries)
so a 429 reaches the test instead of a retry.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, launch, python_function

HELLO = "def handler(event, context):\n    return 'ok'\n"
SLOW = (
    "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 1.5))\n    return 'done'\n"
)
BELOW_MINIMUM = (
    "Specified ReservedConcurrentExecutions for function decreases account's "
    "UnreservedConcurrentExecution below its minimum value of [{}]."
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def invoke_outcome(lam: Any, name: str, payload: Any = None) -> str:
    """``200`` or the throttle's Reason."""
    try:
        response = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode())
    except lam.exceptions.TooManyRequestsException as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error.response["Error"]["Message"] == "Rate Exceeded."
        assert error.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"].isdigit()
        return str(error.response["Reason"])
    response["Payload"].read()
    return str(response["StatusCode"])


def concurrent_outcomes(lam: Any, names: list[str], payload: Any = None) -> list[str]:
    with ThreadPoolExecutor(len(names)) as pool:
        return sorted(pool.map(lambda name: invoke_outcome(lam, name, payload), names))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server whose account runs 3 at once, with a minimum of 1 unreserved."""
    server = launch(tmp_path_factory.mktemp("small"), "--account-concurrency", "3", "--min-unreserved", "1")
    yield server
    server.stop()


def test_reserved_zero_throttles_every_invoke(lam: Any) -> None:
    name = unique("killed")
    create_function(lam, name, python_function(HELLO))
    assert (
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)[
            "ReservedConcurrentExecutions"
        ]
        == 0
    )
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    outcomes = [invoke_outcome(lam, name) for _ in range(3)]
    assert outcomes == ["ReservedFunctionConcurrentInvocationLimitExceeded"] * 3
    lam.delete_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)
    assert invoke_outcome(lam, name) == "200"


def test_reserved_zero_throttle_is_aws_shaped(flare: FlareServer, lam: Any) -> None:
    name = unique("shape")
    create_function(lam, name, python_function(HELLO))
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name, Payload=b"{}")
    error = caught.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    reason = error["Reason"]  # type: ignore[typeddict-item]  # modeled members are not in botocore-stubs
    assert reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert error["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "TooManyRequestsException"


def test_reserved_two_admits_two_of_three_concurrent_invokes(lam: Any) -> None:
    name = unique("capped")
    create_function(lam, name, python_function(SLOW))
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    outcomes = concurrent_outcomes(lam, [name] * 3)
    assert outcomes == ["200", "200", "ReservedFunctionConcurrentInvocationLimitExceeded"]


def test_unreserved_pool_exhausted_throttles_the_fourth(small: FlareServer) -> None:
    lam = small.client()
    first, second = unique("pool-a"), unique("pool-b")
    create_function(lam, first, python_function(SLOW))
    create_function(lam, second, python_function(SLOW))
    outcomes = concurrent_outcomes(lam, [first, second, first, second])
    assert outcomes == ["200", "200", "200", "ConcurrentInvocationLimitExceeded"]


def test_reservation_is_guaranteed_while_the_pool_is_full(small: FlareServer) -> None:
    lam = small.client()
    reserved, shared = unique("guaranteed"), unique("shared")
    create_function(lam, reserved, python_function(SLOW))
    create_function(lam, shared, python_function(SLOW))
    lam.put_function_concurrency(FunctionName=reserved, ReservedConcurrentExecutions=2)
    try:
        outcomes = concurrent_outcomes(lam, [shared, shared, reserved, reserved])
        assert outcomes == ["200", "200", "200", "ConcurrentInvocationLimitExceeded"]
    finally:
        lam.delete_function_concurrency(FunctionName=reserved)


def test_reservation_below_the_minimum_unreserved_fails_with_aws_message(
    lam: Any, small: FlareServer
) -> None:
    name = unique("greedy")
    create_function(lam, name, python_function(HELLO))
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    assert caught.value.response["Error"]["Message"] == BELOW_MINIMUM.format(100)
    assert lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") is None

    tight = small.client()
    create_function(tight, name, python_function(HELLO))
    with pytest.raises(tight.exceptions.InvalidParameterValueException) as caught:
        tight.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    assert caught.value.response["Error"]["Message"] == BELOW_MINIMUM.format(1)
    assert (
        tight.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)[
            "ReservedConcurrentExecutions"
        ]
        == 2
    )
    tight.delete_function(FunctionName=name)


def test_put_get_delete_function_concurrency(lam: Any) -> None:
    name = unique("crud")
    create_function(lam, name, python_function(HELLO))
    response = lam.get_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in response
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    deleted = lam.delete_function_concurrency(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    lam.delete_function_concurrency(FunctionName=name)


def test_concurrency_of_unknown_function_is_not_found(lam: Any) -> None:
    name = unique("ghost")
    calls: tuple[Callable[[], Any], ...] = (
        lambda: lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1),
        lambda: lam.get_function_concurrency(FunctionName=name),
        lambda: lam.delete_function_concurrency(FunctionName=name),
    )
    for call in calls:
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as caught:
            call()
        assert caught.value.response["Error"]["Message"].endswith(f":function:{name}")


def test_account_settings_report_limits_and_usage(tmp_path: Path) -> None:
    server = launch(tmp_path, "--account-concurrency", "50", "--min-unreserved", "10")
    try:
        lam = server.client()
        empty = lam.get_account_settings()
        assert empty["AccountLimit"] == {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": 50,
            "UnreservedConcurrentExecutions": 50,
        }
        assert empty["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}
        sizes = [create_function(lam, name, python_function(HELLO))["CodeSize"] for name in ("one", "two")]
        lam.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=15)
        lam.put_function_concurrency(FunctionName="two", ReservedConcurrentExecutions=25)
        settings = lam.get_account_settings()
        assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 10
        assert settings["AccountUsage"] == {"TotalCodeSize": sum(sizes), "FunctionCount": 2}
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lam.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=16)

        server.restart()
        lam = server.client()
        assert lam.get_function_concurrency(FunctionName="two")["ReservedConcurrentExecutions"] == 25
        assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 10

        lam.delete_function(FunctionName="two")
        assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 35
        create_function(lam, "two", python_function(HELLO))
        assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="two")
    finally:
        server.stop()


def test_scaling_rate_throttles_new_environments_not_warm_ones(tmp_path: Path) -> None:
    server = launch(tmp_path, "--scaling-rate", "1")
    try:
        lam = server.client()
        name = unique("scaling")
        create_function(lam, name, python_function(SLOW))
        outcomes = concurrent_outcomes(lam, [name] * 2, {"sleep": 1.0})
        assert outcomes == ["200", "FunctionInvocationRateLimitExceeded"]
        assert invoke_outcome(lam, name, {"sleep": 0}) == "200"  # the warm environment needs no token
    finally:
        server.stop()
