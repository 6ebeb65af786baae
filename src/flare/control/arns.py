"""Function names, qualifiers and ARNs: parsing what clients send, building what we answer.

A client may name a function four ways (AWS accepts all of them on every function operation):

* ``my-fn``                                              a bare name, at most 64 characters;
* ``my-fn:qualifier``                                    a name with a version or alias;
* ``arn:aws:lambda:us-east-1:123456789012:function:my-fn[:qualifier]``   a full ARN;
* ``123456789012:function:my-fn[:qualifier]``            a partial ARN.

The ARN forms may be up to 140 characters. The account and region an ARN names (``scope_named``)
decide which account and region a request reaches (``control/cross_account.py``); below that,
each ``AccountRegion``'s registry reads only the name. All functions here are pure.
"""

from __future__ import annotations

import re

from flare.errors import InvalidParameterValue, ValidationFailed

MAX_NAME_LENGTH = 64
MAX_ARN_LENGTH = 140
MAX_QUALIFIER_LENGTH = 128

FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)

_NAME = r"(?P<name>[a-zA-Z0-9\-_]+)"
_QUALIFIER = r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9\-_]+))?"
_FULL_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):(?P<account>\d{12}):function:"
    + _NAME
    + _QUALIFIER
)
_PARTIAL_ARN = re.compile(r"(?P<account>\d{12}):function:" + _NAME + _QUALIFIER)
_NAME_WITH_QUALIFIER = re.compile(_NAME + _QUALIFIER)
_QUALIFIER_PARAM = re.compile(r"[a-zA-Z0-9$_\-]+")


def _pattern_error(value: str, field: str, pattern: str) -> ValidationFailed:
    return ValidationFailed(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )


def _length_error(value: str, field: str, limit: int) -> ValidationFailed:
    return ValidationFailed(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {limit}"
    )


def _split(function_name: str) -> tuple[str, str | None]:
    """Name and embedded qualifier of any accepted form; raises ValidationFailed."""
    is_arn = function_name.startswith("arn:") or _PARTIAL_ARN.fullmatch(function_name) is not None
    limit = MAX_ARN_LENGTH if is_arn else MAX_NAME_LENGTH
    if not function_name:
        raise ValidationFailed(
            "1 validation error detected: Value '' at 'functionName' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1"
        )
    if function_name.startswith("arn:"):
        match = _FULL_ARN.fullmatch(function_name)
    else:
        match = _PARTIAL_ARN.fullmatch(function_name) or _NAME_WITH_QUALIFIER.fullmatch(function_name)
    if match is None:
        raise _pattern_error(function_name, "functionName", FUNCTION_NAME_PATTERN)
    if len(function_name) > limit:
        raise _length_error(function_name, "functionName", limit)
    name = match.group("name")
    if len(name) > MAX_NAME_LENGTH:
        raise _length_error(function_name, "functionName", MAX_NAME_LENGTH)
    return name, match.group("qualifier")


def scope_named(function_name: str) -> tuple[str | None, str | None]:
    """``(account, region)`` that a well-formed ``function_name`` names: both for a full ARN,
    the account for a partial one, neither for a name (None where it names nothing)."""
    match = _FULL_ARN.fullmatch(function_name)
    if match is not None:
        return match.group("account"), match.group("region")
    match = _PARTIAL_ARN.fullmatch(function_name)
    return (match.group("account"), None) if match is not None else (None, None)


def check_qualifier(qualifier: str) -> str:
    """``qualifier`` itself when it is a well-formed version or alias; else ValidationFailed."""
    if not _QUALIFIER_PARAM.fullmatch(qualifier):
        raise _pattern_error(qualifier, "qualifier", "(|[a-zA-Z0-9$_-]+)")
    if len(qualifier) > MAX_QUALIFIER_LENGTH:
        raise _length_error(qualifier, "qualifier", MAX_QUALIFIER_LENGTH)
    return qualifier


def parse_function_name(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """The bare function name and the qualifier the caller meant (or None for unqualified).

    ``function_name`` is already URL-decoded. ``qualifier`` is the ``?Qualifier=`` parameter, if
    any; an empty string counts as absent. A qualifier both embedded in the name and passed
    separately must agree. Raises ValidationFailed for a malformed value (names inside request
    bodies and ARNs reach here unchecked by the model's pattern), InvalidParameterValue when the
    two qualifiers disagree.
    """
    name, embedded = _split(function_name)
    given = check_qualifier(qualifier) if qualifier else None
    if embedded is not None and given is not None and embedded != given:
        raise InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return name, embedded if embedded is not None else given


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    """The function's ARN, qualified with ``:qualifier`` when one is given."""
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn
