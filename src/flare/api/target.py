"""``POST /`` for AWS's JSON-protocol services, chosen by ``X-Amz-Target``.

SQS (``awsJson1_0``, ``X-Amz-Target: AmazonSQS.SendMessage``), Kinesis (``awsJson1_1``,
``X-Amz-Target: Kinesis_20131202.PutRecord``) and CloudWatch Logs (``awsJson1_1``,
``X-Amz-Target: Logs_20140328.PutLogEvents``) share Flare's port with the Lambda REST API, which
never posts to ``/``. A ``JsonEndpoint`` names a target prefix and turns (operation, JSON body,
request) into a JSON result; this module reads the body, dispatches, and writes results and
errors in the JSON protocol's shape: ``{"__type": ..., "message": ...}`` with the error's own
headers (SQS's ``x-amzn-query-error``), HTTP 400 for a client's fault.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from flare.api.wire import REQUEST_ID_HEADER, error_response, read_json
from flare.errors import (
    AccessDenied,
    AuthenticationFailed,
    FlareError,
    InvalidRequestContent,
    SerializationFailed,
    ServiceException,
    UnknownOperation,
    ValidationFailed,
)
from flare.ids import new_request_id
from flare.specs import constraints
from flare.specs.models import service_model

log = logging.getLogger("flare.api")

Call = Callable[[str, dict[str, Any], web.Request], Awaitable[dict[str, Any] | web.StreamResponse]]


@dataclass(frozen=True)
class JsonEndpoint:
    """One JSON-protocol service: ``call(operation, body, request)`` returns the result (or a
    response it streamed itself, e.g. an event stream) or raises a FlareError (UnknownOperation
    for an operation it lacks). ``close`` runs when the server shuts down, before in-flight
    requests are awaited (so long polls end).

    With ``model`` (a botocore service name) every request is first checked against that
    model: a value of the wrong JSON type is a ``SerializationException``, a broken constraint
    is ``invalid(message)`` (AWS's ``ValidationException`` unless the service names its own,
    as CloudWatch Logs does with ``InvalidParameterException``).

    ``signing_name`` is the service a request's SigV4 credential must be scoped to (``sqs``);
    a ``query_compatible`` service (SQS) answers authentication failures with their Query-era
    code and status too (``auth_error``).
    """

    prefix: str
    content_type: str
    error_namespace: str
    call: Call
    close: Callable[[], None] | None = None
    model: str | None = None
    invalid: Callable[[str], FlareError] = ValidationFailed
    signing_name: str = ""
    query_compatible: bool = False


_ENDPOINTS = web.AppKey("json_endpoints", dict[str, JsonEndpoint])


def _response(body: dict[str, Any], endpoint: JsonEndpoint, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        headers={"Content-Type": endpoint.content_type, REQUEST_ID_HEADER: new_request_id()},
    )


def _error(error: FlareError, endpoint: JsonEndpoint) -> web.Response:
    kind = f"{endpoint.error_namespace}#{error.aws_name}" if endpoint.error_namespace else error.aws_name
    response = _response({"__type": kind, "message": error.message}, endpoint, error.status)
    response.headers.update(error.headers())
    return response


AUTH_NAMESPACE = "com.amazon.coral.service"
"""Where AWS's JSON front end names the authentication errors it answers (``__type``)."""


def endpoint_of(request: web.Request) -> JsonEndpoint | None:
    """The JSON service a request is for (``POST /`` with a known ``X-Amz-Target``), or None."""
    if request.method != "POST" or request.path != "/":
        return None
    prefix = request.headers.get("X-Amz-Target", "").partition(".")[0]
    return request.app[_ENDPOINTS].get(prefix)


def signing_service(request: web.Request) -> str | None:
    """The SigV4 service of the JSON service a request is for, or None when it is for none."""
    endpoint = endpoint_of(request)
    return endpoint.signing_name if endpoint is not None else None


def auth_error(request: web.Request, error: AuthenticationFailed) -> web.Response | None:
    """A JSON service's answer to a request that failed authentication, as AWS's JSON front end
    answers (400, ``__type`` ``com.amazon.coral.service#<name>``; SQS its Query code in
    ``x-amzn-query-error`` and its status); None when the request is for no JSON service."""
    endpoint = endpoint_of(request)
    if endpoint is None:
        return None
    status = error.query_status if endpoint.query_compatible else error.json_status
    response = _response(
        {"__type": f"{AUTH_NAMESPACE}#{error.aws_name}", "message": error.message}, endpoint, status
    )
    if endpoint.query_compatible:
        response.headers["x-amzn-query-error"] = f"{error.query_code};Sender"
    return response


def denied_error(request: web.Request, error: AccessDenied) -> web.Response | None:
    """A JSON service's answer to a request its caller's IAM policies refuse (``iam/``): 400 with
    ``__type`` ``AccessDeniedException`` (Kinesis, Logs), SQS its Query code ``AccessDenied``
    (``x-amzn-query-error``) and 403; None when the request is for no JSON service."""
    endpoint = endpoint_of(request)
    if endpoint is None:
        return None
    status = 403 if endpoint.query_compatible else 400
    response = _response({"__type": error.aws_name, "message": error.message}, endpoint, status)
    if endpoint.query_compatible:
        response.headers["x-amzn-query-error"] = "AccessDenied;Sender"
    return response


def _check(endpoint: JsonEndpoint, operation: str, body: dict[str, Any]) -> None:
    """Raise what the service answers when ``body`` breaks ``operation``'s model (an operation
    the model lacks is left to ``call``, which answers it as unknown)."""
    assert endpoint.model is not None
    model = service_model(endpoint.model)
    if operation not in model.operation_names:
        return
    shape = model.operation_model(operation).input_shape
    if shape is None:
        return
    try:
        constraints.check(shape, body)
    except InvalidRequestContent as error:
        raise SerializationFailed(error.message.removeprefix(constraints.UNPARSEABLE)) from None
    except ValidationFailed as error:
        raise endpoint.invalid(error.message) from None


async def dispatch(request: web.Request) -> web.StreamResponse:
    prefix, _, operation = request.headers.get("X-Amz-Target", "").partition(".")
    endpoint = request.app[_ENDPOINTS].get(prefix)
    if endpoint is None:
        return error_response(UnknownOperation(f"Flare does not implement {request.method} {request.path}"))
    try:
        body = await read_json(request)
        if endpoint.model is not None:
            _check(endpoint, operation, body)
        result = await endpoint.call(operation, body, request)
        return result if isinstance(result, web.StreamResponse) else _response(result, endpoint)
    except FlareError as error:
        return _error(error, endpoint)
    except Exception:
        log.exception("unhandled error in %s", request.headers.get("X-Amz-Target"))
        return _error(ServiceException("An internal error occurred."), endpoint)


def add_routes(app: web.Application, *endpoints: JsonEndpoint) -> None:
    app[_ENDPOINTS] = {endpoint.prefix: endpoint for endpoint in endpoints}
    app.router.add_post("/", dispatch)

    async def close(_: web.Application) -> None:
        for endpoint in endpoints:
            if endpoint.close is not None:
                endpoint.close()

    app.on_shutdown.append(close)
