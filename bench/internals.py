"""Micro-bench of two engine internals whose cost once lived in timed unit tests:
``python -m bench.internals``.

* the concurrency ledger: one ``acquire`` and its ``release`` (``placement/ledger.py``), the
  invoke path's own bookkeeping, against a reservation and the unreserved pool in turn, a cold
  start every 100th (budget: well under 50 µs a pair);
* the host's capability probe (``sandbox/capabilities.detect``), which ``flare serve`` and
  ``flare doctor`` run once at start (budget: under 50 ms).

Prints the best of ``ROUNDS`` rounds; nothing is recorded.
"""

from __future__ import annotations

import time

from flare.clock import ManualClock
from flare.placement.ledger import Ledger
from flare.sandbox.capabilities import detect

ROUNDS = 5
PAIRS = 20_000


def ledger_pair_us() -> float:
    """Microseconds per acquire + release, best of ``ROUNDS`` rounds of ``PAIRS``."""
    ledger = Ledger(ManualClock(), account_limit=1000, scaling_rate=1000)
    ledger.set_reserved("r", 500)
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for i in range(PAIRS):
            with ledger.acquire("r" if i % 2 else "u", str(i), cold_start=i % 100 == 0):
                pass
        best = min(best, (time.perf_counter() - started) / PAIRS)
    return best * 1e6


def probe_ms() -> float:
    """Milliseconds the capability probe takes, best of ``ROUNDS``."""
    return min(detect().probe_ms for _ in range(ROUNDS))


def main() -> None:
    print(f"ledger acquire + release: {ledger_pair_us():.2f} µs (best of {ROUNDS} x {PAIRS:,})")
    print(f"capability probe: {probe_ms():.1f} ms (best of {ROUNDS})")


if __name__ == "__main__":
    main()
