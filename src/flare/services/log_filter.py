"""CloudWatch Logs filter patterns, compiled to a test of one event's message.

Supported, as ``FilterLogEvents`` and Live Tail read them:

* ``""`` (or blanks): every event;
* terms: ``ERROR`` (the message contains it, case-sensitive), ``"quoted phrase"``, several
  terms all present (``ERROR Exception``), ``?ERROR ?WARN`` (any of them), ``-term`` (absent),
  mixed: every plain term, at least one ``?`` term when there are any, no ``-`` term;
* ``%regex%``: the message matches the regular expression somewhere;
* JSON patterns ``{ SELECTOR OP VALUE }`` on messages that are JSON objects: selectors
  ``$.a.b``, ``$.list[0]``; ``=`` / ``!=`` against strings (``*`` a wildcard), numbers or
  ``%regex%``; ``<``, ``<=``, ``>``, ``>=`` against numbers; ``IS TRUE|FALSE|NULL``,
  ``NOT EXISTS``; combined with ``&&``, ``||`` and parentheses.

Space-delimited patterns (``[ip, user, ...]``) are not supported: compiling one raises
:class:`FilterPatternError`, as does any pattern that does not parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[str], bool]
_MISSING = object()


class FilterPatternError(ValueError):
    """The pattern does not parse (or uses syntax Flare does not support)."""


def compile_pattern(pattern: str | None) -> Matcher:
    """A test of one message for ``pattern``. Raises :class:`FilterPatternError`."""
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        return _json_matcher(text)
    if text.startswith("["):
        raise FilterPatternError("Space-delimited filter patterns are not supported by Flare.")
    if len(text) >= 2 and text.startswith("%") and text.endswith("%"):
        regex = _regex(text[1:-1])
        return lambda message: regex.search(message) is not None
    return _terms_matcher(text)


def _regex(source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as error:
        raise FilterPatternError(f"Invalid regular expression: {error}") from None


_TERM = re.compile(r'\s*([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))')


def _terms_matcher(text: str) -> Matcher:
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    position = 0
    while position < len(text):
        found = _TERM.match(text, position)
        if found is None:
            if text[position:].strip():
                raise FilterPatternError(f"Invalid filter pattern: {text}")
            break
        sign, quoted, bare = found.groups()
        term = bytes(quoted, "utf-8").decode("unicode_escape") if quoted is not None else bare
        if bare is not None and '"' in bare:
            raise FilterPatternError(f"Invalid character(s) in term '{bare}'")
        {"": required, "?": optional, "-": excluded}[sign].append(term)
        position = found.end()

    def matches(message: str) -> bool:
        return (
            all(term in message for term in required)
            and (not optional or any(term in message for term in optional))
            and not any(term in message for term in excluded)
        )

    return matches


# ---- JSON patterns -----------------------------------------------------------------------

_JSON_TOKEN = re.compile(
    r"""\s*(?:
        (?P<sel>\$(?:\.[A-Za-z0-9_\-@]+|\[\d+\])*)
      | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
      | "(?P<str>(?:[^"\\]|\\.)*)"
      | %(?P<re>[^%]+)%
      | (?P<word>[^\s()=!<>&|"]+)
    )""",
    re.VERBOSE,
)


def _tokens(body: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(body):
        if not body[position:].strip():
            break
        found = _JSON_TOKEN.match(body, position)
        if found is None or found.end() == position:
            raise FilterPatternError(f"Invalid JSON filter pattern near '{body[position:].strip()}'")
        kind = found.lastgroup or "word"
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


def _json_matcher(text: str) -> Matcher:
    if not text.endswith("}"):
        raise FilterPatternError("A JSON filter pattern must end with '}'.")
    parser = _Parser(_tokens(text[1:-1]))
    test = parser.expression()
    if parser.position != len(parser.tokens):
        raise FilterPatternError(f"Unexpected '{parser.tokens[parser.position][1]}' in filter pattern.")

    def matches(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and test(document)

    return matches


Test = Callable[[Any], bool]


class _Parser:
    """Recursive descent over ``||`` (lowest), ``&&``, parentheses and comparisons."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterPatternError("The JSON filter pattern ends too early.")
        self.position += 1
        return token

    def expression(self) -> Test:
        alternatives = [self._conjunction()]
        while self._peek() == ("op", "||"):
            self.position += 1
            alternatives.append(self._conjunction())
        return alternatives[0] if len(alternatives) == 1 else lambda d: any(t(d) for t in alternatives)

    def _conjunction(self) -> Test:
        parts = [self._atom()]
        while self._peek() == ("op", "&&"):
            self.position += 1
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else lambda d: all(t(d) for t in parts)

    def _atom(self) -> Test:
        kind, value = self._take()
        if (kind, value) == ("op", "("):
            inner = self.expression()
            if self._take() != ("op", ")"):
                raise FilterPatternError("Unbalanced parentheses in filter pattern.")
            return inner
        if kind != "sel":
            raise FilterPatternError(f"Expected a selector such as $.field, found '{value}'.")
        return self._comparison(_selector(value))

    def _comparison(self, select: Callable[[Any], Any]) -> Test:
        kind, operator = self._take()
        if kind == "word" and operator.upper() == "IS":
            expected = self._take()[1].upper()
            wanted = {"TRUE": True, "FALSE": False, "NULL": None}
            if expected not in wanted:
                raise FilterPatternError(f"Unsupported IS {expected}.")
            return lambda d: (found := select(d)) is not _MISSING and found is wanted[expected]
        if kind == "word" and operator.upper() == "NOT":
            if self._take()[1].upper() != "EXISTS":
                raise FilterPatternError("Expected NOT EXISTS.")
            return lambda d: select(d) is _MISSING
        if kind != "op" or operator not in ("=", "!=", "<", "<=", ">", ">="):
            raise FilterPatternError(f"Expected a comparison operator, found '{operator}'.")
        return _compare(select, operator, self._take())


def _selector(text: str) -> Callable[[Any], Any]:
    steps: list[str | int] = [
        int(index) if index else name for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", text)
    ]

    def select(document: Any) -> Any:
        for step in steps:
            if isinstance(step, int):
                if not isinstance(document, list) or step >= len(document):
                    return _MISSING
            elif not isinstance(document, dict) or step not in document:
                return _MISSING
            document = document[step]
        return document

    return select


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(select: Callable[[Any], Any], operator: str, operand: tuple[str, str]) -> Test:
    kind, raw = operand
    number = _number(raw) if kind == "word" else None
    if operator not in ("=", "!="):
        if number is None:
            raise FilterPatternError(f"Operator {operator} needs a number, found '{raw}'.")
        order = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}[operator]
        return lambda d: _is_number(found := select(d)) and order(float(found), number)
    if number is not None:
        equal: Test = lambda found: _is_number(found) and float(found) == number  # noqa: E731
    else:
        regex = (
            _regex(raw)
            if kind == "re"
            else re.compile(
                "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", raw))
            )
        )
        equal = lambda found: isinstance(found, str) and _full(regex, found, kind)  # noqa: E731
    if operator == "=":
        return lambda d: (found := select(d)) is not _MISSING and equal(found)
    return lambda d: (found := select(d)) is not _MISSING and not equal(found)


def _wildcard(text: str) -> re.Pattern[str]:
    """``text`` with ``*`` matching any run of characters."""
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", text)))


def _full(regex: re.Pattern[str], text: str, kind: str) -> bool:
    return (regex.search(text) if kind == "re" else regex.fullmatch(text)) is not None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
