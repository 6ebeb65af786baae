"""May a function's request go ahead? IAM's decision for a request signed with an execution
environment's credentials, and the one actor that makes it.

The caller is a function's role session, ``arn:aws:sts::<account>:assumed-role/<role>/<function>``.
For each resource a request needs (``iam/actions.py``), IAM's rules for identity-based and
resource-based policies (``verdict``, pure):

* an explicit ``Deny`` in the role's policies, or in the resource's policy, denies;
* same account: the role's policies *or* the resource's policy (``AddPermission``) allowing is
  enough;
* another account: the role's policies *and* the resource's policy must both allow.

The role's policies are those attached with ``flare roles put`` (``iam/roles.py``), else the
default policy (``iam/defaults.py``). A refusal is ``AccessDeniedException`` in AWS's words::

    User: arn:aws:sts::123456789012:assumed-role/my-role/my-function is not authorized to perform:
    lambda:UpdateFunctionConfiguration on resource: arn:aws:lambda:...:function:other because no
    identity-based policy allows the lambda:UpdateFunctionConfiguration action

(``... with an explicit deny in an identity-based policy`` for a Deny; ``resource-based`` when
the resource's side is what failed).

The condition keys every such request carries, beside the operation's own: ``aws:PrincipalArn``
(the role's ARN), ``aws:PrincipalAccount``, ``aws:RequestedRegion``, ``aws:PrincipalType``
(``AssumedRole``) and ``lambda:SourceFunctionArn`` (the calling function's ARN).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flare.control import permissions
from flare.errors import AccessDenied
from flare.iam import defaults, policy
from flare.iam.actions import Authorization
from flare.iam.roles import RolePolicies, role_name

MAX_CALLERS = 4096
"""Callers whose condition keys are kept ready (the cache is emptied past it)."""
ResourcePolicy = Callable[[str], Sequence[Mapping[str, Any]]]
"""The statements of the resource-based policy of a Lambda resource ARN (``[]``: none)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """A function's role session: who signs with an environment's credentials."""

    account: str
    region: str
    function_name: str
    role_arn: str

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{role_name(self.role_arn)}/{self.function_name}"

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"


class Verdict(enum.Enum):
    ALLOWED = ""
    IDENTITY_DENY = "with an explicit deny in an identity-based policy"
    RESOURCE_DENY = "with an explicit deny in a resource-based policy"
    NO_IDENTITY_ALLOW = "because no identity-based policy allows the {action} action"
    NO_RESOURCE_ALLOW = "because no resource-based policy allows the {action} action"


def verdict(identity: policy.Decision, resource: permissions.Decision, same_account: bool) -> Verdict:
    """IAM's rule for one resource, from the role's policies' decision ``identity`` and the
    resource policy's ``resource`` (NO_MATCH when it has none)."""
    if identity is policy.Decision.DENY:
        return Verdict.IDENTITY_DENY
    if resource is permissions.Decision.DENY:
        return Verdict.RESOURCE_DENY
    identity_allows = identity is policy.Decision.ALLOW
    resource_allows = resource is permissions.Decision.ALLOW
    if same_account:
        return Verdict.ALLOWED if identity_allows or resource_allows else Verdict.NO_IDENTITY_ALLOW
    if not identity_allows:
        return Verdict.NO_IDENTITY_ALLOW
    return Verdict.ALLOWED if resource_allows else Verdict.NO_RESOURCE_ALLOW


def denied(caller_arn: str, action: str, resource: str, why: Verdict) -> AccessDenied:
    """AWS's refusal (see the module docstring)."""
    reason = why.value.format(action=action)
    return AccessDenied(
        f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource} {reason}"
    )


def account_of(resource: str) -> str | None:
    """The account an ARN names (None for ``*`` or an ARN without one, e.g. S3's)."""
    parts = resource.split(":", 5)
    return parts[4] or None if len(parts) == 6 else None


def caller_context(caller: Caller) -> policy.Lowered:
    """The condition keys every request of ``caller`` carries."""
    return policy.lowered(
        {
            "aws:PrincipalArn": caller.role_arn,
            "aws:PrincipalAccount": caller.account,
            "aws:PrincipalType": "AssumedRole",
            "aws:RequestedRegion": caller.region,
            "lambda:SourceFunctionArn": caller.function_arn,
        }
    )


class Authorizer:
    """Decides function requests against their roles' policies (``roles``, else the default)
    and Lambda resources' own policies (``resource_policy``). Contract: one thread."""

    def __init__(self, roles: RolePolicies, resource_policy: ResourcePolicy) -> None:
        self._roles = roles
        self._resource_policy = resource_policy
        self._defaults: dict[tuple[str, str, str], policy.Policy] = {}
        self._contexts: dict[Caller, policy.Lowered] = {}  # caller => its own condition keys

    def __repr__(self) -> str:
        return f"<Authorizer {self._roles!r}>"

    def policies(self, caller: Caller) -> tuple[policy.Policy, ...]:
        """The role's compiled policies, or the default one for the calling function."""
        attached = self._roles.compiled(caller.role_arn)
        if attached:
            return attached
        key = (caller.account, caller.region, caller.function_name)
        found = self._defaults.get(key)
        if found is None:
            found = self._defaults[key] = defaults.compiled(*key)
        return (found,)

    def _resource_side(
        self, caller: Caller, action: str, resource: str, context: policy.Lowered
    ) -> permissions.Decision:
        if resource == "*" or resource.split(":", 3)[2:3] != ["lambda"]:
            return permissions.Decision.NO_MATCH
        statements = self._resource_policy(resource)
        if not statements:
            return permissions.Decision.NO_MATCH
        return permissions.evaluate(statements, permissions.Caller(arn=caller.arn), action, resource, context)

    def authorize(self, caller: Caller, request: Authorization) -> None:
        """Return when ``caller`` may make ``request``; else raise AccessDenied (AWS's words)."""
        policies = self.policies(caller)
        context = self._contexts.get(caller)
        if context is None:
            if len(self._contexts) > MAX_CALLERS:
                self._contexts.clear()
            context = self._contexts[caller] = caller_context(caller)
        if request.context:
            context = {**context, **policy.lowered(request.context)}
        for resource in request.resources:
            identity = policy.evaluate(policies, request.action, resource, context)
            same = account_of(resource) in (None, caller.account)
            why = verdict(identity, self._resource_side(caller, request.action, resource, context), same)
            if why is not Verdict.ALLOWED:
                raise denied(caller.arn, request.action, resource, why)
