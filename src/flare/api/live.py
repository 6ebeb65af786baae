"""The live feed (``observe/live_feed.py``) as a stream of server-sent events.

``GET /flare/v1/live`` (signed, as every Flare route: what ``flare top`` reads) and the
console's ``/_flare/events`` (its session cookie: ``api/console.py``) answer
``text/event-stream``: one ``data:`` line of JSON per event, each an ``as_wire`` object with its
``kind``. The first is ``{"kind": "snapshot", "environments": [...]}``, every live environment
of the caller's account and region now; then the feed's events of those, as they happen (the
scope the caller acts in, as every Lambda API request: ``api/scoping.py``). A reader
that fell behind gets ``{"kind": "dropped", "count": n}`` and a new snapshot. A comment line
every ``HEARTBEAT_S`` (on the engine's clock) finds a reader gone, and the stream then ends
(so does every stream when the engine stops).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from aiohttp import web

from flare.api.authentication import identity_of
from flare.api.wire import error_response
from flare.auth.identity import Identity
from flare.clock import Clock
from flare.errors import AccessDenied
from flare.observe.live_feed import (
    Dropped,
    EnvironmentSeen,
    Event,
    InvocationSeen,
    LiveFeed,
    ThrottleSeen,
    as_wire,
)
from flare.scope import Scope

HEARTBEAT_S = 15.0
PATH = "/flare/v1/live"


def _data(wire: object) -> bytes:
    return b"data: " + orjson.dumps(wire) + b"\n\n"


def _in(event: EnvironmentSeen | InvocationSeen | ThrottleSeen, scope: Scope) -> bool:
    return event.account == scope.account and event.region == scope.region


def snapshot_message(feed: LiveFeed, scope: Scope) -> bytes:
    """The ``snapshot`` event of ``scope``'s live environments."""
    environments = [as_wire(seen) for seen in feed.snapshot() if _in(seen, scope)]
    return _data({"kind": "snapshot", "environments": environments})


def batch_messages(feed: LiveFeed, batch: Iterable[Event], scope: Scope) -> bytes:
    """``batch``'s events of ``scope`` as SSE lines; a ``Dropped`` is followed by a snapshot;
    an empty batch is a heartbeat comment."""
    lines: list[bytes] = []
    for event in batch:
        if isinstance(event, Dropped):
            lines += [_data(as_wire(event)), snapshot_message(feed, scope)]
        elif _in(event, scope):
            lines.append(_data(as_wire(event)))
    return b"".join(lines) or b": heartbeat\n\n"


async def stream(request: web.Request, feed: LiveFeed, clock: Clock, scope: Scope) -> web.StreamResponse:
    """Answer ``request`` with ``scope``'s part of the feed until the reader goes or the feed
    closes (see the module docstring)."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    with feed.subscribe() as subscription:
        try:
            await response.write(snapshot_message(feed, scope))
            while not subscription.closed:
                heartbeat = clock.call_later(HEARTBEAT_S, subscription.wake)
                try:
                    batch = await subscription.next_batch()
                finally:
                    heartbeat.cancel()
                if not subscription.closed:
                    await response.write(batch_messages(feed, batch, scope))
        except (ConnectionResetError, ConnectionError):
            pass
    return response


def check_operator(who: Identity) -> None:
    """Raise AccessDenied when ``who`` is an execution environment's function: what the feed
    and the console show is the operator's, never a handler's."""
    if who.function is not None:
        raise AccessDenied(
            f"{who.function.arn} is a function's role session: the live view is the operator's"
        )


def add_routes(app: web.Application, feed: LiveFeed, clock: Clock) -> None:
    """``GET /flare/v1/live`` for the signed caller's account and region."""

    async def live(request: web.Request) -> web.StreamResponse:
        who = identity_of(request)
        try:
            check_operator(who)
        except AccessDenied as error:
            return error_response(error)
        return await stream(request, feed, clock, who.scope)

    app.router.add_get(PATH, live)
    app.on_shutdown.append(lambda _: _close(feed))


async def _close(feed: LiveFeed) -> None:
    feed.close()
