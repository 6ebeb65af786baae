"""The queue between an environment streaming a response and the client's connection."""

from __future__ import annotations

import asyncio

from flare.api.response_stream import HIGH_WATER, ChunkQueue, relay
from flare.sandbox.inflight import InFlight
from flare.sandbox.invocation import Invocation

MB = 1024 * 1024


def test_pieces_come_out_in_order_until_closed() -> None:
    async def scenario() -> None:
        queue = ChunkQueue()
        queue.begin("text/plain")
        queue.write(b"a")
        queue.write(b"b")
        queue.close()
        assert [await queue.take(), await queue.take(), await queue.take()] == [b"a", b"b", None]
        assert queue.began and queue.content_type == "text/plain"

    asyncio.run(scenario())


def test_too_much_waiting_pauses_the_producer_until_half_went_out() -> None:
    async def scenario() -> None:
        queue = ChunkQueue()
        calls: list[bool] = []
        queue.on_pressure(calls.append)
        for _ in range(HIGH_WATER // (256 * 1024) + 1):
            queue.write(b"x" * 256 * 1024)
        assert calls == [True]
        while calls == [True]:
            await queue.take()
        assert calls == [True, False]

    asyncio.run(scenario())


def test_a_client_gone_drops_everything_and_lets_the_producer_go_on() -> None:
    async def scenario() -> None:
        queue = ChunkQueue()
        calls: list[bool] = []
        sent: list[bytes] = []

        async def send(data: bytes) -> None:
            sent.append(data)
            raise ConnectionResetError

        queue.on_pressure(calls.append)
        queue.write(b"y" * (2 * MB))
        task = asyncio.ensure_future(relay(queue, send))
        await asyncio.sleep(0)
        assert task.done() and isinstance(task.exception(), ConnectionResetError)
        queue.write(b"z" * (2 * MB))  # dropped
        queue.close()
        assert await queue.take() is None
        assert calls == [True, False]

    asyncio.run(scenario())


def test_a_runtime_api_writer_waits_while_the_client_is_behind() -> None:
    async def scenario() -> None:
        queue, inflight = ChunkQueue(), InFlight()
        invocation = Invocation("id", b"{}", "arn", "Root=1-x", sink=queue)
        inflight.begin(invocation, asyncio.get_running_loop())
        writer = inflight.begin_stream("id", "text/plain", "busy")
        await writer.writable()  # not behind: at once
        assert writer.write(b"w" * (2 * MB))
        waiting = asyncio.ensure_future(writer.writable())
        await asyncio.sleep(0)
        assert not waiting.done()
        assert await queue.take() == b"w" * (2 * MB)
        await asyncio.wait_for(waiting, 1)

    asyncio.run(scenario())
