"""Schedule expressions, EventBridge's syntax: ``rate(N unit)`` and ``cron(...)``, and when
they fire next. Everything here is pure: times are epoch seconds passed in, UTC throughout.

``rate(value unit)``: a positive whole ``value``; ``unit`` ``minute|minutes|hour|hours|day|days``,
singular exactly when the value is 1 (EventBridge's rule). Flare also accepts
``second|seconds`` (EventBridge's minimum is a minute) for demos and tests. A rate schedule fires
every period counted from its anchor (when it was created): ``anchor + k * period``, k >= 1.

``cron(minutes hours day-of-month month day-of-week year)``, six fields, UTC::

    minutes 0-59   hours 0-23   day-of-month 1-31   month 1-12 or JAN-DEC
    day-of-week 1-7 or SUN-SAT (1 = Sunday)   year 1970-2199

Each field is ``*``, a value, a range ``a-b``, a step ``*/n``, ``a/n`` or ``a-b/n``, or a
comma-separated list of those. One of day-of-month and day-of-week must be ``?`` (and only one).
EventBridge's ``L``, ``W`` and ``#`` are not supported: they are refused with a clear error.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flare.errors import InvalidParameterValue

UTC = dt.UTC
RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# field name, lowest, highest, names (for value ``lowest + index``)
FIELDS: list[tuple[str, int, int, list[str]]] = [
    ("minutes", 0, 59, []),
    ("hours", 0, 23, []),
    ("day-of-month", 1, 31, []),
    ("month", 1, 12, MONTHS),
    ("day-of-week", 1, 7, WEEKDAYS),
    ("year", 1970, 2199, []),
]
_RATE = re.compile(r"rate\(\s*(\S+)\s+(\S+)\s*\)")
_CRON = re.compile(r"cron\((.*)\)")
_UNSUPPORTED = re.compile(r"[0-9]*L|LW|[0-9]+W|.*#.*")
_ITEM = re.compile(r"(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?")


@dataclass(frozen=True)
class Rate:
    """Every ``seconds`` from the schedule's anchor."""

    seconds: int
    text: str


@dataclass(frozen=True)
class Cron:
    """The values each field allows; ``days`` or ``weekdays`` is None for ``?``. Weekdays count
    from 1 = Sunday, as EventBridge does."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None
    years: frozenset[int]
    text: str


Expression = Rate | Cron


def invalid(reason: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Parameter ScheduleExpression is not valid: {reason}")


def parse(text: str) -> Expression:
    """``text`` as a schedule; InvalidParameterValue saying what is wrong otherwise."""
    text = text.strip()
    if text.startswith("rate("):
        return _parse_rate(text)
    if text.startswith("cron("):
        return _parse_cron(text)
    raise invalid(f"'{text}': expected rate(value unit) or cron(minutes hours day month weekday year)")


def _parse_rate(text: str) -> Rate:
    match = _RATE.fullmatch(text)
    if match is None:
        raise invalid(f"'{text}': a rate is rate(value unit), e.g. rate(5 minutes)")
    value, unit = match.groups()
    if not value.isdigit() or int(value) < 1:
        raise invalid(f"'{text}': the value must be a whole number of at least 1")
    count = int(value)
    singular = unit.removesuffix("s")
    if singular not in RATE_UNITS:
        raise invalid(f"'{text}': the unit must be minute(s), hour(s) or day(s)")
    if (count == 1) != (unit == singular):
        wanted = singular if count == 1 else f"{singular}s"
        raise invalid(f"'{text}': with a value of {count} the unit is '{wanted}'")
    return Rate(count * RATE_UNITS[singular], f"rate({count} {unit})")


def _parse_cron(text: str) -> Cron:
    match = _CRON.fullmatch(text)
    fields = match.group(1).split() if match else []
    if len(fields) != 6:
        raise invalid(f"'{text}': cron takes 6 fields (minutes hours day-of-month month day-of-week year)")
    if (fields[2] == "?") == (fields[4] == "?"):
        raise invalid(f"'{text}': exactly one of day-of-month and day-of-week must be '?'")
    sets = [_parse_field(value, *spec) for value, spec in zip(fields, FIELDS, strict=True)]
    minutes, hours, days, months, weekdays, years = sets
    assert minutes is not None and hours is not None and months is not None and years is not None
    return Cron(minutes, hours, days, months, weekdays, years, f"cron({' '.join(fields)})")


def _parse_field(value: str, name: str, low: int, high: int, names: list[str]) -> frozenset[int] | None:
    if value == "?":
        if name not in ("day-of-month", "day-of-week"):
            raise invalid(f"'?' is only allowed in day-of-month or day-of-week, not in {name}")
        return None
    allowed: set[int] = set()
    for item in value.split(","):
        if _UNSUPPORTED.fullmatch(item.upper()):
            raise invalid(f"'{item}' in {name}: Flare does not support L, W or # (use * ? , - / and values)")
        match = _ITEM.fullmatch(item)
        if match is None:
            raise invalid(f"'{item}' in {name} is not a value, range or step")
        span, step = match.groups()
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (_value(part, name, low, high, names) for part in span.split("-"))
        else:
            first = _value(span, name, low, high, names)
            last = high if step else first
        if first > last:
            raise invalid(f"'{item}' in {name}: a range must go upwards")
        if step is not None and int(step) < 1:
            raise invalid(f"'{item}' in {name}: a step must be at least 1")
        allowed.update(range(first, last + 1, int(step) if step else 1))
    return frozenset(allowed)


def _value(text: str, name: str, low: int, high: int, names: list[str]) -> int:
    upper = text.upper()
    if upper in names:
        return low + names.index(upper)
    if not text.isdigit() or not low <= int(text) <= high:
        named = f" or {names[0]}-{names[-1]}" if names else ""
        raise invalid(f"'{text}' in {name}: must be {low}-{high}{named}")
    return int(text)


def next_fire(expression: Expression, after: float, anchor: float) -> float | None:
    """The first time ``expression`` fires strictly after ``after`` (epoch seconds), or None if
    it never will. ``anchor`` is when a rate schedule started counting."""
    if isinstance(expression, Rate):
        periods = max(0, int((after - anchor) // expression.seconds)) + 1
        return anchor + periods * expression.seconds
    return _next_cron(expression, after)


def _next_cron(cron: Cron, after: float) -> float | None:
    start = dt.datetime.fromtimestamp((int(after) // 60 + 1) * 60, UTC)
    day = start.date()
    last_year = max(cron.years)
    hours, minutes = sorted(cron.hours), sorted(cron.minutes)
    while day.year <= last_year:
        if day.year not in cron.years:
            day = dt.date(day.year + 1, 1, 1)
            continue
        if day.month not in cron.months:
            day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            continue
        if _day_matches(cron, day):
            first_day = day == start.date()
            for hour in hours:
                if first_day and hour < start.hour:
                    continue
                for minute in minutes:
                    if first_day and hour == start.hour and minute < start.minute:
                        continue
                    moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                    return moment.timestamp()
        day += dt.timedelta(days=1)
    return None


def _day_matches(cron: Cron, day: dt.date) -> bool:
    if cron.days is not None:
        return day.day in cron.days
    assert cron.weekdays is not None
    return (day.weekday() + 1) % 7 + 1 in cron.weekdays
