"""Flare's own keep-warm schedule routes (no AWS equivalent: EventBridge rules, simplified).

``POST   /flare/v1/schedules``        create ``{"FunctionName", "ScheduleExpression", "Input"?}`` (201)
``GET    /flare/v1/schedules``        list (200, ``{"Schedules": [...]}``)
``GET    /flare/v1/schedules/{id}``   one schedule (200)
``DELETE /flare/v1/schedules/{id}``   remove (204)

Translation only: each handler calls ``Schedules``; errors leave in AWS's shape.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, read_json
from flare.rules.scheduler import Schedules

PATH = "/flare/v1/schedules"
_SCHEDULES: web.AppKey[Of[Schedules]] = web.AppKey("schedules")


def _schedules(request: web.Request) -> Schedules:
    return request.app[_SCHEDULES](request)


@aws_route
async def add_schedule(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    return json_response(_schedules(request).add(body), status=201)


@aws_route
async def list_schedules(request: web.Request) -> web.StreamResponse:
    return json_response(_schedules(request).list())


@aws_route
async def get_schedule(request: web.Request) -> web.StreamResponse:
    return json_response(_schedules(request).get(request.match_info["id"]))


@aws_route
async def remove_schedule(request: web.Request) -> web.StreamResponse:
    _schedules(request).remove(request.match_info["id"])
    return empty_response(204)


def add_routes(app: web.Application, schedules: Of[Schedules]) -> None:
    """Register the schedule routes on ``app``, served by ``schedules``."""
    app[_SCHEDULES] = schedules
    app.router.add_post(PATH, add_schedule)
    app.router.add_get(PATH, list_schedules)
    app.router.add_get(PATH + "/{id}", get_schedule)
    app.router.add_delete(PATH + "/{id}", remove_schedule)
