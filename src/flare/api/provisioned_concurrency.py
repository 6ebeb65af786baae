"""HTTP routes of provisioned concurrency configs.

``PUT    /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=Q``  Put (202)
``GET    /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=Q``  Get (200)
``GET    /2019-09-30/functions/{name}/provisioned-concurrency?List=ALL``     List (200)
``DELETE /2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=Q``  Delete (204)

Translation only: each handler calls ``ProvisionedConcurrency`` and answers with what it returns.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, query_int, read_json
from flare.control.provisioned_concurrency import ProvisionedConcurrency

PATH = "/2019-09-30/functions/{name}/provisioned-concurrency"
_PROVISIONED: web.AppKey[Of[ProvisionedConcurrency]] = web.AppKey("provisioned")


def _configs(request: web.Request) -> ProvisionedConcurrency:
    return request.app[_PROVISIONED](request)


def _qualifier(request: web.Request) -> str | None:
    return request.query.get("Qualifier") or None


@aws_route
async def put_config(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    answer = _configs(request).put(request.match_info["name"], _qualifier(request), body)
    return json_response(answer, status=202)


@aws_route
async def get_or_list(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if "List" in request.query:
        marker = request.query.get("Marker") or None
        return json_response(_configs(request).list(name, marker, query_int(request, "MaxItems")))
    return json_response(_configs(request).get(name, _qualifier(request)))


@aws_route
async def delete_config(request: web.Request) -> web.StreamResponse:
    _configs(request).delete(request.match_info["name"], _qualifier(request))
    return empty_response(204)


def add_routes(app: web.Application, configs: Of[ProvisionedConcurrency]) -> None:
    """Register the provisioned concurrency routes on ``app``, served by ``configs``."""
    app[_PROVISIONED] = configs
    app.router.add_put(PATH, put_config)
    app.router.add_get(PATH, get_or_list)
    app.router.add_delete(PATH, delete_config)
