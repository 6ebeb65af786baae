"""CloudWatch Logs filter patterns, from tables."""

from __future__ import annotations

import pytest

from flare.services.log_filter import FilterPatternError, compile_pattern

JSON_LINE = (
    '{"level": "ERROR", "code": 503, "ok": false, "user": {"id": "u-42"}, "tags": ["a", "b"], "none": null}'
)


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ("   ", "anything", True),
        ("ERROR", "[ERROR] disk full", True),
        ("ERROR", "error lowercase", False),
        ("ERROR disk", "ERROR disk full", True),
        ("ERROR disk", "ERROR memory", False),
        ('"disk full"', "ERROR disk full now", True),
        ('"disk full"', "disk is full", False),
        ("?ERROR ?WARN", "WARN slow", True),
        ("?ERROR ?WARN", "INFO fine", False),
        ("ERROR -retry", "ERROR will retry", False),
        ("ERROR -retry", "ERROR final", True),
        ("-DEBUG", "INFO x", True),
        ("%^REPORT RequestId%", "REPORT RequestId: 1", True),
        ("%^REPORT RequestId%", "x REPORT RequestId: 1", False),
        ("%[0-9]{3} ms%", "took 120 ms", True),
        ("{ $.level = ERROR }", JSON_LINE, True),
        ('{ $.level = "ERR*" }', JSON_LINE, True),
        ('{ $.level != "ERROR" }', JSON_LINE, False),
        ("{ $.code = 503 }", JSON_LINE, True),
        ("{ $.code > 500 && $.code < 600 }", JSON_LINE, True),
        ("{ $.code >= 504 || $.user.id = u-42 }", JSON_LINE, True),
        ("{ ($.code = 1 || $.code = 503) && $.level = ERROR }", JSON_LINE, True),
        ("{ $.tags[1] = b }", JSON_LINE, True),
        ("{ $.tags[5] = b }", JSON_LINE, False),
        ("{ $.ok IS FALSE }", JSON_LINE, True),
        ("{ $.ok IS TRUE }", JSON_LINE, False),
        ("{ $.none IS NULL }", JSON_LINE, True),
        ("{ $.missing NOT EXISTS }", JSON_LINE, True),
        ("{ $.code NOT EXISTS }", JSON_LINE, False),
        ("{ $.level = %^ERR% }", JSON_LINE, True),
        ("{ $.missing = x }", JSON_LINE, False),
        ("{ $.missing != x }", JSON_LINE, False),
        ("{ $.level = ERROR }", "not json at all", False),
        ("{ $.level = ERROR }", '["a list"]', False),
    ],
)
def test_pattern_matches_as_cloudwatch_does(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern)(message) is expected


@pytest.mark.parametrize(
    "pattern",
    ["{ $.code >= }", "{ $.code > abc }", "{ $.a = 1", "{ ($.a = 1 }", "[ip, user]", "%(%", "{ code = 1 }"],
)
def test_invalid_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(FilterPatternError):
        compile_pattern(pattern)
