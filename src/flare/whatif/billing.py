"""What Lambda would charge, at AWS's published us-east-1 prices (first tier).

Source: https://aws.amazon.com/lambda/pricing/ (read 2026-12-05): requests $0.20 per million;
duration $0.0000166667 per GB-s on x86_64 and $0.0000133334 on arm64; provisioned concurrency
$0.0000041667 per GB-s configured on x86_64 and $0.0000033334 on arm64, and the duration of
invocations it serves $0.0000097222 (x86_64) and $0.0000077778 (arm64) per GB-s. Free tier,
volume tiers, ephemeral storage above 512 MB and data transfer are not counted. On-demand INIT is
billed as duration (since August 2025), as is a SnapStart restore here.
"""

from __future__ import annotations

REQUEST_USD = 0.20 / 1_000_000
# architecture => USD per GB-s: on-demand duration, provisioned configured, provisioned duration
RATES = {
    "x86_64": (0.0000166667, 0.0000041667, 0.0000097222),
    "arm64": (0.0000133334, 0.0000033334, 0.0000077778),
}


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
    on_demand, configured, on_provisioned = RATES.get(architecture, RATES["x86_64"])
    gb = memory_mb / 1024
    seconds = (billed_ms + init_ms) / 1000
    return (
        requests * REQUEST_USD
        + gb * seconds * on_demand
        + gb * provisioned_billed_ms / 1000 * on_provisioned
        + provisioned_gb_s * configured
    )
