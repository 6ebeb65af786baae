"""Durable executions' operations (Lambda, December 2025), answered until Flare runs them.

Flare does not run durable functions yet: CreateFunction and UpdateFunctionConfiguration refuse
``DurableConfig`` (``control/validation.py``), so no durable execution ever exists. Each
operation answers what AWS answers when there is none: ListDurableExecutionsByFunction lists
nothing for a function that exists; an operation on an execution or a callback is a 404
``ResourceNotFoundException``; CheckpointDurableExecution and GetDurableExecutionState, whose
models have no not-found error, refuse the ARN as an invalid parameter. The wording of the
refusals is Flare's.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, json_response
from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, ResourceNotFound

EXECUTIONS = "/2025-12-01/durable-executions/{arn}"
CALLBACKS = "/2025-12-01/durable-execution-callbacks/{callback}"
NOT_DURABLE = "Flare does not run durable functions yet, so no durable execution exists"


def add_routes(app: web.Application, registry_of: Of[Registry]) -> None:
    @aws_route
    async def list_executions(request: web.Request) -> web.StreamResponse:
        registry_of(request).get_configuration(
            request.match_info["name"], request.query.get("Qualifier") or None
        )
        return json_response({"DurableExecutions": []})

    @aws_route
    async def no_execution(request: web.Request) -> web.StreamResponse:
        raise ResourceNotFound(f"Durable execution not found: {request.match_info['arn']}. {NOT_DURABLE}.")

    @aws_route
    async def invalid_execution(request: web.Request) -> web.StreamResponse:
        raise InvalidParameterValue(f"Invalid durable execution: {request.match_info['arn']}. {NOT_DURABLE}.")

    @aws_route
    async def no_callback(request: web.Request) -> web.StreamResponse:
        raise ResourceNotFound(f"Callback not found: {request.match_info['callback']}. {NOT_DURABLE}.")

    app.router.add_get("/2025-12-01/functions/{name}/durable-executions", list_executions)
    app.router.add_get(EXECUTIONS, no_execution)
    app.router.add_delete(EXECUTIONS, no_execution)
    app.router.add_get(EXECUTIONS + "/history", no_execution)
    app.router.add_get(EXECUTIONS + "/state", invalid_execution)  # its model has no not-found error
    for suffix in ("/pause", "/resume", "/stop"):
        app.router.add_post(EXECUTIONS + suffix, no_execution)
    app.router.add_post(EXECUTIONS + "/checkpoint", invalid_execution)
    for suffix in ("/succeed", "/fail", "/heartbeat"):
        app.router.add_post(CALLBACKS + suffix, no_callback)
