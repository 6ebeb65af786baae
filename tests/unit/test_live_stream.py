"""The live feed's event stream in-process (aiohttp's test server, a manual clock): a reader
that went away is let go at the next heartbeat, so the feed stops being built for nobody."""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from flare.api import live
from flare.clock import ManualClock
from flare.observe.live_feed import Dropped, LiveFeed, ThrottleSeen
from flare.scope import Scope


def test_a_reader_that_left_is_let_go_at_the_next_heartbeat() -> None:
    """As the engine serves it: aiohttp does not cancel a handler whose client went away."""

    async def scenario() -> list[bool]:
        feed, clock = LiveFeed(), ManualClock()

        async def handler(request: web.Request) -> web.StreamResponse:
            return await live.stream(request, feed, clock, Scope("123456789012", "us-east-1"))

        app = web.Application()
        app.router.add_get("/live", handler)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        listener = socket.create_server(("127.0.0.1", 0))
        site = web.SockSite(runner, listener)
        await site.start()
        try:
            port = listener.getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"data: ")
            seen = [b"text/event-stream" in head, feed.active]
            writer.close()
            await asyncio.sleep(0.05)
            seen.append(feed.active)  # nothing has told it yet
            clock.advance(live.HEARTBEAT_S)
            for _ in range(100):
                await asyncio.sleep(0.01)
                if not feed.active:
                    break
            seen.append(feed.active)
            return seen
        finally:
            await runner.cleanup()

    assert asyncio.run(scenario()) == [True, True, True, False]


def test_only_the_callers_account_and_region_are_written_and_a_drop_brings_a_snapshot() -> None:
    feed = LiveFeed()
    scope = Scope("111111111111", "us-east-1")
    mine = ThrottleSeen(1.0, "111111111111", "us-east-1", "mine")
    theirs = ThrottleSeen(1.0, "222222222222", "us-east-1", "theirs")
    elsewhere = ThrottleSeen(1.0, "111111111111", "eu-west-1", "elsewhere")
    written = live.batch_messages(feed, [theirs, mine, elsewhere], scope)
    assert b'"mine"' in written and b'"theirs"' not in written and b'"elsewhere"' not in written
    assert live.batch_messages(feed, [theirs], scope) == b": heartbeat\n\n"
    dropped = live.batch_messages(feed, [Dropped(3)], scope).split(b"\n\n")
    assert dropped[0] == b'data: {"kind":"dropped","count":3}'
    assert dropped[1].startswith(b'data: {"kind":"snapshot"')
