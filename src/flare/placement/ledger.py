"""Who may run right now: Lambda's concurrency limits, counted by holder.

The account has ``account_limit`` concurrent executions. A function with reserved concurrency R
may run at most R at once (across all its versions) and no other function can take those R: it
is both a guarantee and a cap, and R = 0 throttles every invoke. Every function without a
reservation shares the *unreserved pool*, ``account_limit - sum(reserved)``. On top of that,
each function may start at most ``scaling_rate`` new environments per ``scaling_window_s``
(a token bucket per function, refilling continuously, never holding more than one window's
worth).

The ledger counts holders, not integers::

    holders    function => request ids holding a lease     (len() is the function's concurrency)
    reserved   function => reserved concurrency            (absent: draws on the unreserved pool)
    buckets    function => scaling tokens left, at a time  (absent: a full bucket)

``decide(state, function, now)`` is the pure decision over that state, tested from a table;
``Ledger.acquire`` asks it and then applies the grant. A lease is a context manager that
releases in ``finally``; releasing a lease twice raises ``LeaseReleased``, so a count can never
go negative and a leak shows up as a holder that is still there.

Contract: a ``Ledger`` is used from one thread (the event loop's). ``acquire`` and ``release``
are dict and set operations, microseconds each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import TracebackType

from flare.clock import Clock
from flare.errors import TooManyRequests

RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"
RATE_LIMIT = "FunctionInvocationRateLimitExceeded"

DEFAULT_SCALING_WINDOW_S = 10.0
CONCURRENCY_RETRY_AFTER_S = 1


class LeaseReleased(RuntimeError):
    """A lease was released twice (a bug in its holder: the count would go wrong)."""


@dataclass
class Bucket:
    """Scaling tokens a function had left at ``stamp`` (clock seconds)."""

    tokens: float
    stamp: float


@dataclass
class LedgerState:
    """Everything ``decide`` reads. ``unreserved_in_use`` and ``reserved_total`` are kept equal
    to the sums they name (over ``holders`` of functions without a reservation, and over
    ``reserved``) so that a decision never iterates."""

    account_limit: int
    scaling_rate: int
    scaling_window_s: float = DEFAULT_SCALING_WINDOW_S
    # function => request ids holding a lease
    holders: dict[str, set[str]] = field(default_factory=dict)
    # function => reserved concurrency
    reserved: dict[str, int] = field(default_factory=dict)
    # function => scaling tokens left (absent: full)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    reserved_total: int = 0
    unreserved_in_use: int = 0
    total_in_use: int = 0

    @property
    def unreserved_limit(self) -> int:
        """The pool every function without a reservation shares (never below 0)."""
        return max(0, self.account_limit - self.reserved_total)

    def in_use(self, function: str) -> int:
        return len(self.holders.get(function, ()))


@dataclass(frozen=True)
class Grant:
    """Run it. ``bucket`` is the function's scaling bucket after this grant, if it changed."""

    bucket: Bucket | None = None


@dataclass(frozen=True)
class Throttle:
    """Do not run it: 429 with AWS's ``reason``; try again after ``retry_after_s``."""

    reason: str
    retry_after_s: int = CONCURRENCY_RETRY_AFTER_S


def tokens_at(state: LedgerState, function: str, now: float) -> float:
    """Scaling tokens ``function`` has at ``now``: what was left, refilled continuously at
    ``scaling_rate`` per window, never more than ``scaling_rate``."""
    bucket = state.buckets.get(function)
    if bucket is None:
        return float(state.scaling_rate)
    refill = max(0.0, now - bucket.stamp) * state.scaling_rate / state.scaling_window_s
    return min(float(state.scaling_rate), bucket.tokens + refill)


def decide(state: LedgerState, function: str, now: float, *, cold_start: bool = False) -> Grant | Throttle:
    """May ``function`` start one more invocation at ``now``? Reads ``state``, changes nothing.

    In order: a reserved function at its reservation is throttled with
    ``ReservedFunctionConcurrentInvocationLimitExceeded``; an unreserved function with the
    unreserved pool exhausted, or any function with the whole account in use, with
    ``ConcurrentInvocationLimitExceeded``; an invocation that needs a new environment
    (``cold_start``) while the function's scaling bucket holds less than one token, with
    ``FunctionInvocationRateLimitExceeded``.
    """
    reservation = state.reserved.get(function)
    if reservation is not None:
        if state.in_use(function) >= reservation:
            return Throttle(RESERVED_LIMIT)
    elif state.unreserved_in_use >= state.unreserved_limit:
        return Throttle(ACCOUNT_LIMIT)
    if state.total_in_use >= state.account_limit:
        return Throttle(ACCOUNT_LIMIT)
    if not cold_start:
        return Grant()
    tokens = tokens_at(state, function, now)
    if tokens < 1.0:
        wait_s = (1.0 - tokens) * state.scaling_window_s / state.scaling_rate
        return Throttle(RATE_LIMIT, max(1, math.ceil(wait_s)))
    return Grant(Bucket(tokens - 1.0, now))


class Lease:
    """One invocation's hold on its function's concurrency. Release it exactly once, best with
    ``with``; a second release raises ``LeaseReleased``."""

    __slots__ = ("_ledger", "function", "released", "request_id")

    def __init__(self, ledger: Ledger, function: str, request_id: str) -> None:
        self._ledger = ledger
        self.function = function
        self.request_id = request_id
        self.released = False

    def __repr__(self) -> str:
        state = "released" if self.released else "held"
        return f"<Lease fn={self.function} {self.request_id} {state}>"

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

    def release(self) -> None:
        """Give the concurrency back. Raises ``LeaseReleased`` if it already was."""
        if self.released:
            raise LeaseReleased(f"{self!r} released twice")
        self._ledger._release(self)
        self.released = True


class Ledger:
    """The account's concurrency: limits, holders and scaling buckets (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        account_limit: int,
        scaling_rate: int,
        scaling_window_s: float = DEFAULT_SCALING_WINDOW_S,
    ) -> None:
        if account_limit < 0 or scaling_rate < 1 or scaling_window_s <= 0:
            raise ValueError("account_limit >= 0, scaling_rate >= 1 and scaling_window_s > 0 are required")
        self._clock = clock
        self.state = LedgerState(account_limit, scaling_rate, scaling_window_s)

    def __repr__(self) -> str:
        state = self.state
        parts = []
        for function, holders in sorted(state.holders.items()):
            limit = state.reserved.get(function, state.unreserved_limit)
            parts.append(f"fn={function} {len(holders)}/{limit}")
        parts.append(f"total={state.total_in_use}/{state.account_limit}")
        return f"<Ledger {' '.join(parts)}>"

    def acquire(self, function: str, request_id: str, *, cold_start: bool = False) -> Lease:
        """A lease for ``request_id`` on ``function``'s concurrency; ``cold_start`` says the
        invocation will need a new environment (it spends a scaling token).

        Raises ``TooManyRequests`` (with AWS's Reason and Retry-After) when ``decide`` throttles,
        ``ValueError`` when ``request_id`` already holds a lease on ``function``.
        """
        state = self.state
        holders = state.holders.get(function)
        if holders is not None and request_id in holders:
            raise ValueError(f"{request_id} already holds a lease on {function}")
        decision = decide(state, function, self._clock.now(), cold_start=cold_start)
        if isinstance(decision, Throttle):
            raise TooManyRequests(decision.reason, decision.retry_after_s)
        if decision.bucket is not None:
            state.buckets[function] = decision.bucket
        if holders is None:
            holders = state.holders[function] = set()
        holders.add(request_id)
        state.total_in_use += 1
        if function not in state.reserved:
            state.unreserved_in_use += 1
        return Lease(self, function, request_id)

    def hold(self, function: str, holder: str) -> Lease:
        """A lease for ``holder`` on ``function`` granted without asking ``decide``: for capacity
        the control plane has already checked against the limits (a provisioned environment
        holds one for as long as it exists). Counts like any lease, so while it is held it
        leaves less for on-demand invocations; it may push a count above a limit that live
        on-demand leases already fill (new grants then stop until they drain).

        Raises ``ValueError`` when ``holder`` already holds a lease on ``function``.
        """
        state = self.state
        holders = state.holders.setdefault(function, set())
        if holder in holders:
            raise ValueError(f"{holder} already holds a lease on {function}")
        holders.add(holder)
        state.total_in_use += 1
        if function not in state.reserved:
            state.unreserved_in_use += 1
        return Lease(self, function, holder)

    def _release(self, lease: Lease) -> None:
        state = self.state
        holders = state.holders.get(lease.function)
        if holders is None or lease.request_id not in holders:
            raise LeaseReleased(f"{lease!r} is not held")
        holders.remove(lease.request_id)
        if not holders:
            del state.holders[lease.function]
        state.total_in_use -= 1
        if lease.function not in state.reserved:
            state.unreserved_in_use -= 1

    def set_reserved(self, function: str, reserved: int | None) -> None:
        """Give ``function`` a reservation (None: remove it). Leases already held stay valid and
        move between the function's reservation and the unreserved pool with it; a limit
        lowered below what is in use only stops new grants."""
        if reserved is not None and reserved < 0:
            raise ValueError("reserved concurrency cannot be negative")
        state = self.state
        held = state.in_use(function)
        previous = state.reserved.pop(function, None)
        if previous is None:
            state.unreserved_in_use -= held
        else:
            state.reserved_total -= previous
        if reserved is None:
            state.unreserved_in_use += held
        else:
            state.reserved[function] = reserved
            state.reserved_total += reserved

    def reserved(self, function: str) -> int | None:
        return self.state.reserved.get(function)

    def forget(self, function: str) -> None:
        """``function`` is gone: drop its reservation and scaling bucket. Its held leases stay
        valid until released."""
        self.set_reserved(function, None)
        self.state.buckets.pop(function, None)

    def in_use(self, function: str | None = None) -> int:
        """Leases held on ``function``, or on the whole account."""
        return self.state.total_in_use if function is None else self.state.in_use(function)

    @property
    def unreserved_limit(self) -> int:
        return self.state.unreserved_limit

    @property
    def account_limit(self) -> int:
        return self.state.account_limit
