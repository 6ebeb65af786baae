"""HTTP routes of capacity providers and function scaling configs (Lambda Managed Instances),
which Flare does not support: see ``flare.control.capacity_providers`` for what each answers.

``POST   /2025-11-30/capacity-providers``                           CreateCapacityProvider
``GET    /2025-11-30/capacity-providers``                           ListCapacityProviders
``GET    /2025-11-30/capacity-providers/{name}``                    GetCapacityProvider
``PUT    /2025-11-30/capacity-providers/{name}``                    UpdateCapacityProvider
``DELETE /2025-11-30/capacity-providers/{name}``                    DeleteCapacityProvider
``GET    /2025-11-30/capacity-providers/{name}/function-versions``  ListFunctionVersionsByCapacityProvider
``GET    /2025-11-30/functions/{name}/function-scaling-config``     GetFunctionScalingConfig
``PUT    /2025-11-30/functions/{name}/function-scaling-config``     PutFunctionScalingConfig
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, json_response, read_json
from flare.control.capacity_providers import CapacityProviders

PROVIDERS = "/2025-11-30/capacity-providers"
SCALING = "/2025-11-30/functions/{name}/function-scaling-config"


def add_routes(app: web.Application, providers_of: Of[CapacityProviders]) -> None:
    """Register the routes on ``app``, served by the request's ``providers``."""

    @aws_route
    async def create(request: web.Request) -> web.StreamResponse:
        return json_response(providers_of(request).create(await read_json(request)), status=202)

    @aws_route
    async def list_providers(request: web.Request) -> web.StreamResponse:
        return json_response(providers_of(request).list())

    @aws_route
    async def missing(request: web.Request) -> web.StreamResponse:
        raise providers_of(request).missing(request.match_info["name"])

    @aws_route
    async def scaling_config(request: web.Request) -> web.StreamResponse:
        raise providers_of(request).scaling_config(
            request.match_info["name"], request.query.get("Qualifier") or None
        )

    app.router.add_post(PROVIDERS, create)
    app.router.add_get(PROVIDERS, list_providers)
    for method in ("GET", "PUT", "DELETE"):
        app.router.add_route(method, PROVIDERS + "/{name}", missing)
    app.router.add_get(PROVIDERS + "/{name}/function-versions", missing)
    app.router.add_get(SCALING, scaling_config)
    app.router.add_put(SCALING, scaling_config)
