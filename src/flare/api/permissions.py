"""HTTP routes of resource-based policies.

``POST   /2015-03-31/functions/{name}/policy``             AddPermission (201)
``GET    /2015-03-31/functions/{name}/policy``             GetPolicy (200)
``DELETE /2015-03-31/functions/{name}/policy/{sid}``       RemovePermission (204)
``PUT    /2026-07-09/resource-policy/{arn}``               PutResourcePolicy (200)
``GET    /2026-07-09/resource-policy/{arn}``               GetResourcePolicy (200)
``DELETE /2026-07-09/resource-policy/{arn}``               DeleteResourcePolicy (204)

Translation only: each handler calls ``FunctionPolicies`` and answers with what it returns.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, read_json
from flare.control.policies import FunctionPolicies

POLICY = "/2015-03-31/functions/{name}/policy"
RESOURCE_POLICY = "/2026-07-09/resource-policy/{arn:.+}"


def add_routes(app: web.Application, policies_of: Of[FunctionPolicies]) -> None:
    """Register the policy routes on ``app``, served by the request's ``policies``."""

    def qualifier(request: web.Request) -> str | None:
        return request.query.get("Qualifier") or None

    @aws_route
    async def add_permission(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        answer = policies_of(request).add_permission(request.match_info["name"], qualifier(request), body)
        return json_response(answer, status=201)

    @aws_route
    async def get_policy(request: web.Request) -> web.StreamResponse:
        return json_response(policies_of(request).get_policy(request.match_info["name"], qualifier(request)))

    @aws_route
    async def remove_permission(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        revision = request.query.get("RevisionId") or None
        policies_of(request).remove_permission(info["name"], qualifier(request), info["sid"], revision)
        return empty_response(204)

    @aws_route
    async def put_resource_policy(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        return json_response(policies_of(request).put_resource_policy(request.match_info["arn"], body))

    @aws_route
    async def get_resource_policy(request: web.Request) -> web.StreamResponse:
        return json_response(policies_of(request).get_resource_policy(request.match_info["arn"]))

    @aws_route
    async def delete_resource_policy(request: web.Request) -> web.StreamResponse:
        policies_of(request).delete_resource_policy(
            request.match_info["arn"], request.query.get("RevisionId") or None
        )
        return empty_response(204)

    app.router.add_post(POLICY, add_permission)
    app.router.add_get(POLICY, get_policy)
    app.router.add_delete(POLICY + "/{sid}", remove_permission)
    app.router.add_put(RESOURCE_POLICY, put_resource_policy)
    app.router.add_get(RESOURCE_POLICY, get_resource_policy)
    app.router.add_delete(RESOURCE_POLICY, delete_resource_policy)
