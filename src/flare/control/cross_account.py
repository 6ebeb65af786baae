"""Reaching a function of another account or region by its ARN: where the request goes, and
whether it may.

A request acts in its caller's scope (``scope.py``). A function operation may name its function
by an ARN of another scope:

* another region: Lambda answers ``ResourceNotFoundException`` "Functions from 'eu-west-1' are
  not reachable in this region ('us-east-1')", whatever the account;
* another account, same region: the request acts on that account's function when the policy of
  what it names (the function's, or the version's or alias's when it names one: ``AddPermission``
  with ``Qualifier``) allows the caller the operation's action on that ARN, e.g.
  ``lambda:InvokeFunction`` for ``Invoke``; otherwise ``AccessDeniedException`` "User: <caller> is
  not authorized to perform: <action> on resource: <ARN> because no resource-based policy allows
  the <action> action" (an account Flare has never seen has no policies, so the same).

Other Lambda resources named by ARN (``TagResource``'s ``Resource``, ``GetResourcePolicy``'s
``ResourceArn``, a code signing config's ARN) must be the caller's own: another region's is not
found, another account's ``AccessDeniedException`` (``check_own``). Layer versions have policies
of their own (``AddLayerVersionPermission``): ``control/layers.py`` decides those.

The caller, as a policy sees it, is its account's root (``arn:aws:iam::<account>:root``): Flare
knows an access key's account, not the IAM user behind it; a function's own request is its
execution role's session (``arn:aws:sts::<account>:assumed-role/<role>/<function>``), which a
policy naming the role (or the account) matches. All pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flare.control import arns, permissions
from flare.errors import AccessDenied, ResourceNotFound
from flare.scope import Scope

# operations whose IAM action is not "lambda:<operation>"
_ACTIONS = {
    "Invoke": "InvokeFunction",
    "InvokeWithResponseStream": "InvokeFunction",
    "InvokeAsync": "InvokeFunction",
}


def action_of(operation: str) -> str:
    """The IAM action a Lambda operation is authorized as."""
    return f"lambda:{_ACTIONS.get(operation, operation)}"


def caller_arn(account: str) -> str:
    """A caller of ``account``, as a policy sees it (see the module docstring)."""
    return f"arn:aws:iam::{account}:root"


def owner_of(caller: Scope, function_name: str) -> Scope:
    """The scope of the function ``function_name`` names (well-formed: checked by the model
    first): the caller's own unless it is an ARN of another account. Raises ResourceNotFound
    for an ARN of another region."""
    if ":" not in function_name:  # a bare name: the invoke path's usual case
        return caller
    account, region = arns.scope_named(function_name)
    if region is not None and region != caller.region:
        raise ResourceNotFound(
            f"Functions from '{region}' are not reachable in this region ('{caller.region}')"
        )
    if account is None or account == caller.account:
        return caller
    return Scope(account, caller.region)


RESOURCE_ARN_MEMBERS = ("Resource", "ResourceArn", "CodeSigningConfigArn")
"""Request members that name a Lambda resource by ARN (besides ``FunctionName``)."""


def check_own(caller: Scope, operation: str, arn: str) -> None:
    """Raise unless the Lambda resource ``arn`` names is in the caller's scope (an ARN of no
    Lambda resource is left to the operation's own checks): ResourceNotFound for another
    region's, AccessDenied for another account's."""
    parts = arn.split(":", 6)
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda":
        return
    region, account = parts[3], parts[4]
    if region != caller.region:
        if parts[5] == "function":
            raise ResourceNotFound(
                f"Functions from '{region}' are not reachable in this region ('{caller.region}')"
            )
        raise ResourceNotFound("The resource you requested does not exist.")
    if account != caller.account:
        check_allowed(caller, action_of(operation), arn, [])


def check_allowed(
    caller: Scope,
    action: str,
    resource_arn: str,
    statements: Iterable[Mapping[str, Any]],
    principal_arn: str | None = None,
) -> None:
    """Raise AccessDenied unless ``statements`` (the resource's policy) allow ``caller``
    ``action`` on ``resource_arn``; ``principal_arn``: who the caller is when Flare knows more
    than its account (a function's role session), else its account's root."""
    who = permissions.Caller(arn=principal_arn or caller_arn(caller.account))
    if not permissions.allows(
        statements, who, action, resource_arn, {"aws:PrincipalAccount": caller.account}
    ):
        raise denied(caller.account, action, resource_arn, principal_arn)


def denied(account: str, action: str, resource_arn: str, principal_arn: str | None = None) -> AccessDenied:
    """AWS's refusal of ``account`` (or ``principal_arn``) doing ``action`` on another
    account's ``resource_arn``."""
    return AccessDenied(
        f"User: {principal_arn or caller_arn(account)} is not authorized to perform: {action} on resource: "
        f"{resource_arn} because no resource-based policy allows the {action} action"
    )
