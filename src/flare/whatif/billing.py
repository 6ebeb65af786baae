"""What Lambda would charge for a replayed scenario, at the prices of ``observe/pricing.py``
(AWS's published us-east-1 prices, first tier, the one place Flare keeps them): requests,
on-demand duration, provisioned concurrency configured and the duration of the invocations it
serves. Free tier, volume tiers, ephemeral storage above 512 MB and data transfer are not
counted. On-demand INIT is billed as duration (since August 2025), as is a SnapStart restore
here.
"""

from __future__ import annotations

from flare.observe import pricing


def cost_usd(
    memory_mb: int,
    architecture: str,
    billed_ms: float,
    init_ms: float,
    provisioned_gb_s: float,
    requests: int = 0,
    provisioned_billed_ms: float = 0.0,
) -> float:
    """USD for ``requests`` requests of a function of ``memory_mb`` on ``architecture``
    (``x86_64`` or ``arm64``; anything else is priced as x86_64): ``billed_ms`` of on-demand
    duration plus ``init_ms`` of billed INIT (or restore), ``provisioned_billed_ms`` of duration
    served by provisioned environments, and ``provisioned_gb_s`` of provisioned concurrency
    configured (environments times GB times seconds)."""
    price = pricing.prices(architecture)
    return (
        requests * price.request
        + pricing.gb_seconds(memory_mb, billed_ms + init_ms) * price.duration_gb_s
        + pricing.gb_seconds(memory_mb, provisioned_billed_ms) * price.provisioned_duration_gb_s
        + provisioned_gb_s * price.provisioned_gb_s
    )
