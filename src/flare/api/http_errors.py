"""AWS's error shape for the requests aiohttp refuses itself, before or instead of a route.

aiohttp answers HTTP it cannot read (a request line or header over its 8 KB limit, both
``Content-Length`` and ``Transfer-Encoding``, a bad chunk) and any exception that escapes the
middleware chain with its own ``text/plain`` page, which echoes what it could not parse. Clients
of an AWS API expect ``x-amzn-ErrorType`` and a JSON message instead, and nothing of the request
reflected back. ``AwsErrorsRequestHandler`` keeps aiohttp's handling (it still logs the error and
closes the connection) and replaces only the answer, through ``api/wire.py``'s one error shape;
the ``aws_http_errors`` middleware does the same for the ``HTTPException`` errors aiohttp raises
inside the middleware chain (no route matched, a body over ``client_max_size``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from flare.api.wire import Handler, error_response
from flare.errors import FlareError, RequestTooLarge, ServiceException, UnknownOperation, UnreadableRequest

UNREADABLE_MESSAGE = (
    "The request could not be read as HTTP/1.1: a line is too long or its framing is invalid."
)


def protocol_error(status: int) -> FlareError:
    """The error a client gets for aiohttp's ``status`` on a request no route saw."""
    if status == 413:
        return RequestTooLarge("Request must be smaller than the maximum request size")
    if 400 <= status < 500:
        return UnreadableRequest(UNREADABLE_MESSAGE)
    return ServiceException("An internal error occurred.")


class AwsErrorsRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own errors in AWS's shape."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if already answering
        error = protocol_error(status)
        response = error_response(error)
        if 400 <= status < 500 and status != error.status:
            response.set_status(status)
        response.force_close()
        return response


def request_handlers(server: web.Server, **options: Any) -> Callable[[], RequestHandler]:
    """A factory of ``server``'s connection handlers (what ``server()`` makes) that answer in
    AWS's shape; ``options``: the handler options ``server`` was made with (its runner's, e.g.
    ``access_log``). Called on the loop that serves."""
    loop = asyncio.get_running_loop()

    def make() -> RequestHandler:
        return AwsErrorsRequestHandler(server, loop=loop, **options)

    return make


def _routing_error(error: web.HTTPException) -> FlareError:
    """The AWS error for an aiohttp routing or reading failure of ``error``'s status."""
    if error.status in (404, 405):
        return UnknownOperation("Flare does not implement this request")
    return protocol_error(error.status)


@web.middleware
async def aws_http_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A middleware: an ``HTTPException`` error that aiohttp raises itself (no route for a path
    its router cannot match, a body over ``client_max_size``) leaves in AWS's shape. Redirects
    and successes raised as exceptions pass as they are."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        response = error_response(_routing_error(error))
        if error.status != response.status and 400 <= error.status < 500:
            response.set_status(error.status)
        return response
