"""Lambda's runtime deprecation schedule: when a runtime stops being accepted.

AWS deprecates a runtime in steps (its "Runtime deprecation policy" and the tables of its
"Lambda runtimes" page): after *deprecation* functions on it still run and may be changed;
after *block function create* CreateFunction refuses it; after *block function update*
UpdateFunctionCode and UpdateFunctionConfiguration refuse it too. Both refusals are
InvalidParameterValueException, "The runtime parameter of python3.7 is no longer supported for
creating or updating AWS Lambda functions. We recommend you use the new runtime (python3.14)
while creating or updating functions."

The dates below are AWS's published schedule as of August 2026 (AWS has moved block dates
before; it moved most of them to 2027-02-01 / 2027-03-03). Dates are compared with the engine
clock's wall time, so a test can stand on either side of them. All functions here are pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flare.errors import InvalidParameterValue


@dataclass(frozen=True)
class Lifecycle:
    deprecated: date
    block_create: date | None
    block_update: date | None
    successor: str | None


def _life(deprecated: str, create: str | None, update: str | None, successor: str | None) -> Lifecycle:
    def day(text: str | None) -> date | None:
        return None if text is None else date.fromisoformat(text)

    return Lifecycle(date.fromisoformat(deprecated), day(create), day(update), successor)


# runtime: (deprecated, block function create, block function update, the runtime AWS recommends)
SCHEDULE: dict[str, Lifecycle] = {
    "nodejs": _life("2016-08-30", "2016-09-30", "2016-10-31", "nodejs24.x"),
    "nodejs4.3": _life("2020-03-05", "2020-02-03", "2020-03-05", "nodejs24.x"),
    "nodejs4.3-edge": _life("2020-03-05", "2019-03-31", "2019-04-30", "nodejs24.x"),
    "nodejs6.10": _life("2019-08-12", "2019-07-12", "2019-08-12", "nodejs24.x"),
    "nodejs8.10": _life("2020-03-06", "2020-02-04", "2020-03-06", "nodejs24.x"),
    "nodejs10.x": _life("2021-07-30", "2021-07-30", "2022-02-14", "nodejs24.x"),
    "nodejs12.x": _life("2023-03-31", "2023-03-31", "2023-04-30", "nodejs24.x"),
    "nodejs14.x": _life("2023-12-04", "2024-01-09", "2027-03-03", "nodejs24.x"),
    "nodejs16.x": _life("2024-06-12", "2027-02-01", "2027-03-03", "nodejs24.x"),
    "nodejs18.x": _life("2025-09-01", "2027-02-01", "2027-03-03", "nodejs24.x"),
    "nodejs20.x": _life("2026-04-30", "2027-02-01", "2027-03-03", "nodejs24.x"),
    "nodejs22.x": _life("2027-04-30", "2027-06-01", "2027-07-01", "nodejs24.x"),
    "nodejs24.x": _life("2028-04-30", "2028-06-01", "2028-07-01", None),
    "python2.7": _life("2021-07-15", "2021-07-15", "2022-05-30", "python3.14"),
    "python3.6": _life("2022-07-18", "2022-07-18", "2022-08-29", "python3.14"),
    "python3.7": _life("2023-12-04", "2024-01-09", "2027-03-03", "python3.14"),
    "python3.8": _life("2024-10-14", "2027-02-01", "2027-03-03", "python3.14"),
    "python3.9": _life("2025-12-15", "2027-02-01", "2027-03-03", "python3.14"),
    "python3.10": _life("2026-10-31", "2027-02-01", "2027-03-03", "python3.14"),
    "python3.11": _life("2027-06-30", "2027-07-31", "2027-08-31", "python3.14"),
    "python3.12": _life("2028-10-31", "2028-11-30", "2029-01-10", "python3.14"),
    "python3.13": _life("2029-06-30", "2029-07-31", "2029-08-31", "python3.14"),
    "python3.14": _life("2029-06-30", "2029-07-31", "2029-08-31", None),
    "java8": _life("2024-01-08", "2024-02-08", "2027-03-03", "java25"),
    "java8.al2": _life("2027-06-30", "2027-07-31", "2027-08-31", "java25"),
    "java11": _life("2027-06-30", "2027-07-31", "2027-08-31", "java25"),
    "java17": _life("2027-06-30", "2027-07-31", "2027-08-31", "java25"),
    "java21": _life("2029-06-30", "2029-07-31", "2029-08-31", "java25"),
    "java25": _life("2029-06-30", "2029-07-31", "2029-08-31", None),
    "dotnetcore1.0": _life("2019-06-27", "2019-06-30", "2019-07-30", "dotnet10"),
    "dotnetcore2.0": _life("2019-05-30", "2019-04-30", "2019-05-30", "dotnet10"),
    "dotnetcore2.1": _life("2022-01-05", "2022-01-05", "2022-04-13", "dotnet10"),
    "dotnetcore3.1": _life("2023-04-03", "2023-04-03", "2023-05-03", "dotnet10"),
    "dotnet6": _life("2024-12-20", "2027-02-01", "2027-03-03", "dotnet10"),
    "dotnet8": _life("2026-11-10", "2027-02-01", "2027-03-03", "dotnet10"),
    "dotnet10": _life("2028-11-14", "2028-12-14", "2029-01-15", None),
    "go1.x": _life("2024-01-08", "2024-02-08", "2027-03-03", "provided.al2023"),
    "ruby2.5": _life("2021-07-30", "2021-07-30", "2022-03-31", "ruby4.0"),
    "ruby2.7": _life("2023-12-07", "2024-01-09", "2027-03-03", "ruby4.0"),
    "ruby3.2": _life("2026-03-31", "2027-02-01", "2027-03-03", "ruby4.0"),
    "ruby3.3": _life("2027-03-31", "2027-04-30", "2027-05-31", "ruby4.0"),
    "ruby3.4": _life("2028-03-31", "2028-04-30", "2028-05-31", "ruby4.0"),
    "ruby4.0": _life("2029-03-31", "2029-04-30", "2029-05-31", None),
    "provided": _life("2024-01-08", "2024-02-08", "2027-03-03", "provided.al2023"),
    "provided.al2": _life("2026-07-31", "2027-02-01", "2027-03-03", "provided.al2023"),
    "provided.al2023": _life("2029-06-30", "2029-07-31", "2029-08-31", None),
}


def blocked(runtime: str, today: date, creating: bool) -> bool:
    """Whether AWS refuses ``runtime`` today for a new function (``creating``) or an update."""
    life = SCHEDULE.get(runtime)
    if life is None:
        return False
    day = life.block_create if creating else life.block_update
    return day is not None and today >= day


def refusal(runtime: str, today: date, creating: bool) -> InvalidParameterValue | None:
    """AWS's refusal of ``runtime`` today (see ``blocked``), or None."""
    if not blocked(runtime, today, creating):
        return None
    successor = SCHEDULE[runtime].successor or runtime
    return InvalidParameterValue(
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS "
        f"Lambda functions. We recommend you use the new runtime ({successor}) while creating or "
        "updating functions."
    )
