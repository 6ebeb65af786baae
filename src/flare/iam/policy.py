"""IAM identity policies (an execution role's): the document checked as IAM checks it, compiled
once into a matcher, and evaluated with IAM's rules. All pure.

A document::

    {"Version": "2012-10-17",
     "Statement": [
        {"Sid": "Queues", "Effect": "Allow", "Action": ["sqs:Send*", "sqs:ReceiveMessage"],
         "Resource": "arn:aws:sqs:us-east-1:123456789012:orders-*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}]}

``parse`` / ``check`` refuse what IAM's ``PutRolePolicy`` refuses, with its words
(``MalformedPolicyDocument``: "Policy statement must contain resources.", "Policy document should
not specify a principal.", "Syntax errors in policy."...). ``Statement`` may be one object or a
list; ``Action``/``NotAction`` and ``Resource``/``NotResource`` a string or a list; ``Version``
``2012-10-17`` or ``2008-10-17`` (or absent).

``compile_policy`` turns a checked document into a ``Policy``: each statement's actions become
one case-insensitive regular expression, its resources one case-sensitive one (``*`` any run of
characters, ``?`` one, over the whole ARN: ``arn:aws:lambda:*:*:function:f`` does not match the
qualified ``...:function:f:1``, as in IAM), its ``Condition`` a tuple of (operator, key, values)
tested by ``control/conditions.py`` (``String*``, ``Arn*``, ``Bool``, ``Null``, ``Numeric*``, with
``...IfExists`` and ``ForAnyValue:``/``ForAllValues:``; several keys and operators AND, several
values OR; keys case-insensitive). A statement with a condition operator that module does not
know never matches (a Deny with one denies nothing, an Allow allows nothing): Flare fails closed
for allows and says so here rather than guess. Policy variables (``${aws:username}``) are not
substituted: they match literally.

``evaluate(policies, action, resource, context)`` applies IAM's rule across every policy of a
role: any matching ``Deny`` → ``Decision.DENY``; else any matching ``Allow`` → ``ALLOW``; else
``IMPLICIT_DENY``.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flare.control import conditions
from flare.errors import MalformedPolicyDocument

VERSIONS = ("2012-10-17", "2008-10-17")
SYNTAX = "Syntax errors in policy."
NO_PRINCIPAL = "Policy document should not specify a principal."
NEEDS_ACTIONS = "Policy statement must contain actions."
NEEDS_RESOURCES = "Policy statement must contain resources."
NEEDS_EFFECT = "Missing required field Effect."
NEEDS_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
UNIQUE_SIDS = "Statement IDs (SID) in a single policy must be unique."
_DOCUMENT_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "Principal",
        "NotPrincipal",
    }
)
_ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]*")

Context = Mapping[str, str | bool | list[str]]
"""A request's condition keys: ``{"lambda:FunctionArn": "arn:...", "aws:SecureTransport": False}``."""
Lowered = dict[str, list[str]]
"""A context as the matcher reads it: keys lower-cased, values lists of strings (``lowered``)."""


class Decision(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"  # an explicit Deny matched
    IMPLICIT_DENY = "ImplicitDeny"  # nothing allowed it


# -- checking -----------------------------------------------------------------------------------


def parse(text: str) -> dict[str, Any]:
    """The document in ``text`` (JSON), checked. Raises MalformedPolicyDocument."""
    try:
        document = json.loads(text)
    except ValueError:
        raise MalformedPolicyDocument(SYNTAX) from None
    check(document)
    assert isinstance(document, dict)
    return document


def statements_of(document: Mapping[str, Any]) -> list[Any]:
    """A document's statements as a list (IAM allows one statement object)."""
    found = document.get("Statement")
    return [found] if isinstance(found, dict) else list(found) if isinstance(found, list) else []


def check(document: object) -> None:
    """Raise MalformedPolicyDocument unless ``document`` is an identity policy IAM accepts (see
    the module docstring)."""
    if not isinstance(document, dict) or not _DOCUMENT_KEYS.issuperset(document):
        raise MalformedPolicyDocument(SYNTAX)
    if "Version" in document and document["Version"] not in VERSIONS:
        raise MalformedPolicyDocument(SYNTAX)
    if not isinstance(document.get("Statement"), dict | list) or not statements_of(document):
        raise MalformedPolicyDocument(SYNTAX)
    sids: list[str] = []
    for statement in statements_of(document):
        _check_statement(statement)
        if "Sid" in statement:
            sids.append(statement["Sid"])
    if len(sids) != len(set(sids)):
        raise MalformedPolicyDocument(UNIQUE_SIDS)


def _strings(value: object) -> bool:
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(item, str) for item in items)


def _check_statement(statement: object) -> None:
    if not isinstance(statement, dict) or not _STATEMENT_KEYS.issuperset(statement):
        raise MalformedPolicyDocument(SYNTAX)
    if "Principal" in statement or "NotPrincipal" in statement:
        raise MalformedPolicyDocument(NO_PRINCIPAL)
    if "Effect" not in statement:
        raise MalformedPolicyDocument(NEEDS_EFFECT)
    if statement["Effect"] not in ("Allow", "Deny") or not isinstance(statement.get("Sid", ""), str):
        raise MalformedPolicyDocument(SYNTAX)
    for pair, missing in (
        (("Action", "NotAction"), NEEDS_ACTIONS),
        (("Resource", "NotResource"), NEEDS_RESOURCES),
    ):
        present = [key for key in pair if key in statement]
        if not present:
            raise MalformedPolicyDocument(missing)
        if len(present) > 1 or not _strings(statement[present[0]]):
            raise MalformedPolicyDocument(SYNTAX)
    actions = statement.get("Action", statement.get("NotAction"))
    for action in actions if isinstance(actions, list) else [actions]:
        if action != "*" and not _ACTION.fullmatch(str(action)):
            raise MalformedPolicyDocument(NEEDS_VENDOR)
    _check_condition(statement.get("Condition", {}))


def _check_condition(condition: object) -> None:
    if not isinstance(condition, dict):
        raise MalformedPolicyDocument(SYNTAX)
    for keys in condition.values():
        if not isinstance(keys, dict) or not keys:
            raise MalformedPolicyDocument(SYNTAX)
        for key, value in keys.items():
            if ":" not in key:
                raise MalformedPolicyDocument(NEEDS_VENDOR)
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(item, str | bool | int | float) for item in items):
                raise MalformedPolicyDocument(SYNTAX)


# -- compiling ----------------------------------------------------------------------------------


def _glob(patterns: object) -> str:
    listed = patterns if isinstance(patterns, list) else [patterns]
    return "|".join(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
        for pattern in listed
    )


@dataclass(frozen=True, slots=True)
class Statement:
    """One compiled statement. ``conditions`` is None when it names an operator Flare does not
    know (the statement never matches)."""

    sid: str | None
    allow: bool
    actions: re.Pattern[str]
    not_action: bool
    resources: re.Pattern[str]
    not_resource: bool
    conditions: tuple[tuple[str, str, list[str]], ...] | None

    def applies(self, action: str, resource: str, context: Lowered) -> bool:
        """Whether this statement matches the request (its effect aside)."""
        if (self.actions.fullmatch(action) is None) != self.not_action:
            return False
        if (self.resources.fullmatch(resource) is None) != self.not_resource:
            return False
        if self.conditions is None:
            return False
        return all(conditions.key_holds(op, wanted, context.get(key)) for op, key, wanted in self.conditions)


def _compile_condition(block: Mapping[str, Any]) -> tuple[tuple[str, str, list[str]], ...] | None:
    if not all(map(conditions.is_known, block)):
        return None
    return tuple(
        (operator, key.lower(), conditions.values_of(value))
        for operator, keys in block.items()
        for key, value in keys.items()
    )


def compile_statement(statement: Mapping[str, Any]) -> Statement:
    """A checked statement, compiled."""
    return Statement(
        sid=statement.get("Sid"),
        allow=statement["Effect"] == "Allow",
        actions=re.compile(_glob(statement.get("Action", statement.get("NotAction"))), re.I | re.S),
        not_action="NotAction" in statement,
        resources=re.compile(_glob(statement.get("Resource", statement.get("NotResource"))), re.S),
        not_resource="NotResource" in statement,
        conditions=_compile_condition(statement.get("Condition", {})),
    )


@dataclass(frozen=True, slots=True)
class Policy:
    """A checked document and its compiled statements, Deny statements first."""

    document: dict[str, Any]
    statements: tuple[Statement, ...]


def compile_policy(document: dict[str, Any]) -> Policy:
    """Compile a document ``check`` accepted."""
    compiled = [compile_statement(statement) for statement in statements_of(document)]
    ordered = [s for s in compiled if not s.allow] + [s for s in compiled if s.allow]
    return Policy(document, tuple(ordered))


# -- evaluating ---------------------------------------------------------------------------------


def lowered(context: Context) -> Lowered:
    """``context`` as statements read it (do it once per request)."""
    return {key.lower(): conditions.values_of(value) for key, value in context.items()}


def evaluate(policies: Iterable[Policy], action: str, resource: str, context: Lowered) -> Decision:
    """IAM's decision for ``action`` on ``resource`` under every one of ``policies`` (see the
    module docstring); ``context`` comes from ``lowered``."""
    allowed = False
    for policy in policies:
        for statement in policy.statements:
            if statement.allow:
                if not allowed and statement.applies(action, resource, context):
                    allowed = True
            elif statement.applies(action, resource, context):
                return Decision.DENY
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
