"""Durable executions' operations (Lambda, December 2025): translation to ``DurableExecutions``.

Each handler reads the operation's input as the model check left it (``request_check.CHECKED``)
and calls the scope's ``DurableExecutions``; errors leave in AWS's shape. Answered:
GetDurableExecution, ListDurableExecutionsByFunction (its filters, ``Marker`` / ``MaxItems``),
GetDurableExecutionHistory, StopDurableExecution, and the SDK's two calls
CheckpointDurableExecution and GetDurableExecutionState (an unknown ARN or a stale token is an
invalid parameter: their models have no not-found error).

SendDurableExecutionCallbackSuccess (its body is the result), Failure (its body the
ErrorObject) and Heartbeat answer a callback a CALLBACK operation waits for (``callbacks``): 404
for a callback id Flare never gave, InvalidParameterValue for one already answered or timed out.
PauseDurableExecution / ResumeDurableExecution (their ``ClientToken``, ``Reason``,
``ExecutionTimeoutPaused``) and DeleteDurableExecution (of an ended execution) answer as the
model says: 404 for an execution Flare does not have, ResourceConflictException for one in the
wrong status.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from flare.api.request_check import CHECKED
from flare.api.scoping import Of
from flare.api.wire import aws_route, json_response
from flare.control.registry import Registry
from flare.durable import wire
from flare.durable.executions import DurableExecutions
from flare.durable.limits import check_callback_result
from flare.errors import InvalidParameterValue

EXECUTIONS = "/2025-12-01/durable-executions/{arn}"
CALLBACKS = "/2025-12-01/durable-execution-callbacks/{callback}"


def _input(request: web.Request) -> dict[str, Any]:
    checked = request.get(CHECKED)
    return dict(checked[1]) if checked is not None else {}


def _page(items: list[Any], params: dict[str, Any], default: int = 1000) -> tuple[list[Any], str | None]:
    """``items`` from ``Marker`` (an index), at most ``MaxItems``; the next marker."""
    try:
        start = int(params.get("Marker") or 0)
    except ValueError:
        raise InvalidParameterValue(f"Invalid marker: {params.get('Marker')}") from None
    limit = int(params.get("MaxItems") or default)
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else None)


def _callback(request: web.Request) -> str:
    return str(_input(request).get("CallbackId") or request.match_info["callback"])


def _epoch(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return (
        float(str(value))
        if str(value).replace(".", "", 1).isdigit()
        else dt.datetime.fromisoformat(str(value)).timestamp()
    )


def add_routes(app: web.Application, registry_of: Of[Registry], durable_of: Of[DurableExecutions]) -> None:
    @aws_route
    async def list_executions(request: web.Request) -> web.StreamResponse:
        params = _input(request)
        version = registry_of(request).resolve(request.match_info["name"], params.get("Qualifier"))
        rows = durable_of(request).of_function(version.name)
        if params.get("Qualifier"):
            rows = [row for row in rows if row.version == version.version]
        if params.get("DurableExecutionName"):
            rows = [row for row in rows if row.name == params["DurableExecutionName"]]
        if params.get("Statuses"):
            rows = [row for row in rows if row.status in params["Statuses"]]
        after, before = _epoch(params.get("StartedAfter")), _epoch(params.get("StartedBefore"))
        rows = [
            row
            for row in rows
            if (after is None or row.started >= after) and (before is None or row.started < before)
        ]
        if params.get("ReverseOrder"):
            rows.reverse()
        page, marker = _page(rows, params)
        body: dict[str, Any] = {"DurableExecutions": [wire.summary(row) for row in page]}
        if marker:
            body["NextMarker"] = marker
        return json_response(body)

    @aws_route
    async def get_execution(request: web.Request) -> web.StreamResponse:
        params = _input(request)
        row = durable_of(request).get(params["DurableExecutionArn"])
        return json_response(wire.describe(row, params.get("IncludeExecutionData") is not False))

    @aws_route
    async def history(request: web.Request) -> web.StreamResponse:
        params = _input(request)
        events = durable_of(request).history(params["DurableExecutionArn"])
        if params.get("IncludeExecutionData") is False:
            events = [
                {key: value for key, value in event.items() if not key.endswith("Details")}
                for event in events
            ]
        if params.get("ReverseOrder"):
            events.reverse()
        page, marker = _page(events, params, 100)
        body: dict[str, Any] = {"Events": page}
        if marker:
            body["NextMarker"] = marker
        return json_response(body)

    @aws_route
    async def stop(request: web.Request) -> web.StreamResponse:
        params = _input(request)
        stopped = durable_of(request).stop_execution(params["DurableExecutionArn"], params.get("Error"))
        return json_response({"StopTimestamp": stopped})

    @aws_route
    async def checkpoint(request: web.Request) -> web.StreamResponse:
        params = _input(request)
        answer = durable_of(request).checkpoint(
            params["DurableExecutionArn"],
            params["CheckpointToken"],
            list(params.get("Updates") or []),
            params.get("ClientToken"),
        )
        return json_response(answer)

    @aws_route
    async def state(request: web.Request) -> web.StreamResponse:
        params = _input(request)
        answer = durable_of(request).state(
            params["DurableExecutionArn"],
            params["CheckpointToken"],
            params.get("Marker"),
            params.get("MaxItems"),
        )
        return json_response(answer)

    @aws_route
    async def pause(request: web.Request) -> web.StreamResponse:
        params = _input(request)
        durable_of(request).pause(
            params["DurableExecutionArn"],
            params.get("Reason"),
            params.get("ExecutionTimeoutPaused"),
            params.get("ClientToken"),
        )
        return json_response({}, status=202)

    @aws_route
    async def resume(request: web.Request) -> web.StreamResponse:
        params = _input(request)
        durable_of(request).resume(
            params["DurableExecutionArn"], params.get("Reason"), params.get("ClientToken")
        )
        return json_response({}, status=202)

    @aws_route
    async def delete(request: web.Request) -> web.StreamResponse:
        deleted = durable_of(request).delete_execution(_input(request)["DurableExecutionArn"])
        return json_response({"DeletionRequestTimestamp": deleted}, status=202)

    @aws_route
    async def succeed(request: web.Request) -> web.StreamResponse:
        result = await request.read()
        check_callback_result(result)
        answer = result.decode(errors="replace") if result else None  # no body: no result
        durable_of(request).answer_callback(_callback(request), answer, None)
        return json_response({})

    @aws_route
    async def fail(request: web.Request) -> web.StreamResponse:
        error = _input(request).get("Error") or {}
        durable_of(request).answer_callback(_callback(request), None, dict(error))
        return json_response({})

    @aws_route
    async def heartbeat(request: web.Request) -> web.StreamResponse:
        durable_of(request).heartbeat(_callback(request))
        return json_response({})

    app.router.add_get("/2025-12-01/functions/{name}/durable-executions", list_executions)
    app.router.add_get(EXECUTIONS, get_execution)
    app.router.add_delete(EXECUTIONS, delete)
    app.router.add_get(EXECUTIONS + "/history", history)
    app.router.add_get(EXECUTIONS + "/state", state)
    app.router.add_post(EXECUTIONS + "/pause", pause)
    app.router.add_post(EXECUTIONS + "/resume", resume)
    app.router.add_post(EXECUTIONS + "/stop", stop)
    app.router.add_post(EXECUTIONS + "/checkpoint", checkpoint)
    app.router.add_post(CALLBACKS + "/succeed", succeed)
    app.router.add_post(CALLBACKS + "/fail", fail)
    app.router.add_post(CALLBACKS + "/heartbeat", heartbeat)
