"""The logs service over real files and SQLite, on a manual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from flare.clock import ManualClock
from flare.observe.logs import LogStore
from flare.scope import Scope
from flare.services.errors import LogInvalidParameter, LogResourceNotFound
from flare.services.logs import DAY_MS, LogLimits, LogService, StreamQuery, over_budget
from flare.store.database import Database
from flare.store.log_index import LogIndex, StreamRow

SCOPE = Scope("000000000000", "us-east-1")

ALL = StreamQuery()


def service(tmp_path: Path, clock: ManualClock) -> LogService:
    return LogService(
        LogStore(tmp_path / "logs", LogIndex(Database(tmp_path / "flare.db", SCOPE), SCOPE), clock),
        clock,
        "r",
        "1",
    )


def everything(logs: LogService, group: str) -> list[str]:
    return [event.message for event in logs.events_since(group, 0, lambda m: True, ALL)]


def test_lambda_appends_create_the_group_and_stream_on_first_write(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = service(tmp_path, clock)
    logs.store.append("/aws/lambda/f", "2026/01/01/[$LATEST]ab", ["START", "END"])
    stream = logs.stream("/aws/lambda/f", "2026/01/01/[$LATEST]ab")
    now = int(clock.wall() * 1000)
    assert (stream.first_ms, stream.last_ms, stream.last_seq) == (now, now, 1)
    assert everything(logs, "/aws/lambda/f") == ["START", "END"]


def test_events_and_sequence_numbers_survive_a_reopen(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = service(tmp_path, clock)
    logs.store.append("g", "s", ["one"])
    logs.close()
    again = service(tmp_path, clock)
    again.store.append("g", "s", ["two"])
    assert [(e.seq, e.message) for e in again.events_since("g", 0, lambda m: True, ALL)] == [
        (0, "one"),
        (1, "two"),
    ]


def test_retention_hides_expired_events_at_once_and_the_sweep_deletes_their_streams(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = service(tmp_path, clock)
    logs.create_group("g")
    logs.put_retention("g", 1)
    logs.store.append("g", "old", ["expiring"])
    clock.advance(DAY_MS / 2000)
    logs.store.append("g", "new", ["kept"])
    clock.advance(DAY_MS / 2000 + 1)
    assert everything(logs, "g") == ["kept"]
    assert [row.name for row in logs.streams("g", None, False, False)] == ["new", "old"]
    assert logs.sweep() == 1
    assert [row.name for row in logs.streams("g", None, False, False)] == ["new"]


def test_start_sweeps_on_the_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = service(tmp_path, clock)
    logs.create_group("g")
    logs.put_retention("g", 1)
    logs.store.append("g", "s", ["x"])
    logs.start()
    clock.advance(DAY_MS / 1000 + 120)
    assert logs.streams("g", None, False, False) == []
    logs.close()


def test_a_deleted_stream_comes_back_empty(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = service(tmp_path, clock)
    logs.store.append("g", "s", ["before"])
    logs.delete_stream("g", "s")
    logs.create_stream("g", "s")
    assert everything(logs, "g") == []
    with pytest.raises(LogResourceNotFound):
        logs.delete_stream("g", "other")


def test_a_deleted_group_is_recreated_by_the_next_lambda_write(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = service(tmp_path, clock)
    logs.store.append("g", "s", ["before"])
    logs.delete_group("g")
    with pytest.raises(LogResourceNotFound, match=r"The specified log group does not exist\."):
        logs.group("g")
    logs.store.append("g", "s", ["after"])
    assert everything(logs, "g") == ["after"]


def test_put_events_reports_expired_and_too_new(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = service(tmp_path, clock)
    logs.create_group("g")
    logs.put_retention("g", 1)
    logs.create_stream("g", "s")
    now = int(clock.wall() * 1000)
    rejected = logs.put_events("g", "s", [(now - DAY_MS - 5, "expired"), (now - DAY_MS + 5, "kept")])
    assert (rejected.expired_end, rejected.too_old_end, rejected.too_new_start) == (0, None, None)
    future = logs.put_events("g", "s", [(now, "now"), (now + 3 * 3600 * 1000, "later")])
    assert future.too_new_start == 1
    assert everything(logs, "g") == ["kept", "now"]


@pytest.mark.parametrize("days", [0, 2, 4000])
def test_retention_outside_cloudwatchs_values_is_refused(tmp_path: Path, days: int) -> None:
    logs = service(tmp_path, ManualClock())
    logs.create_group("g")
    with pytest.raises(LogInvalidParameter, match="Member must satisfy enum value set"):
        logs.put_retention("g", days)


def test_filter_skips_streams_outside_the_window(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = service(tmp_path, clock)
    logs.store.append("g", "early", ["a"])
    clock.advance(10)
    logs.store.append("g", "late", ["b"])
    start = int(clock.wall() * 1000)
    events, _ = logs.filter_events("g", ALL, (start, None), None, None, None)
    assert [(e.stream, e.message) for e in events] == [("late", "b")]
    named, _ = logs.filter_events("g", StreamQuery(names=("early",)), (None, None), None, None, None)
    assert [e.message for e in named] == ["a"]


def test_group_identifiers_accept_names_and_arns(tmp_path: Path) -> None:
    logs = service(tmp_path, ManualClock())
    assert logs.group_name("arn:aws:logs:r:1:log-group:/aws/lambda/f:*") == "/aws/lambda/f"
    assert logs.group_name("arn:aws:logs:r:1:log-group:/a:b") == "/a:b"
    assert logs.group_name("/plain") == "/plain"
    with pytest.raises(LogInvalidParameter):
        logs.group_name("arn:aws:logs:r:1:destination:x")


def limited(tmp_path: Path, clock: ManualClock, limits: LogLimits) -> LogService:
    index = LogIndex(Database(tmp_path / "flare.db", SCOPE), SCOPE)
    return LogService(LogStore(tmp_path / "logs", index, clock), clock, "r", "1", limits)


def row(name: str, last_ms: int | None, size: int, created_ms: int = 0) -> StreamRow:
    return StreamRow("g", name, created_ms, last_ms, last_ms, last_ms, size, 0)


@pytest.mark.parametrize(
    ("rows", "budget", "doomed"),
    [
        ([row("a", 1, 10), row("b", 2, 10)], 20, []),
        ([row("a", 1, 10), row("b", 2, 10)], 19, ["a"]),
        ([row("b", 2, 10), row("a", 1, 10), row("c", 3, 10)], 10, ["a", "b"]),
        ([row("a", 1, 50)], 10, ["a"]),  # one stream past the budget alone goes too
        ([row("empty", None, 0, created_ms=0), row("a", 5, 30)], 10, ["empty", "a"]),
    ],
)
def test_over_budget_drops_the_streams_written_to_longest_ago(
    rows: list[StreamRow], budget: int, doomed: list[str]
) -> None:
    assert over_budget(rows, budget) == doomed


def test_the_sweep_keeps_a_group_within_its_budget(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = limited(tmp_path, clock, LogLimits(max_group_bytes=3000))
    for name in ("first", "second", "third"):
        logs.store.append("/aws/lambda/noisy", name, ["x" * 1000])
        clock.advance(1)
    logs.store.append("/aws/lambda/quiet", "only", ["y" * 1000])
    assert logs.sweep() == 1
    assert [r.name for r in logs.streams("/aws/lambda/noisy", None, False, False)] == ["second", "third"]
    assert logs.stored_bytes("/aws/lambda/noisy") <= 3000
    assert everything(logs, "/aws/lambda/quiet") == ["y" * 1000]


def test_a_server_retention_applies_to_groups_without_a_policy_of_their_own(tmp_path: Path) -> None:
    clock = ManualClock()
    logs = limited(tmp_path, clock, LogLimits(default_retention_days=1))
    logs.store.append("/aws/lambda/f", "old", ["expiring"])
    logs.create_group("kept-a-week")
    logs.put_retention("kept-a-week", 7)
    logs.store.append("kept-a-week", "old", ["kept"])
    clock.advance(DAY_MS / 1000 + 1)
    assert everything(logs, "/aws/lambda/f") == []
    assert logs.sweep() == 1
    assert logs.streams("/aws/lambda/f", None, False, False) == []
    assert everything(logs, "kept-a-week") == ["kept"]
