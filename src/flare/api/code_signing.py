"""HTTP routes of code signing configs and of the config a function uses.

``POST   /2020-04-22/code-signing-configs``                    CreateCodeSigningConfig (201)
``GET    /2020-04-22/code-signing-configs``                    ListCodeSigningConfigs (200)
``GET    /2020-04-22/code-signing-configs/{arn}``              GetCodeSigningConfig (200)
``PUT    /2020-04-22/code-signing-configs/{arn}``              UpdateCodeSigningConfig (200)
``DELETE /2020-04-22/code-signing-configs/{arn}``              DeleteCodeSigningConfig (204)
``GET    /2020-04-22/code-signing-configs/{arn}/functions``    ListFunctionsByCodeSigningConfig (200)
``PUT    /2020-06-30/functions/{name}/code-signing-config``    PutFunctionCodeSigningConfig (200)
``GET    /2020-06-30/functions/{name}/code-signing-config``    GetFunctionCodeSigningConfig (200)
``DELETE /2020-06-30/functions/{name}/code-signing-config``    DeleteFunctionCodeSigningConfig (204)

Translation only: each handler calls ``CodeSigning`` and answers with what it returns.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, query_int, read_json
from flare.control.code_signing import CodeSigning

CONFIGS = "/2020-04-22/code-signing-configs"
FUNCTION = "/2020-06-30/functions/{name}/code-signing-config"


def add_routes(app: web.Application, signing_of: Of[CodeSigning]) -> None:
    """Register the code signing routes on ``app``, served by the request's ``signing``."""

    @aws_route
    async def create(request: web.Request) -> web.StreamResponse:
        return json_response(signing_of(request).create(await read_json(request)), status=201)

    @aws_route
    async def list_configs(request: web.Request) -> web.StreamResponse:
        marker = request.query.get("Marker") or None
        return json_response(signing_of(request).list(marker, query_int(request, "MaxItems")))

    @aws_route
    async def get(request: web.Request) -> web.StreamResponse:
        return json_response(signing_of(request).get(request.match_info["arn"]))

    @aws_route
    async def update(request: web.Request) -> web.StreamResponse:
        return json_response(signing_of(request).update(request.match_info["arn"], await read_json(request)))

    @aws_route
    async def delete(request: web.Request) -> web.StreamResponse:
        signing_of(request).delete(request.match_info["arn"])
        return empty_response(204)

    @aws_route
    async def list_functions(request: web.Request) -> web.StreamResponse:
        marker = request.query.get("Marker") or None
        return json_response(
            signing_of(request).list_functions(
                request.match_info["arn"], marker, query_int(request, "MaxItems")
            )
        )

    @aws_route
    async def put_function(request: web.Request) -> web.StreamResponse:
        return json_response(
            signing_of(request).put_function(request.match_info["name"], await read_json(request))
        )

    @aws_route
    async def get_function(request: web.Request) -> web.StreamResponse:
        return json_response(signing_of(request).get_function(request.match_info["name"]))

    @aws_route
    async def delete_function(request: web.Request) -> web.StreamResponse:
        signing_of(request).delete_function(request.match_info["name"])
        return empty_response(204)

    app.router.add_post(CONFIGS, create)
    app.router.add_get(CONFIGS, list_configs)
    app.router.add_get(CONFIGS + "/{arn}", get)
    app.router.add_put(CONFIGS + "/{arn}", update)
    app.router.add_delete(CONFIGS + "/{arn}", delete)
    app.router.add_get(CONFIGS + "/{arn}/functions", list_functions)
    app.router.add_put(FUNCTION, put_function)
    app.router.add_get(FUNCTION, get_function)
    app.router.add_delete(FUNCTION, delete_function)
