"""``POST /flare/v1/clock`` ``{"AdvanceSeconds": N}``: move the engine's clock N seconds ahead
(no AWS equivalent). Served only by ``flare serve --test-clock``, whose engine runs on a
``JumpClock``: a test of a 30-day durable wait, a retry's backoff or a keep-warm schedule
advances it instead of sleeping. Answers ``{"OffsetSeconds": how far ahead in all, "Wall": the
clock's epoch seconds}``; a missing or negative ``AdvanceSeconds`` is InvalidParameterValue.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.wire import aws_route, json_response, read_json
from flare.clock import JumpClock
from flare.errors import InvalidParameterValue

PATH = "/flare/v1/clock"


def add_routes(app: web.Application, clock: JumpClock) -> None:
    @aws_route
    async def advance(request: web.Request) -> web.StreamResponse:
        seconds = (await read_json(request)).get("AdvanceSeconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise InvalidParameterValue("AdvanceSeconds must be a number of seconds, 0 or more.")
        clock.advance(float(seconds))
        return json_response({"OffsetSeconds": clock.offset, "Wall": clock.wall()})

    app.router.add_post(PATH, advance)
