"""Resource-based policies of functions: the documents AWS writes, and what they allow. All pure.

A function, each of its published versions and each alias may carry one policy document::

    {"Version": "2012-10-17", "Id": "default", "Statement": [
        {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
         "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:...:function:f",
         "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}}]}

``statement_from_request`` turns an AddPermission request into a statement the way Lambda
writes it (an account id becomes ``{"AWS": "arn:aws:iam::<id>:root"}``, ``*`` stays a bare
string, a service is ``{"Service": ...}``, the optional fields become conditions);
``with_statement`` / ``without_statement`` change a document; ``dump`` is the compact JSON Lambda
answers with (``Statement`` in AddPermission, ``Policy`` in GetPolicy) and whose length the
20 KB limit counts; ``parse_document`` checks a PutResourcePolicy document.

``evaluate`` / ``allows`` answer whether a set of statements lets a caller do an action on a
resource, given the request's condition keys, the way IAM evaluates a resource-based policy: an
explicit ``Deny`` wins, else any matching ``Allow`` allows, else nothing does. Flare's request
authorization (the trust issue) reads a function's statements through
``FunctionPolicies.statements`` and asks this module.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flare.control import conditions
from flare.errors import InvalidParameterValue, PolicyLengthExceeded

POLICY_VERSION = "2012-10-17"
POLICY_ID = "default"
MAX_POLICY_BYTES = 20480
INVALID_PRINCIPAL = "The provided principal was invalid. Please check the principal and try again."
URL_AUTH_ONLY_FOR_URL_ACTION = "FunctionUrlAuthType is only supported for lambda:InvokeFunctionUrl action"
VIA_URL_ONLY_FOR_INVOKE = "InvokedViaFunctionUrl is only supported for lambda:InvokeFunction action"

_ACCOUNT = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:aws[a-zA-Z-]*:(iam|sts)::\d{12}:\S+")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.(amazonaws\.com(\.cn)?|amazon\.com)")
_ASSUMED_ROLE = re.compile(r"arn:(aws[a-zA-Z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+")
Statement = dict[str, Any]


def principal_element(principal: str, partition: str = "aws") -> str | dict[str, str]:
    """The ``Principal`` element Lambda writes for AddPermission's ``Principal``.

    Raises InvalidParameterValue for anything but ``*``, an account id, an IAM or STS ARN, or an
    AWS service principal (``<name>.amazonaws.com``, ``<name>.amazon.com``)."""
    if principal == "*":
        return "*"
    if _ACCOUNT.fullmatch(principal):
        return {"AWS": f"arn:{partition}:iam::{principal}:root"}
    if _IAM_ARN.fullmatch(principal):
        return {"AWS": principal}
    if _SERVICE.fullmatch(principal):
        return {"Service": principal}
    raise InvalidParameterValue(INVALID_PRINCIPAL)


def _condition(body: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The ``Condition`` element of AddPermission's optional fields, in Lambda's order."""
    equals = {
        key: body[field]
        for field, key in (
            ("SourceAccount", "AWS:SourceAccount"),
            ("FunctionUrlAuthType", "lambda:FunctionUrlAuthType"),
            ("PrincipalOrgID", "aws:PrincipalOrgID"),
            ("EventSourceToken", "lambda:EventSourceToken"),
        )
        if body.get(field)
    }
    condition: dict[str, dict[str, str]] = {}
    if equals:
        condition["StringEquals"] = equals
    if body.get("InvokedViaFunctionUrl") is True:
        condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    if body.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": body["SourceArn"]}
    return condition


def statement_from_request(body: Mapping[str, Any], resource_arn: str) -> Statement:
    """The statement an AddPermission ``body`` adds to the policy of ``resource_arn``.

    Raises InvalidParameterValue (a principal Lambda does not accept; ``FunctionUrlAuthType``
    on another action than ``lambda:InvokeFunctionUrl``; ``InvokedViaFunctionUrl`` on another
    action than ``lambda:InvokeFunction``)."""
    action = str(body.get("Action", ""))
    if body.get("FunctionUrlAuthType") and action != "lambda:InvokeFunctionUrl":
        raise InvalidParameterValue(URL_AUTH_ONLY_FOR_URL_ACTION)
    if body.get("InvokedViaFunctionUrl") is True and action != "lambda:InvokeFunction":
        raise InvalidParameterValue(VIA_URL_ONLY_FOR_INVOKE)
    statement: Statement = {
        "Sid": body["StatementId"],
        "Effect": "Allow",
        "Principal": principal_element(str(body.get("Principal", "")), resource_arn.split(":")[1]),
        "Action": action,
        "Resource": resource_arn,
    }
    condition = _condition(body)
    if condition:
        statement["Condition"] = condition
    return statement


def new_document() -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Id": POLICY_ID, "Statement": []}


def statements_of(document: Mapping[str, Any]) -> list[Statement]:
    """The statements of ``document`` as a list (IAM allows a single statement object)."""
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def sids(document: Mapping[str, Any]) -> list[str]:
    return [str(s["Sid"]) for s in statements_of(document) if "Sid" in s]


def with_statement(document: Mapping[str, Any] | None, statement: Statement) -> dict[str, Any]:
    """A copy of ``document`` (a new one when None) with ``statement`` appended."""
    base = dict(document) if document is not None else new_document()
    base["Statement"] = [*statements_of(base), statement]
    return base


def without_statement(document: Mapping[str, Any], sid: str) -> dict[str, Any]:
    """A copy of ``document`` without the statements whose ``Sid`` is ``sid``."""
    return {**document, "Statement": [s for s in statements_of(document) if s.get("Sid") != sid]}


def dump(value: object) -> str:
    """Compact JSON, as Lambda answers policies and statements."""
    return json.dumps(value, separators=(",", ":"))


def check_size(document: Mapping[str, Any]) -> str:
    """``dump(document)`` when it fits the 20 KB limit; else PolicyLengthExceeded."""
    text = dump(document)
    size = len(text.encode())
    if size > MAX_POLICY_BYTES:
        raise PolicyLengthExceeded(
            f"The final policy size ({size}) is bigger than the limit ({MAX_POLICY_BYTES})."
        )
    return text


def _check_statement(statement: object) -> None:
    if not isinstance(statement, dict):
        raise InvalidParameterValue("The policy is not valid: each statement must be a JSON object.")
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise InvalidParameterValue(
            "The policy is not valid: each statement needs an Effect of Allow or Deny."
        )
    for either in (("Principal", "NotPrincipal"), ("Action", "NotAction")):
        if sum(key in statement for key in either) != 1:
            raise InvalidParameterValue(
                f"The policy is not valid: each statement needs one of {' or '.join(either)}."
            )
    condition = statement.get("Condition", {})
    if not isinstance(condition, dict) or not all(map(conditions.is_known, condition)):
        raise InvalidParameterValue(f"The policy is not valid: unsupported Condition {dump(condition)}.")


def parse_document(text: str) -> dict[str, Any]:
    """A PutResourcePolicy ``Policy``: a JSON object with one or more statements, each with an
    Effect, a (Not)Principal and a (Not)Action, known condition operators and distinct Sids.
    Raises InvalidParameterValue, PolicyLengthExceeded."""
    try:
        document = json.loads(text)
    except ValueError:
        raise InvalidParameterValue("The policy is not valid JSON.") from None
    if not isinstance(document, dict) or not statements_of(document):
        raise InvalidParameterValue("The policy is not valid: it needs a Statement.")
    for statement in statements_of(document):
        _check_statement(statement)
    found = sids(document)
    if len(found) != len(set(found)):
        raise InvalidParameterValue("The policy is not valid: statement ids must be unique.")
    check_size(document)
    return document


# -- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who makes a request, as a resource policy sees it: an IAM identity (``arn``: a user,
    role, assumed-role session or an account's root), an AWS service (``service``, e.g.
    ``s3.amazonaws.com``), or nobody (both None: an anonymous caller)."""

    arn: str | None = None
    service: str | None = None

    @property
    def account(self) -> str | None:
        parts = self.arn.split(":") if self.arn else []
        return parts[4] if len(parts) > 5 else None


class Decision(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"  # an explicit Deny matched
    NO_MATCH = "NoMatch"  # no statement applies: implicitly denied


def _listed(value: object) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value])]


def _aws_principal_matches(wanted: str, caller: Caller) -> bool:
    if wanted == "*":
        return True
    if caller.arn is None:
        return False
    if _ACCOUNT.fullmatch(wanted):
        wanted = f"arn:aws:iam::{wanted}:root"
    parts = wanted.split(":")
    if len(parts) == 6 and parts[5] == "root":
        return caller.account == parts[4]
    session = _ASSUMED_ROLE.fullmatch(caller.arn)
    if session is not None and len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
        same_account = parts[4] == session.group(2)
        return same_account and parts[5].rsplit("/", 1)[-1] == session.group(3)
    return caller.arn == wanted


def principal_matches(element: object, caller: Caller) -> bool:
    """Whether a statement's ``Principal`` element names ``caller``."""
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    if any(_aws_principal_matches(p, caller) for p in _listed(element.get("AWS", []))):
        return True
    return caller.service is not None and caller.service in _listed(element.get("Service", []))


def _applies(
    statement: Mapping[str, Any], caller: Caller, action: str, resource: str, context: conditions.Context
) -> bool:
    if "Principal" in statement:
        who = principal_matches(statement["Principal"], caller)
    else:
        who = not principal_matches(statement.get("NotPrincipal"), caller)
    if "Action" in statement:
        what = any(conditions.glob_match(p, action, True) for p in _listed(statement["Action"]))
    else:
        what = not any(
            conditions.glob_match(p, action, True) for p in _listed(statement.get("NotAction", []))
        )
    if "NotResource" in statement:
        where = not any(conditions.glob_match(p, resource) for p in _listed(statement["NotResource"]))
    else:
        where = any(conditions.glob_match(p, resource) for p in _listed(statement.get("Resource", "*")))
    return who and what and where and conditions.holds(statement.get("Condition"), context)


def evaluate(
    statements: Iterable[Mapping[str, Any]],
    caller: Caller,
    action: str,
    resource: str,
    context: conditions.Context | None = None,
) -> Decision:
    """What ``statements`` say about ``caller`` doing ``action`` (e.g. ``lambda:InvokeFunction``)
    on ``resource`` (an ARN), with the request's condition keys ``context``
    (e.g. ``{"AWS:SourceArn": ..., "lambda:FunctionUrlAuthType": "NONE"}``)."""
    allowed = False
    for statement in statements:
        if _applies(statement, caller, action, resource, context or {}):
            if statement.get("Effect") == "Deny":
                return Decision.DENY
            allowed = allowed or statement.get("Effect") == "Allow"
    return Decision.ALLOW if allowed else Decision.NO_MATCH


def allows(
    statements: Iterable[Mapping[str, Any]],
    caller: Caller,
    action: str,
    resource: str,
    context: conditions.Context | None = None,
) -> bool:
    """Whether ``statements`` allow the request (see ``evaluate``)."""
    return evaluate(statements, caller, action, resource, context) is Decision.ALLOW
