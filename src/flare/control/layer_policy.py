"""A layer version's resource policy: the statements AddLayerVersionPermission grants.

Each statement allows ``lambda:GetLayerVersion`` on one layer version to one account
(``Principal: {"AWS": "arn:aws:iam::<account>:root"}``), to every account (``Principal: "*"``),
or, with an ``OrganizationId``, to the accounts of one organization
(``Condition: {"StringEquals": {"aws:PrincipalOrgID": "o-..."}}``), written as AWS writes it.
The policy's RevisionId changes with every change; a policy with no statement left is no
policy. All functions here are pure: they take the statements and revision stored and return
new ones, raising AWS's errors.
"""

from __future__ import annotations

import json
from typing import Any

from flare.errors import PreconditionFailed, ResourceConflict, ResourceNotFound

Statement = dict[str, Any]

REVISION_MESSAGE = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetLayerPolicy API to retrieve the latest Revision Id"
)
NO_POLICY_MESSAGE = "No policy is associated with the given resource."


def statement(sid: str, action: str, principal: str, organization_id: str | None, resource: str) -> Statement:
    """The statement AddLayerVersionPermission stores for these request values."""
    written: Statement = {"Sid": sid, "Effect": "Allow", "Principal": _principal(principal)}
    written.update(Action=action, Resource=resource)
    if organization_id:
        written["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
    return written


def _principal(principal: str) -> str | dict[str, str]:
    """``*`` stays itself; an account id or account root ARN becomes ``{"AWS": <root ARN>}``."""
    if principal == "*":
        return principal
    if principal.isdigit():
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    return {"AWS": principal}


def added(
    statements: list[Statement], new: Statement, revision: str | None, current: str | None
) -> list[Statement]:
    """``statements`` with ``new`` appended. Raises ResourceConflict when its Sid is taken,
    PreconditionFailed when ``revision`` is given and is not ``current``."""
    if any(existing["Sid"] == new["Sid"] for existing in statements):
        raise ResourceConflict(
            f"The statement id ({new['Sid']}) provided already exists. Please provide a new statement id, "
            "or remove the existing statement."
        )
    _check_revision(revision, current)
    return [*statements, new]


def removed(
    statements: list[Statement], sid: str, revision: str | None, current: str | None
) -> list[Statement]:
    """``statements`` without statement ``sid``. Raises PreconditionFailed (revision, as
    ``added``), ResourceNotFound when there is no such statement."""
    _check_revision(revision, current)
    kept = [existing for existing in statements if existing["Sid"] != sid]
    if len(kept) == len(statements):
        raise ResourceNotFound(f"Statement {sid} is not found in resource policy.")
    return kept


def _check_revision(revision: str | None, current: str | None) -> None:
    if revision is not None and revision != current:
        raise PreconditionFailed(REVISION_MESSAGE)


def document(statements: list[Statement]) -> str:
    """The policy document GetLayerVersionPolicy answers (a JSON string, as AWS writes it).
    Raises ResourceNotFound when there is no statement."""
    if not statements:
        raise ResourceNotFound(NO_POLICY_MESSAGE)
    return dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements})


def dumps(value: Any) -> str:
    """JSON as AWS writes policies: no spaces."""
    return json.dumps(value, separators=(",", ":"))


def allows(statements: list[Statement], account: str, organization_id: str | None = None) -> bool:
    """Whether ``statements`` let ``account`` (a member of ``organization_id``, if any) use the
    layer version: for deciding a function of another account may list it in ``Layers``."""
    root = f"arn:aws:iam::{account}:root"
    for granted in statements:
        principal = granted["Principal"]
        if principal != "*" and principal != {"AWS": root}:
            continue
        condition = granted.get("Condition", {}).get("StringEquals", {}).get("aws:PrincipalOrgID")
        if condition is None or condition == organization_id:
            return True
    return False
