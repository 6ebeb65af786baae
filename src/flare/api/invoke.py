"""Invoke: ``POST /2015-03-31/functions/{name}/invocations`` → the router, and back.

Translation only: headers and body in, an ``Invocation`` to the router, the result's payload
and ``X-Amz-*`` headers out. ``InvokeRoute`` is the one implementation; two transports feed it:
the front door's fast path (``front_door.py``, plain HTTP/1.1 requests) and the aiohttp route
below (everything else: chunked or large bodies, HTTP/1.0). The response is written inside the
router's block, so the environment is frozen and parked after the caller has its answer.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import unquote

import orjson
from aiohttp import web
from botocore.model import Shape
from multidict import CIMultiDict, MultiDict

from flare.account_region import AccountRegion
from flare.api.authentication import identity_of
from flare.api.durable_invoke import NAME_HEADER, invoke_durable
from flare.api.wire import REQUEST_ID_HEADER, aws_route, empty_response
from flare.auth.identity import Identity
from flare.clock import Clock
from flare.control import tenancy
from flare.control.arns import parse_function_name
from flare.errors import FlareError, InvalidParameterValue, InvalidRequestContent, RequestTooLarge
from flare.events.async_queue import MAX_ASYNC_PAYLOAD
from flare.ids import new_request_id, new_trace_id
from flare.sandbox.invocation import Invocation
from flare.specs import constraints
from flare.specs.models import rest_operations, service_model

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
LOG_TAIL_BYTES = 4096
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")
PATH_PREFIX = "/2015-03-31/functions/"
PATH_SUFFIX = "/invocations"

ReadPayload = Callable[[int], Awaitable[bytes]]
"""Given the size limit, the request's payload (413 past the limit, 400 when not JSON)."""
Respond = Callable[[int, dict[str, str], bytes], Awaitable[None]]
"""Write the response: status, headers (``Content-Type`` included when there is a body), body."""


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
    """Raises InvalidRequestContent unless ``body`` is JSON (or empty). orjson answers first;
    what it refuses, the standard library decides and words (it takes integers past 64 bits)."""
    if body and not body.isspace():
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            try:
                json.loads(body)
            except ValueError as error:
                raise InvalidRequestContent(f"Could not parse request body into json: {error}") from None


def too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


async def read_payload(request: web.Request, limit: int) -> bytes:
    """The request body: at most ``limit`` bytes (else 413) and JSON (else 400). Read with
    ``request.read()``, which keeps it: authentication may have read it first."""
    if (request.content_length or 0) > limit:
        raise too_large(limit)
    payload = await request.read()
    if len(payload) > limit:
        raise too_large(limit)
    check_payload(payload)
    return payload


def buffered_payload(body: bytes) -> ReadPayload:
    """``ReadPayload`` for a body the transport already holds."""

    async def read(limit: int) -> bytes:
        if len(body) > limit:
            raise too_large(limit)
        check_payload(body)
        return body

    return read


def check_invoke(name: str, qualifier: str | None, headers: Mapping[str, str]) -> None:
    """Raise ValidationFailed when an Invoke request's name, qualifier or headers break
    botocore's model, as AWS's front end does before anything else.

    The invoke path calls this only when something is already wrong (an unknown name or
    header value): a name that resolves and headers from the expected sets always fit.
    """
    operation = rest_operations("lambda")["Invoke"]
    query = MultiDict({"Qualifier": qualifier} if qualifier is not None else {})
    params = operation.read_input({"FunctionName": name}, query, CIMultiDict(headers), None)
    if operation.input_shape is not None:
        constraints.check(operation.input_shape, params)


@functools.cache
def _tenant_id_shape() -> Shape:
    return service_model("lambda").shape_for("TenantId")


@functools.cache
def _execution_name_shape() -> Shape:
    return service_model("lambda").shape_for("DurableExecutionName")


def check_tenant_id(name: str, qualifier: str | None, headers: Mapping[str, str], tenant_id: str) -> None:
    """Raise ValidationFailed, for the whole request as ``check_invoke`` words it, when the
    request's ``X-Amz-Tenant-Id`` breaks the model's ``TenantId`` constraints."""
    if constraints.violations(_tenant_id_shape(), tenant_id, "tenantId"):
        check_invoke(name, qualifier, headers)


def log_tail(log: str) -> str:
    return base64.b64encode(log.encode()[-LOG_TAIL_BYTES:]).decode()


def function_name_of(path: str) -> str | None:
    """The (URL-decoded) function name of an Invoke path, or None for any other path."""
    if not (path.startswith(PATH_PREFIX) and path.endswith(PATH_SUFFIX)):
        return None
    name = path[len(PATH_PREFIX) : -len(PATH_SUFFIX)]
    if not name or "/" in name:
        return None
    return unquote(name) if "%" in name else name


FindRegion = Callable[[Identity, str, "str | None"], AccountRegion]
"""The ``AccountRegion`` an Invoke of (function name, qualifier) by a caller acts in
(``Engine.region_for_function``); raises FlareError."""


class InvokeRoute:
    """Invoke, whatever carried the request. ``headers`` must answer lower-case names."""

    def __init__(
        self,
        find_region: FindRegion,
        clock: Clock,
        authorize: Callable[[Identity, str, str | None], None] | None = None,
    ) -> None:
        self._find_region = find_region
        self._clock = clock
        self._authorize = authorize  # a function's invoke, against its role (api/authorization.py)

    async def __call__(
        self,
        caller: Identity,
        name: str,
        qualifier: str | None,
        headers: Mapping[str, str],
        read: ReadPayload,
        respond: Respond,
    ) -> None:
        """Resolve, run and answer one Invoke by the authenticated ``caller``. Raises FlareError
        (before anything was written) for the caller to send in AWS's error shape."""
        if self._authorize is not None:
            self._authorize(caller, name, qualifier)
        invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type not in INVOCATION_TYPES or headers.get("x-amz-log-type", "None") not in LOG_TYPES:
            check_invoke(name, qualifier, headers)
        tenant_id = headers.get("x-amz-tenant-id")
        if tenant_id is not None:
            check_tenant_id(name, qualifier, headers, tenant_id)
        try:
            region = self._find_region(caller, name, qualifier)
            version, invoked_arn = region.registry.resolve_invocation(name, qualifier)
        except FlareError:
            check_invoke(name, qualifier, headers)
            raise
        if tenant_id is not None or version.tenant_isolated:
            tenancy.check_invocation(version.tenant_isolated, tenant_id)
        if invocation_type == "DryRun":
            await respond(204, {REQUEST_ID_HEADER: new_request_id()}, b"")
            return
        if version.durable_timeout_s is not None:
            execution_name = headers.get(NAME_HEADER)
            if execution_name is not None and constraints.violations(
                _execution_name_shape(), execution_name, "durableExecutionName"
            ):
                check_invoke(name, qualifier, headers)
            limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
            payload = await read(limit)
            invoked = (parse_function_name(name, qualifier)[1], invoked_arn)
            durable = invoke_durable(
                region.durable, region.async_queue, version, invoked, invocation_type, headers, payload
            )
            await respond(*await durable)
            return
        if invocation_type == "Event":  # 202 once the event is durably queued (at most 1 MB)
            payload = await read(MAX_ASYNC_PAYLOAD)
            alias_or_version = parse_function_name(name, qualifier)[1]
            queue = region.async_queue
            request_id = await queue.accept(version, alias_or_version, invoked_arn, payload, tenant_id)
            await respond(202, {REQUEST_ID_HEADER: request_id}, b"")
            return
        payload = await read(MAX_SYNC_PAYLOAD)
        request_id = new_request_id()
        invocation = Invocation(
            request_id=request_id,
            payload=payload,
            invoked_arn=invoked_arn,
            trace_id=new_trace_id(self._clock.wall()),
            client_context=client_context(headers.get("x-amz-client-context")),
            tenant_id=tenant_id,
        )
        tail = headers.get("x-amz-log-type") == "Tail"
        async with region.router.invoke(version, invocation) as result:
            response_headers = {
                REQUEST_ID_HEADER: request_id,
                "X-Amz-Executed-Version": result.executed_version,
                "Content-Type": "application/json",
            }
            if result.function_error:
                response_headers["X-Amz-Function-Error"] = result.function_error
            if tail:
                response_headers["X-Amz-Log-Result"] = log_tail(result.log.text)
            await respond(200, response_headers, result.payload)


def add_routes(app: web.Application, route: InvokeRoute) -> None:
    """The aiohttp route: requests the front door's fast path passes on."""

    @aws_route
    async def invoke(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = empty_response(500)

        async def read(limit: int) -> bytes:
            return await read_payload(request, limit)

        async def respond(status: int, headers: dict[str, str], body: bytes) -> None:
            nonlocal response
            response = web.Response(status=status, body=body or None, headers=headers)
            await response.prepare(request)
            await response.write_eof()

        name = request.match_info["name"]
        qualifier = request.query.get("Qualifier") or None
        await route(identity_of(request), name, qualifier, request.headers, read, respond)
        return response

    @aws_route
    async def invoke_async(request: web.Request) -> web.StreamResponse:
        """InvokeAsync (deprecated by AWS, still answered): an ``Event`` invoke, answered 202."""
        answer: web.StreamResponse = empty_response(500)

        async def read(limit: int) -> bytes:
            return await read_payload(request, limit)

        async def respond(status: int, headers: dict[str, str], body: bytes) -> None:
            nonlocal answer  # the model's Status is the HTTP status: the body carries nothing
            answer = empty_response(status, headers.get(REQUEST_ID_HEADER))

        headers = CIMultiDict(request.headers)
        headers["X-Amz-Invocation-Type"] = "Event"
        await route(identity_of(request), request.match_info["name"], None, headers, read, respond)
        return answer

    app.router.add_post("/2015-03-31/functions/{name}/invocations", invoke)
    app.router.add_post("/2014-11-13/functions/{name}/invoke-async", invoke_async)
