"""HTTP routes of FunctionEventInvokeConfig (``/2019-09-25``).

``PUT    /2019-09-25/functions/{name}/event-invoke-config?Qualifier=``  Put (200, replaces)
``POST   /2019-09-25/functions/{name}/event-invoke-config?Qualifier=``  Update (200, merges)
``GET    /2019-09-25/functions/{name}/event-invoke-config?Qualifier=``  Get (200)
``DELETE /2019-09-25/functions/{name}/event-invoke-config?Qualifier=``  Delete (204)
``GET    /2019-09-25/functions/{name}/event-invoke-config/list``        List (200)

Translation only: each handler calls ``InvokeConfigs`` and answers with what it returns.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, query_int, read_json
from flare.events.invoke_config import InvokeConfigs

_CONFIGS: web.AppKey[Of[InvokeConfigs]] = web.AppKey("invoke_configs")
_PATH = "/2019-09-25/functions/{name}/event-invoke-config"


def _args(request: web.Request) -> tuple[InvokeConfigs, str, str | None]:
    return request.app[_CONFIGS](request), request.match_info["name"], request.query.get("Qualifier") or None


@aws_route
async def put_config(request: web.Request) -> web.StreamResponse:
    configs, name, qualifier = _args(request)
    return json_response(configs.put(name, qualifier, await read_json(request)))


@aws_route
async def update_config(request: web.Request) -> web.StreamResponse:
    configs, name, qualifier = _args(request)
    return json_response(configs.update(name, qualifier, await read_json(request)))


@aws_route
async def get_config(request: web.Request) -> web.StreamResponse:
    configs, name, qualifier = _args(request)
    return json_response(configs.get(name, qualifier))


@aws_route
async def delete_config(request: web.Request) -> web.StreamResponse:
    configs, name, qualifier = _args(request)
    configs.delete(name, qualifier)
    return empty_response(204)


@aws_route
async def list_configs(request: web.Request) -> web.StreamResponse:
    configs, name, _ = _args(request)
    marker = request.query.get("Marker") or None
    return json_response(configs.list(name, marker, query_int(request, "MaxItems")))


def add_routes(app: web.Application, configs: Of[InvokeConfigs]) -> None:
    """Register the event-invoke-config routes on ``app``, served by ``configs``."""
    app[_CONFIGS] = configs
    app.router.add_put(_PATH, put_config)
    app.router.add_post(_PATH, update_config)
    app.router.add_get(_PATH, get_config)
    app.router.add_delete(_PATH, delete_config)
    app.router.add_get(_PATH + "/list", list_configs)
