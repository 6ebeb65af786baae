"""Lambda event filtering: which records of a mapping its FilterCriteria let through.

``FilterCriteria`` is ``{"Filters": [{"Pattern": "<JSON>"}, ...]}``; a record is delivered if
ANY pattern matches it. A pattern is an EventBridge-style pattern: an object whose keys must all
match (AND); a key maps either to an object (matched against the record's object at that key)
or to an array of alternatives (OR), each one of

    "text", 12.5, true, null      the value equals it (numbers compared as numbers)
    {"prefix": "ab"}              a string starting with it   ({"suffix": ...} likewise)
    {"equals-ignore-case": "Ab"}  a string equal to it ignoring case
    {"anything-but": X}           present and not X; X a value, a list of values, or {"prefix": ..}
    {"numeric": [">", 0, "<=", 5]}  a number within every bound ("=", "<", "<=", ">", ">=")
    {"exists": true|false}        the key is present (true) or absent (false)

Where the record's value is an array, the key matches if any element does.

What a pattern is matched against (the record as the function would get it):
- SQS: the record (``messageId``, ``attributes``, ``messageAttributes``, ``body``...), with
  ``body`` parsed when it is JSON (else matched as the string);
- Kinesis: the record's ``kinesis`` object (``partitionKey``, ``sequenceNumber``, ``data``...),
  with ``data`` base64-decoded and parsed when it is JSON (else the decoded text).

All functions here are pure.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable
from typing import Any

from flare.errors import InvalidParameterValue

MAX_FILTERS = 5
NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
_MISSING = object()


def _invalid(detail: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid filter pattern definition. {detail}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_matcher(matcher: object) -> None:
    if matcher is None or isinstance(matcher, str | bool) or _is_number(matcher):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise _invalid(f"Unsupported matcher: {json.dumps(matcher)}")
    ((operator, operand),) = matcher.items()
    if operator in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str):
            raise _invalid(f"{operator} takes a string")
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise _invalid("exists takes true or false")
    elif operator == "anything-but":
        if isinstance(operand, dict):
            if set(operand) != {"prefix"} or not isinstance(operand["prefix"], str):
                raise _invalid("anything-but takes a value, a list of values or a prefix")
        else:
            values = operand if isinstance(operand, list) else [operand]
            if not values or not all(isinstance(v, str) or _is_number(v) for v in values):
                raise _invalid("anything-but takes a value, a list of values or a prefix")
    elif operator == "numeric":
        if not isinstance(operand, list) or not operand or len(operand) % 2:
            raise _invalid("numeric takes operator and number pairs")
        for op, bound in zip(operand[::2], operand[1::2], strict=True):
            if op not in NUMERIC_OPERATORS or not _is_number(bound):
                raise _invalid(f"Bad numeric bound: {op} {bound}")
    else:
        raise _invalid(f"Unsupported operator: {operator}")


def _check_pattern(pattern: object) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise _invalid("A pattern is a non-empty JSON object.")
    for key, value in pattern.items():
        if isinstance(value, dict):
            _check_pattern(value)
        elif isinstance(value, list) and value:
            for matcher in value:
                _check_matcher(matcher)
        else:
            raise _invalid(f"The value of {key} must be an object or a non-empty array.")


def parse_pattern(text: object) -> dict[str, Any]:
    """A Pattern string, parsed and checked; InvalidParameterValue if it is not a valid one."""
    if not isinstance(text, str):
        raise _invalid("Pattern must be a string.")
    try:
        pattern = json.loads(text)
    except ValueError:
        raise _invalid("Pattern is not valid JSON.") from None
    _check_pattern(pattern)
    return dict(pattern)


def check_criteria(criteria: object) -> dict[str, Any]:
    """A FilterCriteria value as it is to be stored; InvalidParameterValue if it is invalid."""
    if not isinstance(criteria, dict):
        raise InvalidParameterValue("FilterCriteria must be an object.")
    filters = criteria.get("Filters") or []
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise InvalidParameterValue(f"FilterCriteria takes a list of at most {MAX_FILTERS} Filters.")
    for entry in filters:
        if not isinstance(entry, dict):
            raise InvalidParameterValue("Each filter must be an object with a Pattern.")
        parse_pattern(entry.get("Pattern"))
    return {"Filters": [{"Pattern": entry["Pattern"]} for entry in filters]}


def patterns_of(criteria: dict[str, Any] | None) -> tuple[str, ...]:
    """The Pattern strings of a stored FilterCriteria."""
    return tuple(entry["Pattern"] for entry in (criteria or {}).get("Filters") or [])


def _numeric(value: object, bounds: list[Any]) -> bool:
    if not _is_number(value):
        return False
    number = float(value)  # type: ignore[arg-type]
    for op, bound in zip(bounds[::2], bounds[1::2], strict=True):
        ok = {
            "=": number == bound,
            "<": number < bound,
            "<=": number <= bound,
            ">": number > bound,
            ">=": number >= bound,
        }[op]
        if not ok:
            return False
    return True


def _equal(value: object, literal: object) -> bool:
    if _is_number(literal) and _is_number(value):
        return math.isclose(float(value), float(literal), rel_tol=0, abs_tol=1e-9)  # type: ignore[arg-type]
    return type(value) is type(literal) and value == literal


def _matches_value(value: object, matcher: object) -> bool:
    """One present, non-array value against one matcher (not ``exists``)."""
    if not isinstance(matcher, dict):
        return _equal(value, matcher)
    ((operator, operand),) = matcher.items()
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == operand.casefold()
    if operator == "numeric":
        return _numeric(value, operand)
    if operator == "anything-but":
        if isinstance(operand, dict):
            return isinstance(value, str) and not value.startswith(operand["prefix"])
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_equal(value, other) for other in excluded)
    return False


def _elements(value: object) -> Iterable[object]:
    return value if isinstance(value, list) else [value]


def _matches_key(value: object, alternatives: list[Any]) -> bool:
    for matcher in alternatives:
        if isinstance(matcher, dict) and "exists" in matcher:
            if matcher["exists"] == (value is not _MISSING):
                return True
        elif value is not _MISSING and any(_matches_value(v, matcher) for v in _elements(value)):
            return True
    return False


def matches(pattern: dict[str, Any], document: object) -> bool:
    """Whether ``document`` matches every key of ``pattern``."""
    for key, wanted in pattern.items():
        value = document.get(key, _MISSING) if isinstance(document, dict) else _MISSING
        if isinstance(wanted, dict):
            if not any(isinstance(v, dict) and matches(wanted, v) for v in _elements(value)):
                return False
        elif not _matches_key(value, wanted):
            return False
    return True


def _json_or(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def sqs_document(record: dict[str, Any]) -> dict[str, Any]:
    """What a pattern sees of an SQS record: the record, its body parsed when it is JSON."""
    body = record.get("body")
    return {**record, "body": _json_or(body)} if isinstance(body, str) else record


def kinesis_document(kinesis: dict[str, Any]) -> dict[str, Any]:
    """What a pattern sees of a Kinesis record's ``kinesis`` object: ``data`` decoded."""
    data = kinesis.get("data")
    if not isinstance(data, str):
        return kinesis
    try:
        text = base64.b64decode(data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return kinesis
    return {**kinesis, "data": _json_or(text)}


class Filter:
    """The FilterCriteria of one mapping: ``matches`` is True if any pattern matches (or there
    is none: ``bool(filter)`` is False then)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = [parse_pattern(text) for text in patterns]

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def matches(self, document: object) -> bool:
        return not self._patterns or any(matches(pattern, document) for pattern in self._patterns)
