"""Invoke: ``POST /2015-03-31/functions/{name}/invocations`` → the router, and back.

Translation only: headers and body in, an ``Invocation`` to the router, the result's payload
and ``X-Amz-*`` headers out. The response is written inside the router's block, so the
environment is frozen and parked after the caller has its answer.
"""

from __future__ import annotations

import base64
import binascii
import json

from aiohttp import web

from flare.api.wire import REQUEST_ID_HEADER, aws_route, empty_response
from flare.clock import Clock
from flare.control.arns import parse_function_name
from flare.control.model import FunctionVersion
from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, InvalidRequestContent, RequestTooLarge
from flare.events.async_queue import MAX_ASYNC_PAYLOAD, AsyncQueue
from flare.ids import new_request_id, new_trace_id
from flare.sandbox.invocation import Invocation
from flare.scheduling.router import Router

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
LOG_TAIL_BYTES = 4096
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def client_context(header: str | None) -> str | None:
    """The decoded JSON text of ``X-Amz-Client-Context`` (base64 on the wire), or None."""
    if not header:
        return None
    try:
        text = base64.b64decode(header, validate=True).decode()
        json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParameterValue("Client context must be a valid Base64-encoded JSON object.") from None
    return text


def check_payload(body: bytes) -> None:
    if body and not body.isspace():
        try:
            json.loads(body)
        except ValueError as error:
            raise InvalidRequestContent(f"Could not parse request body into json: {error}") from None


async def read_payload(request: web.Request, limit: int) -> bytes:
    """The request body: at most ``limit`` bytes (else 413) and JSON (else 400)."""
    too_large = RequestTooLarge(
        f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
    )
    if (request.content_length or 0) > limit:
        raise too_large
    payload = await request.content.read()
    if len(payload) > limit:
        raise too_large
    check_payload(payload)
    return payload


def log_tail(log: str) -> str:
    return base64.b64encode(log.encode()[-LOG_TAIL_BYTES:]).decode()


async def _queue_event(
    request: web.Request,
    events: AsyncQueue,
    version: FunctionVersion,
    qualifier: str | None,
    invoked_arn: str,
) -> web.StreamResponse:
    """InvocationType Event: 202 once the event is durably queued (payload at most 1 MB)."""
    payload = await read_payload(request, MAX_ASYNC_PAYLOAD)
    request_id = events.submit(version, qualifier, invoked_arn, payload)
    return empty_response(202, request_id)


def add_routes(
    app: web.Application, registry: Registry, router: Router, clock: Clock, events: AsyncQueue
) -> None:
    @aws_route
    async def invoke(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        qualifier = request.query.get("Qualifier") or None
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type not in INVOCATION_TYPES:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )
        version, invoked_arn = registry.resolve_invocation(name, qualifier)
        if invocation_type == "DryRun":
            return empty_response(204)
        if invocation_type == "Event":
            return await _queue_event(
                request, events, version, parse_function_name(name, qualifier)[1], invoked_arn
            )
        payload = await read_payload(request, MAX_SYNC_PAYLOAD)
        request_id = new_request_id()
        invocation = Invocation(
            request_id=request_id,
            payload=payload,
            invoked_arn=invoked_arn,
            trace_id=new_trace_id(clock.wall()),
            client_context=client_context(request.headers.get("X-Amz-Client-Context")),
        )
        tail = request.headers.get("X-Amz-Log-Type") == "Tail"
        async with router.invoke(version, invocation) as result:
            headers = {REQUEST_ID_HEADER: request_id, "X-Amz-Executed-Version": result.executed_version}
            if result.function_error:
                headers["X-Amz-Function-Error"] = result.function_error
            if tail:
                headers["X-Amz-Log-Result"] = log_tail(result.log)
            response = web.Response(body=result.payload, headers=headers, content_type="application/json")
            await response.prepare(request)
            await response.write_eof()
        return response

    app.router.add_post("/2015-03-31/functions/{name}/invocations", invoke)
