"""AWS rest-json wire helpers: JSON in, JSON out, and the one place errors become responses.

Route handlers are wrapped with ``@aws_route``: whatever they raise becomes AWS's error shape
(``x-amzn-ErrorType``, a JSON body with both ``message`` and ``Message``, ``Type``), any other
exception becomes a logged 500 ``ServiceException`` and never a stack trace on the wire. Every
response carries ``x-amzn-RequestId``.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from flare.errors import FlareError, InvalidParameterValue, InvalidRequestContent, ServiceException
from flare.ids import new_request_id
from flare.specs.models import TOO_DEEP_MESSAGE

log = logging.getLogger("flare.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID_HEADER = "x-amzn-RequestId"


def json_response(body: Any, status: int = 200, request_id: str | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers={REQUEST_ID_HEADER: request_id or new_request_id()},
    )


def empty_response(status: int = 204, request_id: str | None = None) -> web.Response:
    return web.Response(status=status, headers={REQUEST_ID_HEADER: request_id or new_request_id()})


def error_parts(error: FlareError, request_id: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """AWS's error shape for ``error``: status, headers (``Content-Type`` included) and body."""
    body: dict[str, Any] = {"Type": error.error_type, "message": error.message, "Message": error.message}
    body.update(error.extra)
    headers = {"x-amzn-ErrorType": error.aws_name, REQUEST_ID_HEADER: request_id or new_request_id()}
    headers.update(error.headers())
    headers["Content-Type"] = "application/json"
    return error.status, headers, json.dumps(body).encode()


def error_response(error: FlareError, request_id: str | None = None) -> web.Response:
    status, headers, body = error_parts(error, request_id)
    return web.Response(body=body, status=status, headers=headers)


def aws_route(handler: Handler) -> Handler:
    """Wrap a route handler so every failure leaves in AWS's error shape."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except FlareError as error:
            return error_response(error)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            return error_response(ServiceException("An internal error occurred."))

    return wrapped


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is ``{}``.

    Raises ``InvalidRequestContent`` when the body is not a JSON object.
    """
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise InvalidRequestContent(f"Could not parse request body into json: {error}") from None
    except RecursionError:  # nested deeper than the parser's stack
        raise InvalidRequestContent(TOO_DEEP_MESSAGE) from None
    if not isinstance(body, dict):
        raise InvalidRequestContent("Could not parse request body into json: expected an object")
    return body


def query_int(request: web.Request, name: str) -> int | None:
    """An integer query parameter, or None when absent."""
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidParameterValue(f"Invalid value for {name}: {value}") from None
