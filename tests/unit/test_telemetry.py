"""The Telemetry and Logs APIs' subscriptions: validation, buffering, delivery and drops."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from flare.clock import ManualClock
from flare.sandbox.runtime_api import RuntimeApiError
from flare.sandbox.telemetry import TelemetryHub, delivery_url, parse_subscription


def body(**fields: Any) -> bytes:
    request: dict[str, Any] = {
        "schemaVersion": "2022-12-13",
        "types": ["platform"],
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/t"},
    }
    request.update(fields)
    return json.dumps(request).encode()


def refused(raw: bytes, legacy: bool = False) -> tuple[int, str]:
    with pytest.raises(RuntimeApiError) as raised:
        parse_subscription(raw, legacy)
    return raised.value.status, raised.value.error_type


def test_defaults_are_aws_ones() -> None:
    subscription = parse_subscription(body(), legacy=False)
    assert (subscription.max_items, subscription.max_bytes, subscription.timeout_ms) == (10000, 262144, 1000)


@pytest.mark.parametrize(
    "buffering",
    [{"maxItems": 999}, {"maxItems": 10001}, {"maxBytes": 262143}, {"maxBytes": 1048577}, {"timeoutMs": 24},
     {"timeoutMs": 30001}, {"timeoutMs": "100"}, {"maxItems": True}],
)  # fmt: skip
def test_buffering_outside_aws_limits_is_a_validation_error(buffering: dict[str, Any]) -> None:
    assert refused(body(buffering=buffering)) == (400, "ValidationError")


def test_buffering_at_aws_limits_is_taken() -> None:
    low = parse_subscription(body(buffering={"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}), False)
    high = parse_subscription(
        body(buffering={"maxItems": 10000, "maxBytes": 1048576, "timeoutMs": 30000}), False
    )
    assert (low.max_items, low.max_bytes, low.timeout_ms) == (1000, 262144, 25)
    assert (high.max_items, high.max_bytes, high.timeout_ms) == (10000, 1048576, 30000)


def test_bad_subscriptions_are_refused() -> None:
    assert refused(b"not json") == (400, "ValidationError")
    assert refused(b"[" * 100_000 + b"]" * 100_000) == (400, "ValidationError")  # deeper than Python recurses
    assert refused(body(schemaVersion="2021-03-18")) == (400, "ValidationError")
    assert refused(body(types=[])) == (400, "ValidationError")
    assert refused(body(types=["platform", "everything"])) == (400, "ValidationError")
    assert refused(body(destination={"protocol": "TCP", "port": 4243})) == (400, "ValidationError")
    assert refused(body(destination={"protocol": "HTTP", "URI": "ftp://x"})) == (400, "ValidationError")
    # the Logs API has no schemaVersion of the Telemetry API's to check
    assert parse_subscription(body(schemaVersion="2021-03-18"), legacy=True).url.endswith(":4243/t")


def test_sandbox_localdomain_is_the_environments_loopback() -> None:
    assert delivery_url("http://sandbox.localdomain:4243/t?x=1") == "http://127.0.0.1:4243/t?x=1"
    assert delivery_url("http://sandbox:8080") == "http://127.0.0.1:8080"
    assert delivery_url("http://10.0.0.1:8080/") == "http://10.0.0.1:8080/"


class Listener:
    """A fake destination: records each batch; ``hold`` keeps posts waiting, ``fail`` refuses."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.hold: asyncio.Event | None = None
        self.fail = False

    async def __call__(self, url: str, raw: bytes) -> None:
        assert url == "http://127.0.0.1:4243/t"
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            raise OSError("connection refused")
        self.batches.append(json.loads(raw))

    def types(self) -> list[list[str]]:
        return [[event["type"] for event in batch] for batch in self.batches]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_batch_goes_when_its_timer_ends_not_before() -> None:
    async def scenario() -> None:
        clock, listener = ManualClock(), Listener()
        hub = TelemetryHub(clock, listener)
        hub.emit("platform", "platform.initStart", {})  # before any subscriber: kept for INIT's
        hub.subscribe("ext", body(buffering={"timeoutMs": 100}), legacy=False)
        hub.emit("platform", "platform.start", {"requestId": "r1"})
        hub.emit("function", "function", "a line nobody asked for")
        clock.advance(0.099)
        await settle()
        assert listener.batches == []
        clock.advance(0.001)
        await settle()
        assert listener.types() == [
            ["platform.initStart", "platform.telemetrySubscription", "platform.start"]
        ]
        record = listener.batches[0][1]["record"]
        assert record == {"name": "ext", "state": "Subscribed", "types": ["platform"]}

    asyncio.run(scenario())


def test_a_full_buffer_goes_at_once() -> None:
    async def scenario() -> None:
        clock, listener = ManualClock(), Listener()
        hub = TelemetryHub(clock, listener)
        hub.end_backlog()
        hub.subscribe("ext", body(buffering={"maxItems": 1000, "timeoutMs": 30000}), legacy=False)
        for n in range(998):  # with the subscription's own event: 999 items
            hub.emit("platform", "platform.report", {"requestId": str(n)})
        await settle()
        assert listener.batches == []
        hub.emit("platform", "platform.report", {"requestId": "last"})
        await settle()
        assert [len(batch) for batch in listener.batches] == [1000]

    asyncio.run(scenario())


def test_a_frozen_environment_keeps_its_batches_until_thawed() -> None:
    async def scenario() -> None:
        clock, listener = ManualClock(), Listener()
        hub = TelemetryHub(clock, listener)
        hub.end_backlog()
        hub.subscribe("ext", body(buffering={"timeoutMs": 25}), legacy=False)
        hub.pause()
        hub.emit("platform", "platform.report", {"requestId": "r1"})
        clock.advance(1)
        await settle()
        assert listener.batches == []
        hub.resume()
        await settle()
        assert listener.types() == [["platform.telemetrySubscription", "platform.report"]]

    asyncio.run(scenario())


def test_a_dead_listener_drops_with_logs_dropped_and_never_raises() -> None:
    async def scenario() -> None:
        clock, listener = ManualClock(), Listener()
        hub = TelemetryHub(clock, listener)
        hub.end_backlog()
        hub.subscribe("ext", body(buffering={"timeoutMs": 25}), legacy=False)
        listener.fail = True
        hub.emit("platform", "platform.report", {"requestId": "r1"})
        clock.advance(0.025)
        await settle()
        listener.fail = False
        hub.emit("platform", "platform.report", {"requestId": "r2"})
        clock.advance(0.025)
        await settle()
        [batch] = listener.batches
        assert [event["type"] for event in batch] == ["platform.logsDropped", "platform.report"]
        assert batch[0]["record"]["droppedRecords"] == 2  # the subscription's event and r1

    asyncio.run(scenario())


def test_a_slow_listener_gets_what_came_meanwhile_after_its_post_and_drops_past_the_limits() -> None:
    async def scenario() -> None:
        clock, listener = ManualClock(), Listener()
        hub = TelemetryHub(clock, listener)
        hub.end_backlog()
        hub.subscribe("ext", body(buffering={"maxItems": 1000, "timeoutMs": 25}), legacy=False)
        listener.hold = asyncio.Event()
        clock.advance(0.025)  # the subscription event is posted; the listener sits on it
        await settle()
        for n in range(1001):  # meanwhile: past maxItems, so dropped
            hub.emit("platform", "platform.report", {"requestId": str(n)})
        hub.emit("platform", "platform.report", {"requestId": "after"})
        clock.advance(0.025)
        listener.hold.set()
        await settle()
        clock.advance(0.025)
        await settle()
        types = [event["type"] for batch in listener.batches for event in batch]
        assert types == ["platform.telemetrySubscription", "platform.logsDropped", "platform.report"]
        assert listener.batches[1][0]["record"]["droppedRecords"] == 1001
        assert listener.batches[1][0]["record"]["reason"].startswith("Some logs were dropped")
        assert listener.batches[-1][-1]["record"] == {"requestId": "after"}

    asyncio.run(scenario())


def test_logs_api_subscribers_get_its_events_and_not_the_telemetry_apis() -> None:
    async def scenario() -> None:
        clock, listener = ManualClock(), Listener()
        hub = TelemetryHub(clock, listener)
        hub.end_backlog()
        hub.subscribe("old", body(schemaVersion="2021-03-18", buffering={"timeoutMs": 25}), legacy=True)
        for kind in ("platform.start", "platform.runtimeDone", "platform.end", "platform.report"):
            hub.emit("platform", kind, {"requestId": "r1"})
        clock.advance(0.025)
        await settle()
        assert listener.types() == [["platform.start", "platform.end", "platform.report"]]

    asyncio.run(scenario())


def test_a_listener_answering_without_end_is_read_no_further_than_a_bound() -> None:
    """The listener is the function's own code: a post never reads more of its answer than
    ``ANSWER_KEPT``, whatever it sends (before, the whole answer was read into memory)."""
    from flare.sandbox.telemetry import ANSWER_KEPT, HttpPoster

    huge = 64 * 1024 * 1024
    sent = 0

    async def main() -> None:
        nonlocal sent

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal sent
            await reader.readuntil(b"\r\n\r\n")
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {huge}\r\n\r\n".encode())
            chunk = b"x" * (1 << 20)
            try:
                while sent < huge:
                    writer.write(chunk)
                    await writer.drain()
                    sent += len(chunk)
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        poster = HttpPoster()
        try:
            await poster(f"http://127.0.0.1:{port}/telemetry", b"[]")
            await asyncio.sleep(0.2)
        finally:
            await poster.close()
            server.close()
            await server.wait_closed()

    asyncio.run(main())
    assert huge > ANSWER_KEPT
    assert sent < huge // 4, f"the listener could send {sent} bytes"


def test_a_listener_that_never_answers_is_given_up_after_five_seconds_of_the_clock() -> None:
    async def scenario() -> None:
        clock, listener = ManualClock(), Listener()
        hub = TelemetryHub(clock, listener)
        hub.end_backlog()
        hub.subscribe("ext", body(buffering={"timeoutMs": 25}), legacy=False)
        listener.hold = asyncio.Event()  # never set: the post hangs
        clock.advance(0.025)
        await settle()
        assert hub.posting()
        clock.advance(4.9)
        await settle()
        assert hub.posting()
        clock.advance(0.1)
        await settle()
        assert not hub.posting()
        listener.hold = None
        hub.emit("platform", "platform.report", {"requestId": "r1"})
        clock.advance(0.025)
        await settle()
        [batch] = listener.batches
        assert [event["type"] for event in batch] == ["platform.logsDropped", "platform.report"]
        assert "no answer within 5 s" in batch[0]["record"]["reason"]

    asyncio.run(scenario())


def test_drain_waits_for_posts_in_flight_up_to_its_time_on_the_clock() -> None:
    async def scenario() -> None:
        clock, listener = ManualClock(), Listener()
        hub = TelemetryHub(clock, listener)
        hub.end_backlog()
        hub.subscribe("ext", body(), legacy=False)
        listener.hold = asyncio.Event()
        draining = asyncio.ensure_future(hub.drain(1.5))
        await settle()
        clock.advance(1.4)
        await settle()
        assert not draining.done()
        clock.advance(0.1)
        await settle()
        assert draining.done()

    asyncio.run(scenario())
