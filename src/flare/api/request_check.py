"""Every Lambda API request checked against botocore's model before its route runs.

An aiohttp middleware: it finds the operation a request is for (``specs/models.py``), reads its
input from the path, query, headers and JSON body, and validates it (``constraints.check``).
A request that breaks the model is answered here with AWS's ``ValidationException`` (or
``InvalidRequestContentException``) and never reaches its route.

Requests that are no Lambda operation (Flare's own ``/flare/`` routes, ``/metrics``, the JSON
services at ``POST /``) pass through untouched. Operations whose body is a blob payload (Invoke)
are checked without reading the body: the route limits and reads it itself.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from flare.api.wire import Handler, error_response
from flare.errors import FlareError
from flare.specs import constraints
from flare.specs.models import RestOperation, rest_operations

# Members whose values Lambda checks itself, after the model, in its own words: ``Runtime``
# ("Value X at 'runtime' failed to satisfy constraint: ... or be a valid ARN", an
# InvalidParameterValueException listing the runtimes; control/validation.py).
SERVICE_CHECKED = {"CreateFunction": ("Runtime",), "UpdateFunctionConfiguration": ("Runtime",)}
CHECKED: web.RequestKey[tuple[RestOperation, dict[str, Any]] | None] = web.RequestKey("flare.checked_input")
"""Where the middleware leaves ``(operation, input)`` on the request for what runs after it."""


async def checked_input(request: web.Request) -> tuple[RestOperation, dict[str, Any]] | None:
    """``request``'s Lambda operation and its input, validated; None when it is no operation.

    Raises ValidationFailed or InvalidRequestContent.
    """
    found = rest_operations("lambda").match(request.method, request.rel_url.raw_path, request.query)
    if found is None:
        return None
    operation, labels = found
    body = None if operation.reads_raw_body else await request.read()
    params = operation.read_input(labels, request.query, request.headers, body, request.body_exists)
    if operation.input_shape is not None:
        constraints.check(operation.input_shape, params, SERVICE_CHECKED.get(operation.name, ()))
    return operation, params


@web.middleware
async def check_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The middleware: validate, leave the operation and its input at ``CHECKED`` (None for
    no Lambda operation), then hand on (see the module docstring)."""
    try:
        request[CHECKED] = await checked_input(request)
    except FlareError as error:
        return error_response(error)
    return await handler(request)
