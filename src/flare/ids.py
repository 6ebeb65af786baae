"""Request ids and X-Ray trace headers, for every path that starts an invocation.

Both come from a fast PRNG: request ids need uniqueness, not secrecy, and ``uuid.uuid4()`` costs
a syscall and several microseconds on the invoke path.
"""

from __future__ import annotations

import random

_random_bits = random.Random().getrandbits


def new_request_id() -> str:
    """A version-4 UUID string."""
    bits = f"{_random_bits(128):032x}"
    variant = "89ab"[int(bits[16], 16) & 3]
    return f"{bits[:8]}-{bits[8:12]}-4{bits[13:16]}-{variant}{bits[17:20]}-{bits[20:]}"


def new_trace_id(now: float) -> str:
    """An X-Ray trace header: ``Root=1-<epoch seconds>-<96 bits>;Parent=<64 bits>;Sampled=0``."""
    return f"Root=1-{int(now):08x}-{_random_bits(96):024x};Parent={_random_bits(64):016x};Sampled=0"
