"""``/metrics`` prices the work as Lambda would bill it (``observe/bill.py``): requests, the
billed duration of each REPORT line (INIT apart), ephemeral storage above 512 MB, provisioned
concurrency for the time it is configured and the invocations it serves, per function and per
account. Through boto3 against ``flare serve``."""

from __future__ import annotations

import base64
import math
import re
import time
from typing import Any

from tests.conftest import FlareServer, create_function, python_function
from tests.functional.test_metrics import metrics, value

ARM_DURATION = 0.0000133334
REQUEST = 0.0000002
EPHEMERAL = 0.0000000309
PROVISIONED = 0.0000041667
PROVISIONED_DURATION = 0.0000097222
SOURCE = "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return 1\n"


def cost(text: str, function: str, component: str) -> float:
    labels = f'account="000000000000",region="us-east-1",function="{function}",component="{component}"'
    return value(text, f"flare_cost_usd_total{{{labels}}}")


def report(lam: Any, name: str, payload: bytes = b"{}", **kwargs: Any) -> dict[str, float]:
    """The figures of one invocation's REPORT line: Duration, Billed Duration, Init Duration
    (0 when warm)."""
    response = lam.invoke(FunctionName=name, Payload=payload, LogType="Tail", **kwargs)
    line = base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
    figures = dict(re.findall(r"(Duration|Billed Duration|Init Duration): ([\d.]+) ms", line))
    return {
        "duration": float(figures["Duration"]),
        "billed": float(figures["Billed Duration"]),
        "init": float(figures.get("Init Duration", 0)),
    }


def test_invocations_are_priced_as_their_report_lines_bill_them(flare: FlareServer, lam: Any) -> None:
    create_function(
        lam,
        "priced",
        python_function(SOURCE),
        MemorySize=2048,
        Architectures=["arm64"],
        EphemeralStorage={"Size": 1536},
    )
    reports = [report(lam, "priced", b'{"sleep": 0.05}') for _ in range(3)]
    assert reports[0]["init"] > 0 and reports[1]["init"] == reports[2]["init"] == 0  # cold, warm, warm
    billed_s = sum(figures["billed"] for figures in reports) / 1000
    init_s = (reports[0]["billed"] - math.ceil(reports[0]["duration"])) / 1000
    text = metrics(flare)
    assert cost(text, "priced", "requests") == round(3 * REQUEST, 10)
    # REPORT prints Duration to two decimals, so the ceiling of the printed figure (init_s's
    # split) can be a millisecond under the engine's ceiling of the true one (50.004 -> 50.00)
    one_ms = 2 * 0.001 * ARM_DURATION
    assert abs(cost(text, "priced", "duration") - 2 * (billed_s - init_s) * ARM_DURATION) <= one_ms + 1e-12
    assert abs(cost(text, "priced", "init") - 2 * init_s * ARM_DURATION) <= one_ms + 1e-12
    total = cost(text, "priced", "duration") + cost(text, "priced", "init")
    assert abs(total - 2 * billed_s * ARM_DURATION) < 1e-9  # the split aside, all of it billed
    assert abs(cost(text, "priced", "ephemeral_storage") - 1 * billed_s * EPHEMERAL) < 1e-10
    account = sum(
        value(text, f'flare_account_cost_usd_total{{account="000000000000",component="{component}"}}')
        for component in ("requests", "duration", "init", "ephemeral_storage")
    )
    priced = sum(cost(text, "priced", c) for c in ("requests", "duration", "init", "ephemeral_storage"))
    assert account >= priced - 1e-9


def test_provisioned_concurrency_is_priced_for_its_configured_time_and_its_invocations(
    flare: FlareServer, lam: Any
) -> None:
    create_function(lam, "kept", python_function(SOURCE), MemorySize=1024)
    version = lam.publish_version(FunctionName="kept")["Version"]
    lam.put_provisioned_concurrency_config(
        FunctionName="kept", Qualifier=version, ProvisionedConcurrentExecutions=2
    )
    configured = time.monotonic()
    while lam.get_provisioned_concurrency_config(FunctionName="kept", Qualifier=version)["Status"] != "READY":
        time.sleep(0.05)
    time.sleep(1.0)
    first = cost(metrics(flare), "kept", "provisioned")
    elapsed = time.monotonic() - configured
    assert 0.8 * elapsed * 2 * PROVISIONED <= first <= 1.2 * elapsed * 2 * PROVISIONED + 1e-9
    figures = report(lam, "kept", Qualifier=version)
    assert figures["init"] == 0  # a provisioned environment served it
    text = metrics(flare)
    assert abs(cost(text, "kept", "duration") - figures["billed"] / 1000 * PROVISIONED_DURATION) < 1e-10
    lam.delete_provisioned_concurrency_config(FunctionName="kept", Qualifier=version)
    stopped = cost(metrics(flare), "kept", "provisioned")
    time.sleep(0.5)
    assert cost(metrics(flare), "kept", "provisioned") == stopped
