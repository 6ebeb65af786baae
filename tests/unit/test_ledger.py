"""The concurrency ledger: ``decide`` from a table, leases by holder, and a hypothesis state
machine that drives random acquire/release/reconfigure/clock sequences against a model."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, rule

from flare.clock import ManualClock
from flare.errors import TooManyRequests
from flare.placement.ledger import (
    ACCOUNT_LIMIT,
    RATE_LIMIT,
    RESERVED_LIMIT,
    Bucket,
    Grant,
    Lease,
    LeaseReleased,
    Ledger,
    LedgerState,
    Throttle,
    decide,
)

NOW = 1_000.0


def state_of(
    holders: dict[str, int],
    reserved: dict[str, int] | None = None,
    account: int = 10,
    rate: int = 1000,
    buckets: dict[str, Bucket] | None = None,
) -> LedgerState:
    """A consistent LedgerState with ``holders[fn]`` leases held on each function."""
    reserved = reserved or {}
    state = LedgerState(account, rate, holders={}, reserved=dict(reserved), buckets=dict(buckets or {}))
    for function, count in holders.items():
        if count:
            state.holders[function] = {f"{function}-{i}" for i in range(count)}
    state.reserved_total = sum(reserved.values())
    state.total_in_use = sum(holders.values())
    state.unreserved_in_use = sum(n for fn, n in holders.items() if fn not in reserved)
    return state


DECISIONS = [
    # (holders, reserved, account, function, expected)
    pytest.param({}, {}, 10, "a", Grant(), id="empty-account-grants"),
    pytest.param({"a": 9}, {}, 10, "a", Grant(), id="last-unreserved-slot-grants"),
    pytest.param({"a": 10}, {}, 10, "a", Throttle(ACCOUNT_LIMIT), id="account-full"),
    pytest.param({"a": 5, "b": 5}, {}, 10, "c", Throttle(ACCOUNT_LIMIT), id="shared-pool-full-for-others"),
    pytest.param({}, {"a": 0}, 10, "a", Throttle(RESERVED_LIMIT), id="reserved-zero-is-kill-switch"),
    pytest.param({"a": 1}, {"a": 2}, 10, "a", Grant(), id="below-reservation-grants"),
    pytest.param({"a": 2}, {"a": 2}, 10, "a", Throttle(RESERVED_LIMIT), id="at-reservation-throttles"),
    pytest.param(
        {"b": 6}, {"a": 4}, 10, "b", Throttle(ACCOUNT_LIMIT), id="unreserved-pool-is-account-minus-reserved"
    ),
    pytest.param({"b": 6}, {"a": 4}, 10, "a", Grant(), id="reservation-is-guaranteed"),
    pytest.param({"a": 3, "b": 6}, {"a": 4}, 10, "a", Grant(), id="reserved-last-slot-grants"),
    pytest.param({}, {"a": 10}, 10, "b", Throttle(ACCOUNT_LIMIT), id="no-unreserved-pool-left"),
    pytest.param(
        {}, {"a": 8, "b": 8}, 10, "c", Throttle(ACCOUNT_LIMIT), id="over-reserved-clamps-pool-to-zero"
    ),
    # a reservation lowered while unreserved leases are still held: the account is full
    pytest.param(
        {"a": 10}, {"b": 3}, 10, "b", Throttle(ACCOUNT_LIMIT), id="account-cap-holds-during-transition"
    ),
]


@pytest.mark.parametrize(("holders", "reserved", "account", "function", "expected"), DECISIONS)
def test_decide_table(
    holders: dict[str, int], reserved: dict[str, int], account: int, function: str, expected: object
) -> None:
    assert decide(state_of(holders, reserved, account), function, NOW) == expected


SCALING = [
    # (bucket of "a" or None, cold_start, expected)
    pytest.param(None, False, Grant(), id="warm-needs-no-token"),
    pytest.param(None, True, Grant(Bucket(9.0, NOW)), id="full-bucket-spends-one"),
    pytest.param(Bucket(0.0, NOW), False, Grant(), id="empty-bucket-still-serves-warm"),
    pytest.param(Bucket(0.0, NOW), True, Throttle(RATE_LIMIT, 1), id="empty-bucket-throttles-cold"),
    pytest.param(Bucket(0.0, NOW - 1.0), True, Grant(Bucket(0.0, NOW)), id="refills-one-per-second"),
    pytest.param(Bucket(0.5, NOW - 0.25), True, Throttle(RATE_LIMIT, 1), id="partial-refill-not-enough"),
    pytest.param(Bucket(3.0, NOW - 3600.0), True, Grant(Bucket(9.0, NOW)), id="refill-caps-at-rate"),
]


@pytest.mark.parametrize(("bucket", "cold_start", "expected"), SCALING)
def test_decide_scaling_rate_table(bucket: Bucket | None, cold_start: bool, expected: object) -> None:
    buckets = {} if bucket is None else {"a": bucket}
    state = state_of({}, rate=10, buckets=buckets)
    assert decide(state, "a", NOW, cold_start=cold_start) == expected


def test_rate_throttle_retry_after_is_time_to_next_token() -> None:
    state = state_of({}, rate=1, buckets={"a": Bucket(0.0, NOW)})
    assert decide(state, "a", NOW, cold_start=True) == Throttle(RATE_LIMIT, 10)


def test_concurrency_throttles_before_the_scaling_rate() -> None:
    state = state_of({"a": 1}, {"a": 1}, rate=1, buckets={"a": Bucket(0.0, NOW)})
    assert decide(state, "a", NOW, cold_start=True) == Throttle(RESERVED_LIMIT)


def test_decide_changes_nothing() -> None:
    state = state_of({"a": 2}, {"a": 5}, rate=10)
    before = repr(state)
    decide(state, "a", NOW, cold_start=True)
    assert repr(state) == before


def test_lease_counts_holder_and_releases_on_exit() -> None:
    ledger = Ledger(ManualClock(), account_limit=10, scaling_rate=10)
    with ledger.acquire("a", "r1") as lease:
        assert ledger.in_use("a") == 1
        assert ledger.state.holders == {"a": {"r1"}}
        assert lease.function == "a"
    assert ledger.in_use() == 0
    assert ledger.state.holders == {}


def test_lease_releases_when_the_block_raises() -> None:
    ledger = Ledger(ManualClock(), account_limit=10, scaling_rate=10)
    with pytest.raises(RuntimeError), ledger.acquire("a", "r1"):
        raise RuntimeError("invoke failed")
    assert ledger.in_use() == 0


def test_double_release_raises() -> None:
    ledger = Ledger(ManualClock(), account_limit=10, scaling_rate=10)
    lease = ledger.acquire("a", "r1")
    lease.release()
    with pytest.raises(LeaseReleased):
        lease.release()
    assert ledger.in_use() == 0


def test_same_request_cannot_hold_two_leases_on_a_function() -> None:
    ledger = Ledger(ManualClock(), account_limit=10, scaling_rate=10)
    ledger.acquire("a", "r1")
    with pytest.raises(ValueError, match="already holds"):
        ledger.acquire("a", "r1")
    assert ledger.in_use("a") == 1


def test_throttle_raises_too_many_requests_with_reason_and_retry_after() -> None:
    ledger = Ledger(ManualClock(), account_limit=10, scaling_rate=10)
    ledger.set_reserved("a", 0)
    with pytest.raises(TooManyRequests) as caught:
        ledger.acquire("a", "r1")
    assert caught.value.reason == RESERVED_LIMIT
    assert caught.value.headers() == {"Retry-After": "1"}
    assert ledger.in_use() == 0


def test_repr_names_holders_and_limits() -> None:
    ledger = Ledger(ManualClock(), account_limit=20, scaling_rate=10)
    ledger.set_reserved("a", 10)
    for i in range(3):
        ledger.acquire("a", f"r{i}")
    ledger.acquire("b", "x")
    assert repr(ledger) == "<Ledger fn=a 3/10 fn=b 1/10 total=4/20>"


def test_reservation_moves_held_leases_between_pools() -> None:
    ledger = Ledger(ManualClock(), account_limit=10, scaling_rate=10)
    leases = [ledger.acquire("a", f"r{i}") for i in range(3)]
    ledger.set_reserved("a", 2)
    assert (ledger.state.unreserved_in_use, ledger.unreserved_limit) == (0, 8)
    with pytest.raises(TooManyRequests):
        ledger.acquire("a", "r9")
    leases[0].release()
    leases[1].release()
    ledger.acquire("a", "r9")
    ledger.set_reserved("a", None)
    assert (ledger.state.unreserved_in_use, ledger.unreserved_limit) == (2, 10)


def test_scaling_rate_refills_with_the_injected_clock() -> None:
    clock = ManualClock()
    ledger = Ledger(clock, account_limit=100, scaling_rate=2)
    ledger.acquire("a", "r1", cold_start=True)
    ledger.acquire("a", "r2", cold_start=True)
    with pytest.raises(TooManyRequests) as caught:
        ledger.acquire("a", "r3", cold_start=True)
    assert caught.value.reason == RATE_LIMIT
    ledger.acquire("b", "r3", cold_start=True)  # each function scales on its own
    ledger.acquire("a", "warm")  # a warm environment needs no token
    clock.advance(5.0)
    ledger.acquire("a", "r4", cold_start=True)


def test_forget_drops_reservation_and_bucket_but_not_held_leases() -> None:
    ledger = Ledger(ManualClock(), account_limit=10, scaling_rate=1)
    ledger.set_reserved("a", 3)
    lease = ledger.acquire("a", "r1", cold_start=True)
    ledger.forget("a")
    assert ledger.reserved("a") is None
    assert ledger.state.buckets == {}
    assert ledger.state.unreserved_in_use == 1
    lease.release()
    assert ledger.in_use() == 0


# -- property: random sequences against a model ---------------------------------------------------

FUNCTIONS = ("a", "b", "c")
ACCOUNT = 6
RATE = 4  # tokens per 10 s; clock steps of 1.25 s refill exactly 0.5 token


class LedgerMachine(RuleBasedStateMachine):
    """Drives a Ledger and an independent model of the rules; every decision must agree, no limit
    is passed by a grant, counts never go negative, and releasing everything leaves nothing."""

    leases = Bundle("leases")
    released = Bundle("released")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.ledger = Ledger(self.clock, ACCOUNT, RATE)
        self.held: dict[str, set[str]] = {fn: set() for fn in FUNCTIONS}
        self.reserved: dict[str, int] = {}
        self.tokens: dict[str, tuple[float, float]] = {}
        self.cold_grants: dict[str, list[float]] = {fn: [] for fn in FUNCTIONS}
        self.next_id = 0

    def model_tokens(self, fn: str) -> float:
        left, stamp = self.tokens.get(fn, (float(RATE), self.clock.now()))
        return min(float(RATE), left + (self.clock.now() - stamp) * RATE / 10.0)

    def expected(self, fn: str, cold: bool) -> str | None:
        """The model's throttle reason for one more invocation of ``fn``, or None to grant."""
        total = sum(len(ids) for ids in self.held.values())
        if fn in self.reserved:
            if len(self.held[fn]) >= self.reserved[fn]:
                return RESERVED_LIMIT
        else:
            pool = max(0, ACCOUNT - sum(self.reserved.values()))
            if sum(len(self.held[f]) for f in FUNCTIONS if f not in self.reserved) >= pool:
                return ACCOUNT_LIMIT
        if total >= ACCOUNT:
            return ACCOUNT_LIMIT
        if cold and self.model_tokens(fn) < 1.0:
            return RATE_LIMIT
        return None

    @rule(target=leases, fn=st.sampled_from(FUNCTIONS), cold=st.booleans())
    def acquire(self, fn: str, cold: bool) -> object:
        self.next_id += 1
        request_id = f"req-{self.next_id}"
        want = self.expected(fn, cold)
        try:
            lease = self.ledger.acquire(fn, request_id, cold_start=cold)
        except TooManyRequests as throttle:
            assert throttle.reason == want
            return multiple()
        assert want is None, f"granted but the model says {want}"
        if cold:
            self.tokens[fn] = (self.model_tokens(fn) - 1.0, self.clock.now())
            self.cold_grants[fn].append(self.clock.now())
        self.held[fn].add(request_id)
        self.check_grant_within_limits(fn)
        return lease

    def check_grant_within_limits(self, fn: str) -> None:
        total = sum(len(ids) for ids in self.held.values())
        assert total <= ACCOUNT
        if fn in self.reserved:
            assert len(self.held[fn]) <= self.reserved[fn]
        else:
            unreserved = sum(len(self.held[f]) for f in FUNCTIONS if f not in self.reserved)
            assert unreserved <= max(0, ACCOUNT - sum(self.reserved.values()))
        now = self.clock.now()
        grants = self.cold_grants[fn]
        for since in grants:
            in_window = sum(1 for t in grants if t >= since)
            assert in_window <= RATE + RATE * (now - since) / 10.0

    @rule(target=released, lease=consumes(leases))
    def release(self, lease: Lease) -> Lease:
        lease.release()
        self.held[lease.function].remove(lease.request_id)
        return lease

    @rule(lease=released)
    def release_again_raises(self, lease: Lease) -> None:
        before = self.ledger.in_use()
        try:
            lease.release()
        except LeaseReleased:
            pass
        else:
            raise AssertionError("a second release was accepted")
        assert self.ledger.in_use() == before

    @rule(fn=st.sampled_from(FUNCTIONS), reserved=st.none() | st.integers(0, ACCOUNT))
    def reconfigure(self, fn: str, reserved: int | None) -> None:
        self.ledger.set_reserved(fn, reserved)
        if reserved is None:
            self.reserved.pop(fn, None)
        else:
            self.reserved[fn] = reserved

    @rule(fn=st.sampled_from(FUNCTIONS))
    def forget(self, fn: str) -> None:
        self.ledger.forget(fn)
        self.reserved.pop(fn, None)
        self.tokens.pop(fn, None)
        self.cold_grants[fn].clear()

    @rule(steps=st.integers(0, 8))
    def advance(self, steps: int) -> None:
        self.clock.advance(1.25 * steps)

    @invariant()
    def counts_match_holders(self) -> None:
        state = self.ledger.state
        assert {fn: ids for fn, ids in state.holders.items()} == {
            fn: ids for fn, ids in self.held.items() if ids
        }
        assert state.total_in_use == sum(len(ids) for ids in self.held.values())
        unreserved = sum(len(self.held[f]) for f in FUNCTIONS if f not in self.reserved)
        assert state.unreserved_in_use == unreserved >= 0
        assert state.reserved_total == sum(self.reserved.values())
        assert all(ids for ids in state.holders.values())

    def teardown(self) -> None:
        for fn in FUNCTIONS:
            for request_id in list(self.held[fn]):
                Lease(self.ledger, fn, request_id).release()
        state = self.ledger.state
        assert state.holders == {}
        assert state.total_in_use == 0
        assert state.unreserved_in_use == 0


LedgerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
test_ledger_state_machine = LedgerMachine.TestCase
