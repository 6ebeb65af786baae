"""Flare's routes for the policies of execution roles (no AWS equivalent on Lambda's port: IAM's
``PutRolePolicy`` family, simplified). A role is named by its ARN in the query.

``GET    /flare/v1/roles``                                    the caller's account's roles with
                                                             policies: ``{"Roles": [{"RoleArn",
                                                             "PolicyNames"}]}``
``GET    /flare/v1/roles/policies?RoleArn=A``                 every policy of role A:
                                                             ``{"RoleArn", "Policies": [{"PolicyName",
                                                             "PolicyDocument"}]}``
``GET    /flare/v1/roles/policies?RoleArn=A&PolicyName=N``    one: ``{"RoleArn", "PolicyName",
                                                             "PolicyDocument"}`` (404 NoSuchEntity)
``PUT    /flare/v1/roles/policies?RoleArn=A&PolicyName=N``    attach or replace N; the body is the
                                                             policy document (200)
``DELETE /flare/v1/roles/policies?RoleArn=A[&PolicyName=N]``  detach N, or every policy of A:
                                                             ``{"DeletedPolicies": count}``

Translation only: each handler calls ``RolePolicies`` for the request's account (its SigV4
credential's); errors leave in AWS's shape.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import region_of
from flare.api.wire import aws_route, json_response
from flare.errors import InvalidParameterValue, MalformedPolicyDocument
from flare.iam.policy import SYNTAX
from flare.iam.roles import RolePolicies

PATH = "/flare/v1/roles"
_ROLES: web.AppKey[RolePolicies] = web.AppKey("role_policies")


def _account(request: web.Request) -> str:
    return region_of(request).scope.account


def _role(request: web.Request) -> str:
    role = request.query.get("RoleArn")
    if not role:
        raise InvalidParameterValue("RoleArn is required.")
    return role


@aws_route
async def list_roles(request: web.Request) -> web.StreamResponse:
    found = request.app[_ROLES].roles(_account(request))
    return json_response({"Roles": [{"RoleArn": role, "PolicyNames": names} for role, names in found]})


@aws_route
async def get_policies(request: web.Request) -> web.StreamResponse:
    roles, role, name = request.app[_ROLES], _role(request), request.query.get("PolicyName")
    if name:
        document = roles.get(_account(request), role, name)
        return json_response({"RoleArn": role, "PolicyName": name, "PolicyDocument": document})
    documents = roles.documents(_account(request), role)
    policies = [{"PolicyName": found, "PolicyDocument": document} for found, document in documents]
    return json_response({"RoleArn": role, "Policies": policies})


@aws_route
async def put_policy(request: web.Request) -> web.StreamResponse:
    role, name = _role(request), request.query.get("PolicyName", "")
    try:
        text = (await request.read()).decode()
    except UnicodeDecodeError:
        raise MalformedPolicyDocument(SYNTAX) from None
    request.app[_ROLES].put(_account(request), role, name, text)
    return json_response({"RoleArn": role, "PolicyName": name})


@aws_route
async def delete_policies(request: web.Request) -> web.StreamResponse:
    name = request.query.get("PolicyName") or None
    gone = request.app[_ROLES].delete(_account(request), _role(request), name)
    return json_response({"DeletedPolicies": gone})


def add_routes(app: web.Application, roles: RolePolicies) -> None:
    """Register the role policy routes on ``app``, served by ``roles``."""
    app[_ROLES] = roles
    app.router.add_get(PATH, list_roles)
    app.router.add_get(PATH + "/policies", get_policies)
    app.router.add_put(PATH + "/policies", put_policy)
    app.router.add_delete(PATH + "/policies", delete_policies)
