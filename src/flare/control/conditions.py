"""IAM policy ``Condition`` blocks, evaluated against a request's context. All pure.

A condition block maps operators to ``{key: value or [values]}``::

    {"StringEquals": {"AWS:SourceAccount": "123456789012"},
     "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"}}

It holds when every operator holds, an operator holds when every key under it holds, and a key
holds when the request's value matches *any* of the policy's values (IAM's AND of ORs). Keys
are compared case-insensitively (``aws:SourceArn`` is ``AWS:SourceArn``). The context maps keys
to a string, a bool or a list of strings (a multivalued key).

Supported operators: ``String(Not)Equals``, ``String(Not)EqualsIgnoreCase``, ``String(Not)Like``,
``Arn(Not)Equals``, ``Arn(Not)Like``, ``Bool``, ``Null``, ``Numeric(Not)Equals``,
``NumericLessThan(Equals)``, ``NumericGreaterThan(Equals)``; each with the ``IfExists`` suffix
(a missing key holds) and the ``ForAnyValue:`` / ``ForAllValues:`` set prefixes. A negated
operator holds when the key is missing, as IAM has it. ``is_known`` tells whether an operator
is one of these; ``holds`` treats an unknown one as not holding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

Context = Mapping[str, str | bool | list[str]]
Match = Callable[[str, str], bool]


@lru_cache(maxsize=512)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character; nothing else special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches the IAM wildcard ``pattern`` (``*`` and ``?``)."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, value: str) -> bool:
    """IAM's ArnLike: the six colon-separated parts each match their wildcard part."""
    wanted, given = pattern.split(":", 5), value.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return False
    return all(glob_match(part, found) for part, found in zip(wanted, given, strict=True))


def _number(left: str, right: str, compare: Callable[[float, float], bool]) -> bool:
    try:
        return compare(float(right), float(left))
    except ValueError:
        return False


# operator (without IfExists / set prefix) => (match(policy_value, request_value), negated)
_OPERATORS: dict[str, tuple[Match, bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (glob_match, False),
    "StringNotLike": (glob_match, True),
    "ArnEquals": (arn_match, False),
    "ArnLike": (arn_match, False),
    "ArnNotEquals": (arn_match, True),
    "ArnNotLike": (arn_match, True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
    "NumericEquals": (lambda p, v: _number(p, v, lambda a, b: a == b), False),
    "NumericNotEquals": (lambda p, v: _number(p, v, lambda a, b: a == b), True),
    "NumericLessThan": (lambda p, v: _number(p, v, lambda a, b: a < b), False),
    "NumericLessThanEquals": (lambda p, v: _number(p, v, lambda a, b: a <= b), False),
    "NumericGreaterThan": (lambda p, v: _number(p, v, lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (lambda p, v: _number(p, v, lambda a, b: a >= b), False),
}
_SET_PREFIXES = ("ForAnyValue:", "ForAllValues:")


def _split(operator: str) -> tuple[str, str, bool]:
    """(set prefix or "", base operator, IfExists)."""
    prefix = next((p for p in _SET_PREFIXES if operator.startswith(p)), "")
    base = operator[len(prefix) :]
    if_exists = base.endswith("IfExists") and base != "IfExists"
    return prefix, base.removesuffix("IfExists") if if_exists else base, if_exists


def is_known(operator: str) -> bool:
    """Whether ``holds`` understands ``operator``."""
    _, base, _ = _split(operator)
    return base in _OPERATORS or base == "Null"


def values_of(value: object) -> list[str]:
    """A policy's or a context's value as the list of strings operators compare (bools as
    ``true``/``false``)."""
    items = value if isinstance(value, list) else [value]
    return [("true" if item else "false") if isinstance(item, bool) else str(item) for item in items]


def key_holds(operator: str, wanted: list[str], found: list[str] | None) -> bool:
    """One key under one (known) operator: whether the request's values ``found`` (None when the
    request lacks the key) satisfy the policy's values ``wanted``."""
    prefix, base, if_exists = _split(operator)
    if base == "Null":
        return all((value.lower() == "true") == (found is None) for value in wanted)
    match, negated = _OPERATORS[base]
    if found is None:
        return if_exists or negated or prefix == "ForAllValues:"
    if prefix == "ForAllValues:":
        hits = [any(match(p, v) for p in wanted) for v in found]
        return all(not hit for hit in hits) if negated else all(hits)
    hit = any(match(p, v) for p in wanted for v in found)
    return not hit if negated else hit


def holds(condition: object, context: Context) -> bool:
    """Whether the ``Condition`` block ``condition`` holds for ``context`` (absent: it holds)."""
    if condition is None:
        return True
    if not isinstance(condition, Mapping):
        return False
    lowered = {key.lower(): values_of(value) for key, value in context.items()}
    for operator, keys in condition.items():
        if not is_known(operator) or not isinstance(keys, Mapping):
            return False
        for key, wanted in keys.items():
            if not key_holds(operator, values_of(wanted), lowered.get(str(key).lower())):
                return False
    return True
