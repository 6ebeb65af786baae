"""What Lambda would charge, in US dollars: AWS's published prices and the arithmetic of a bill.

Pure: no clock, no I/O, nothing of the engine. ``bill.py`` (the ``/metrics`` cost counters),
``flare tune`` and anything else that prices a run import this one module.

The prices are AWS Lambda's for US East (N. Virginia), ``us-east-1``, as published on
https://aws.amazon.com/lambda/pricing/ (read 2026-12-05), first pricing tier only (on-demand
duration: the first 6 billion GB-seconds a month on x86_64, 7.5 billion on arm64; the lower
tiers past those, the free tier and Savings Plans are left out). Other regions differ.

What is billed (the pricing page, and the AWS Compute Blog post "AWS Lambda standardizes
billing for INIT Phase", 2025-04-29):

- a request, per invocation;
- duration in GB-seconds: the function's memory times its billed duration, the duration
  rounded up to the millisecond. Since 2025-08-01 the INIT phase of an on-demand cold start is
  billed at the same rate for every runtime and package type (it was free for managed runtimes
  packaged as ZIP), which is why REPORT's Billed Duration includes Init Duration
  (``report.billed_ms``). ``Charges`` keeps the two apart (``duration`` and ``init``);
- provisioned concurrency: memory times concurrency for every second it is configured (AWS
  rounds each configured period up to five minutes; ``provisioned_usd`` does not), plus a
  lower duration price for the invocations its environments serve (their INIT is part of the
  provisioned price, not billed apart);
- ephemeral storage above the 512 MB every function has: the extra GB times the billed
  duration.

SnapStart's cache and restore charges are not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flare.observe.report import billed_ms

REGION = "us-east-1"
PRICES_AS_OF = "2026-12-05"
PRICING_PAGE = "https://aws.amazon.com/lambda/pricing/"
FREE_EPHEMERAL_MB = 512
PROVISIONED_BILLING_PERIOD_S = 300
"""AWS rounds each period provisioned concurrency is configured up to this (five minutes)."""
COMPONENTS = ("requests", "duration", "init", "provisioned", "ephemeral_storage")
"""The parts of a bill, as ``/metrics`` labels them (``component=``)."""


@dataclass(frozen=True)
class Prices:
    """One architecture's prices (USD): per request, and per GB-second of each kind."""

    request: float
    duration_gb_s: float
    provisioned_gb_s: float
    """Provisioned concurrency configured, per GB of memory times concurrency, per second."""
    provisioned_duration_gb_s: float
    """Duration of the invocations provisioned environments serve."""
    ephemeral_gb_s: float
    """Ephemeral storage above ``FREE_EPHEMERAL_MB``, per GB, per second of billed duration."""


PRICES = {
    "x86_64": Prices(
        request=0.20 / 1_000_000,
        duration_gb_s=0.0000166667,
        provisioned_gb_s=0.0000041667,
        provisioned_duration_gb_s=0.0000097222,
        ephemeral_gb_s=0.0000000309,
    ),
    "arm64": Prices(
        request=0.20 / 1_000_000,
        duration_gb_s=0.0000133334,
        provisioned_gb_s=0.0000033334,
        provisioned_duration_gb_s=0.0000077778,
        ephemeral_gb_s=0.0000000309,
    ),
}


def prices(architecture: str) -> Prices:
    """The prices of ``architecture`` (``x86_64`` or ``arm64``; anything else is x86_64's)."""
    return PRICES.get(architecture, PRICES["x86_64"])


def gb_seconds(memory_mb: float, milliseconds: float) -> float:
    """GB-seconds of ``memory_mb`` held for ``milliseconds`` (1 GB = 1024 MB, as AWS counts)."""
    return memory_mb / 1024 * milliseconds / 1000


@dataclass(frozen=True)
class Charges:
    """One invocation's charges in USD, by component (see ``COMPONENTS``)."""

    requests: float
    duration: float
    init: float = 0.0
    ephemeral_storage: float = 0.0

    @property
    def total(self) -> float:
        return self.requests + self.duration + self.init + self.ephemeral_storage

    def by_component(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "duration": self.duration,
            "init": self.init,
            "ephemeral_storage": self.ephemeral_storage,
        }


def invocation_charges(
    architecture: str,
    memory_mb: int,
    duration_ms: float,
    init_ms: float | None = None,
    ephemeral_mb: int = FREE_EPHEMERAL_MB,
    provisioned: bool = False,
) -> Charges:
    """What one invocation costs, billed as its REPORT line says: ``duration_ms`` (plus
    ``init_ms`` on an on-demand cold start) rounded up to the millisecond, at least 1 ms. The
    millisecond the rounding adds goes to ``duration``; ``init`` is the rest of the billed
    time. ``provisioned``: served by a provisioned environment (its duration price)."""
    invoke_ms, init_billed_ms = billed_parts(duration_ms, init_ms)
    return summed_charges(architecture, memory_mb, 1, invoke_ms, init_billed_ms, ephemeral_mb, provisioned)


def billed_parts(duration_ms: float, init_ms: float | None = None) -> tuple[int, int]:
    """One invocation's billed milliseconds as ``(invoke, init)`` (see ``invocation_charges``):
    their sum is ``report.billed_ms``; the rounding's millisecond is the invoke part's."""
    billed = billed_ms(duration_ms, init_ms)
    invoke_ms = min(billed, max(1, math.ceil(duration_ms)))
    return invoke_ms, billed - invoke_ms


def summed_charges(
    architecture: str,
    memory_mb: int,
    count: int,
    invoke_ms: int,
    init_ms: int,
    ephemeral_mb: int = FREE_EPHEMERAL_MB,
    provisioned: bool = False,
) -> Charges:
    """What ``count`` invocations cost together, from the sums of their ``billed_parts``
    (every charge is linear in them: the sum of ``invocation_charges``)."""
    price = prices(architecture)
    rate = price.provisioned_duration_gb_s if provisioned else price.duration_gb_s
    extra_storage_mb = max(0, ephemeral_mb - FREE_EPHEMERAL_MB)
    return Charges(
        requests=price.request * count,
        duration=gb_seconds(memory_mb, invoke_ms) * rate,
        init=gb_seconds(memory_mb, init_ms) * rate,
        ephemeral_storage=gb_seconds(extra_storage_mb, invoke_ms + init_ms) * price.ephemeral_gb_s,
    )


def provisioned_usd(architecture: str, memory_mb: int, concurrency: int, seconds: float) -> float:
    """The price of ``concurrency`` provisioned environments of ``memory_mb`` configured for
    ``seconds`` (not rounded up to AWS's five-minute periods)."""
    return gb_seconds(memory_mb * concurrency, seconds * 1000) * prices(architecture).provisioned_gb_s


def provisioned_period_usd(architecture: str, memory_mb: int, concurrency: int, seconds: float) -> float:
    """As AWS bills one period of provisioned concurrency: ``seconds`` rounded up to five minutes."""
    periods = math.ceil(seconds / PROVISIONED_BILLING_PERIOD_S) if seconds > 0 else 0
    return provisioned_usd(architecture, memory_mb, concurrency, periods * PROVISIONED_BILLING_PERIOD_S)
