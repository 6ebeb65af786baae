"""The shared ledger (``cluster/shared_ledger.py``) on a real redis-server: its Lua script decides
as ``placement.ledger.decide`` does on random states, and two nodes' ledgers count one account
(limits, reservations, leases that expire when their node stops refreshing them)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.typing import EncodableT

from flare.clock import SystemClock
from flare.cluster.ledger_script import SCRIPT
from flare.cluster.link import ClusterLink
from flare.cluster.shared_ledger import REASONS, SharedLedger
from flare.errors import TooManyRequests
from flare.placement.ledger import (
    ACCOUNT_LIMIT,
    RESERVED_LIMIT,
    Bucket,
    Grant,
    Ledger,
    Throttle,
    decide,
)
from flare.scope import Scope
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed")

SCOPE = Scope("123456789012", "us-east-1")
FUNCTIONS = ("f0", "f1", "f2")
NOW_MS = 5_000_000
WINDOW_MS = 10_000


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    made = redis.Redis.from_url(redis_server.url)
    made.flushall()
    yield made
    made.close()


def keys() -> list[str]:
    return [ClusterLink.scoped(SCOPE, "ledger", key) for key in ("all", "unres", "of", "res", "total", "b")]


PREFIX = ClusterLink.scoped(SCOPE, "ledger", "fn") + ":"


def call(client: redis.Redis, op: str, *rest: EncodableT, now_ms: int = NOW_MS, ttl_ms: int = 60_000) -> Any:
    return client.eval(SCRIPT, len(keys()), *keys(), op, now_ms, ttl_ms, PREFIX, *rest)


states = st.fixed_dictionaries(
    {
        "account": st.integers(0, 6),
        "rate": st.integers(1, 4),
        "reserved": st.dictionaries(st.sampled_from(FUNCTIONS), st.integers(0, 4), max_size=3),
        "holders": st.dictionaries(st.sampled_from(FUNCTIONS), st.integers(0, 4), max_size=3),
        "buckets": st.dictionaries(
            st.sampled_from(FUNCTIONS), st.tuples(st.floats(0, 4), st.integers(0, 20_000)), max_size=3
        ),
        "function": st.sampled_from(FUNCTIONS),
        "cold": st.booleans(),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states)
def test_the_script_decides_as_decide_does(client: redis.Redis, case: dict[str, Any]) -> None:
    client.flushall()
    rate = case["rate"]
    ledger = Ledger(SystemClock(), case["account"], rate, WINDOW_MS / 1000)
    for function, reserved in case["reserved"].items():
        ledger.set_reserved(function, reserved)
        call(client, "reserve", function, reserved)
    for function, count in case["holders"].items():
        for number in range(count):
            ledger.hold(function, f"{function}-{number}")
            call(client, "acquire", function, f"{function}-{number}", case["account"], rate, WINDOW_MS, 0, 1)
    for function, (tokens, age_ms) in case["buckets"].items():
        tokens = min(tokens, rate)
        ledger.state.buckets[function] = Bucket(tokens, (NOW_MS - age_ms) / 1000)
        client.hset(keys()[5], function, f"{tokens!r} {NOW_MS - age_ms}")
    function, cold = case["function"], case["cold"]
    expected = decide(ledger.state, function, NOW_MS / 1000, cold_start=cold)
    answer = call(client, "acquire", function, "new", case["account"], rate, WINDOW_MS, int(cold), 0)
    if isinstance(expected, Throttle):
        assert answer[0] == 0
        assert (REASONS[answer[1].decode()], answer[2]) == (expected.reason, expected.retry_after_s)
        assert client.zscore(keys()[0], "new") is None
    else:
        assert isinstance(expected, Grant)
        assert answer == [1]
        assert client.zscore(keys()[0], "new") is not None
        if expected.bucket is not None:
            bucket = client.hget(keys()[5], function)
            assert isinstance(bucket, bytes)
            tokens, stamp = bucket.decode().split()
            assert float(tokens) == pytest.approx(expected.bucket.tokens)
            assert int(stamp) == NOW_MS


def test_an_expired_lease_no_longer_counts(client: redis.Redis) -> None:
    assert call(client, "acquire", "f0", "a", 1, 10, WINDOW_MS, 0, 0, ttl_ms=100) == [1]
    assert call(client, "acquire", "f0", "b", 1, 10, WINDOW_MS, 0, 0, now_ms=NOW_MS + 99)[1] == b"A"
    assert call(client, "acquire", "f0", "b", 1, 10, WINDOW_MS, 0, 0, now_ms=NOW_MS + 101) == [1]
    assert client.sismember(PREFIX + "f0", "a") == 0
    assert client.hget(keys()[2], "a") is None


def test_a_reservation_moves_held_leases_out_of_the_unreserved_pool(client: redis.Redis) -> None:
    for holder in ("a", "b"):
        call(client, "acquire", "f0", holder, 3, 10, WINDOW_MS, 0, 0)
    assert call(client, "acquire", "f1", "c", 3, 10, WINDOW_MS, 0, 0) == [1]
    assert call(client, "acquire", "f1", "d", 3, 10, WINDOW_MS, 0, 0)[1] == b"A"
    call(client, "release", "c")
    call(client, "reserve", "f0", 2)  # f0's two leases are its reservation's now; f1 has 1 left
    assert call(client, "acquire", "f1", "d", 3, 10, WINDOW_MS, 0, 0) == [1]
    assert call(client, "acquire", "f0", "e", 3, 10, WINDOW_MS, 0, 0)[1] == b"R"


def test_a_reservation_of_zero_can_be_deleted(client: redis.Redis) -> None:
    """Deleting a reservation of 0 takes 0 off the total (Lua's ``-0`` is not an integer to
    INCRBY: the delete failed, the reservation stayed and throttled the function for good)."""
    call(client, "reserve", "f0", 0)
    assert call(client, "acquire", "f0", "a", 3, 10, WINDOW_MS, 0, 0)[1] == b"R"
    assert call(client, "reserve", "f0", "") == 1
    assert client.hget(keys()[3], "f0") is None
    assert client.get(keys()[4]) == b"0"
    assert call(client, "acquire", "f0", "a", 3, 10, WINDOW_MS, 0, 0) == [1]


def two_nodes(url: str, account: int, ttl_s: float = 10.0) -> tuple[SharedLedger, SharedLedger]:
    made = []
    for name in ("a", "b"):
        link = ClusterLink(url, name)
        made.append(SharedLedger(link, SCOPE, SystemClock(), account, 1000, lease_ttl_s=ttl_s))
    return made[0], made[1]


def test_two_nodes_share_one_account_limit(client: redis.Redis, redis_server: RedisServer) -> None:
    async def scenario() -> None:
        a, b = two_nodes(redis_server.url, 3)
        held = [await a.acquire_async("f0", "r1"), await a.acquire_async("f1", "r2")]
        held.append(await b.acquire_async("f0", "r3"))
        for node in (a, b):
            with pytest.raises(TooManyRequests) as throttled:
                await node.acquire_async("f2", "r4")
            assert throttled.value.reason == ACCOUNT_LIMIT
        assert a.in_use() == 3 and b.in_use("f0") == 2
        held[0].release()
        await asyncio.sleep(0.05)  # the release leaves on the next loop iteration
        (await b.acquire_async("f2", "r4")).release()
        for lease in held[1:]:
            lease.release()
        await a.close()
        await b.close()
        assert a.in_use() == 0

    run(scenario())


def test_a_reservation_holds_across_nodes(client: redis.Redis, redis_server: RedisServer) -> None:
    async def scenario() -> None:
        a, b = two_nodes(redis_server.url, 10)
        a.set_reserved("f0", 2)
        b.set_reserved("f0", 2)
        first, second = await a.acquire_async("f0", "r1"), await b.acquire_async("f0", "r2")
        with pytest.raises(TooManyRequests) as throttled:
            await b.acquire_async("f0", "r3")
        assert throttled.value.reason == RESERVED_LIMIT
        first.release()
        second.release()
        await a.close()
        await b.close()

    run(scenario())


def test_a_stopped_nodes_leases_expire_and_a_live_nodes_are_refreshed(
    client: redis.Redis, redis_server: RedisServer
) -> None:
    async def scenario() -> None:
        a, b = two_nodes(redis_server.url, 2, ttl_s=0.3)
        kept = await a.acquire_async("f0", "kept")  # a keeps refreshing this one
        await b.acquire_async("f0", "lost")
        await b.close()  # b stops refreshing (as a dead node would): its lease expires
        with pytest.raises(TooManyRequests):
            await a.acquire_async("f0", "r3")
        await asyncio.sleep(0.6)
        third = await a.acquire_async("f0", "r3")
        with pytest.raises(TooManyRequests):  # "kept" still counts: its expiry moved on
            await a.acquire_async("f0", "r4")
        third.release()
        kept.release()
        await a.close()

    run(scenario())


def test_releases_ride_on_the_next_acquire(client: redis.Redis, redis_server: RedisServer) -> None:
    async def scenario() -> None:
        a, _ = two_nodes(redis_server.url, 1)
        lease = await a.acquire_async("f0", "r1")
        lease.release()  # queued; the acquire below carries it, in the same round trip
        (await a.acquire_async("f0", "r2")).release()
        assert a.round_trips == 2
        await asyncio.sleep(0.05)
        assert a.round_trips == 3 and a.in_use() == 0
        await a.close()

    run(scenario())


def test_acquires_started_outside_a_task_are_granted(client: redis.Redis, redis_server: RedisServer) -> None:
    """The front door runs an invoke's first step by hand, outside any Task (``start_now``,
    from its protocol's ``data_received``); redis-py's asyncio timeouts refuse to run there."""
    from flare.api.front_door import start_now

    async def scenario() -> None:
        a, _ = two_nodes(redis_server.url, 50)
        loop = asyncio.get_running_loop()
        granted: list[asyncio.Future[Any]] = [loop.create_future() for _ in range(16)]

        async def invoke(number: int) -> None:
            try:
                granted[number].set_result(await a.acquire_async("f0", f"r{number}"))
            except Exception as error:
                granted[number].set_exception(error)

        for number in range(16):  # from a loop callback, as the front door's data_received
            loop.call_soon(start_now, loop, invoke(number))
        for lease in await asyncio.gather(*granted):
            lease.release()
        await a.close()

    run(scenario())


def run(scenario: Any) -> None:
    """On the engine's event loop (uvloop's, as ``flare serve`` runs)."""
    from flare.server import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(scenario)
