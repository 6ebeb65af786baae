"""Tumbling windows: which window a record is in, and a stream poller carrying state through
windows (a fake shard and a fake function; real time, windows of a second)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from flare.clock import SystemClock
from flare.events.counters import Counters
from flare.events.esm import KINESIS, Mapping
from flare.events.invoker import Attempt
from flare.events.pollers.stream import StreamPoller
from flare.events.pollers.windows import MAX_STATE_BYTES, Window, bounds, by_window, state_of, window_fields
from flare.events.retry import Outcome
from flare.scope import Scope
from flare.services.stream import StreamRecord
from flare.store.database import Database
from flare.store.events import EventStore

SCOPE = Scope("000000000000", "us-east-1")

ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
SHARD = "shardId-000000000000"


def record(n: int, arrival: float) -> StreamRecord:
    return StreamRecord(f"{n:05d}", "k", f"r{n}".encode(), arrival)


@pytest.mark.parametrize(
    ("arrival", "size", "window"),
    [
        (1_607_497_475.0, 120, (1_607_497_440.0, 1_607_497_560.0)),  # 07:04:35 → 07:04:00-07:06:00
        (1_607_497_440.0, 120, (1_607_497_440.0, 1_607_497_560.0)),  # a start belongs to its window
        (1_607_497_559.999, 120, (1_607_497_440.0, 1_607_497_560.0)),
        (10.5, 1, (10.0, 11.0)),
    ],
)
def test_windows_are_aligned_to_multiples_of_their_size(
    arrival: float, size: int, window: tuple[float, float]
) -> None:
    assert bounds(arrival, size) == window


def test_records_are_cut_where_the_window_changes() -> None:
    records = [record(1, 0.1), record(2, 0.9), record(3, 1.0), record(4, 3.5)]
    assert [(w, [r.sequence_number for r in g]) for w, g in by_window(records, 1)] == [
        ((0.0, 1.0), ["00001", "00002"]),
        ((1.0, 2.0), ["00003"]),
        ((3.0, 4.0), ["00004"]),
    ]


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        ('{"state": {"n": 1}, "batchItemFailures": []}', {"n": 1}),
        ('{"state": {}}', {}),
        ('{"batchItemFailures": []}', None),
        ('{"state": [1]}', None),
        ('"ok"', None),
        ("not json", None),
    ],
)
def test_an_answer_counts_only_with_a_state_object(payload: str, state: dict[str, Any] | None) -> None:
    assert state_of(payload) == state


def test_the_event_fields_name_the_window_in_utc() -> None:
    fields = window_fields(Window(1_607_497_440.0, 1_607_497_560.0, {"n": 2}), SHARD, ARN, True, False)
    assert fields == {
        "window": {"start": "2020-12-09T07:04:00Z", "end": "2020-12-09T07:06:00Z"},
        "state": {"n": 2},
        "shardId": SHARD,
        "eventSourceARN": ARN,
        "isFinalInvokeForWindow": True,
        "isWindowTerminatedEarly": False,
    }


class OneShard:
    """A StreamSource of one shard holding ``records``, read in order, then closed."""

    def __init__(self, records: list[StreamRecord]) -> None:
        self.records = records

    async def shard_ids(self) -> list[str]:
        return [SHARD]

    async def iterator(
        self, shard_id: str, kind: str, sequence: str | None = None, timestamp: Any = None
    ) -> str:
        return "0"

    async def read(self, iterator: str, limit: int) -> tuple[list[StreamRecord], str]:
        start = int(iterator)
        chosen = self.records[start : start + limit]
        end = start + len(chosen)
        return chosen, str(end) if end < len(self.records) or not chosen else ""

    async def wait(self, timeout: float) -> None:
        await asyncio.sleep(0.01)


class Counting:
    """The function: adds its records to ``state["seen"]``; ``answers`` can replace its answers."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.answers = answers or []

    def role(self, function_name: str) -> str:
        return "arn:aws:iam::000000000000:role/r"

    def function_arn(self, function_name: str, qualifier: str | None) -> str:
        return "arn:aws:lambda:us-east-1:000000000000:function:fn"

    async def invoke(self, function_name: str, qualifier: str | None, payload: bytes) -> Attempt:
        event = json.loads(payload)
        self.events.append(event)
        seen = event["state"].get("seen", []) + [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        answer = self.answers.pop(0) if self.answers else json.dumps({"state": {"seen": seen}})
        return Attempt(Outcome.SUCCESS, {"statusCode": 200, "payload": answer}, "req")


def run(tmp_path: Path, records: list[StreamRecord], function: Counting, finals: int) -> dict[str, str]:
    """Poll until the function saw ``finals`` final invokes; returns the checkpoints."""
    store = EventStore(Database(tmp_path / "events.db", SCOPE), SCOPE)
    mapping = Mapping(
        uuid="m",
        source_arn=ARN,
        kind=KINESIS,
        function_name="fn",
        qualifier=None,
        batch_size=2,
        window_s=0,
        report_item_failures=False,
        starting_position="TRIM_HORIZON",
        tumbling_window_s=1,
    )
    clock = SystemClock()
    # a fake function for the concrete SyncInvoker, and no Destinations (none is configured)
    poller = StreamPoller(mapping, OneShard(records), function, None, store, clock, Counters())  # type: ignore[arg-type]

    async def go() -> None:
        poller.start()
        for _ in range(300):
            if sum(e["isFinalInvokeForWindow"] for e in function.events) >= finals:
                break
            await asyncio.sleep(0.01)
        await poller.stop()

    asyncio.run(go())
    checkpoints = store.checkpoints("m")
    store.close()
    return checkpoints


def test_state_is_carried_within_a_window_and_fresh_in_the_next(tmp_path: Path) -> None:
    now = time.time()
    first = int(now) - 10.0  # two whole windows in the past: each closes once it is read
    records = [record(1, first + 0.1), record(2, first + 0.2), record(3, first + 0.3), record(4, first + 1.5)]
    function = Counting()
    checkpoints = run(tmp_path, records, function, finals=2)
    calls = [
        (e["state"], [r["kinesis"]["sequenceNumber"] for r in e["Records"]], e["isFinalInvokeForWindow"])
        for e in function.events
    ]
    assert calls == [
        ({}, ["00001", "00002"], False),
        ({"seen": ["00001", "00002"]}, ["00003"], False),
        ({"seen": ["00001", "00002", "00003"]}, [], True),
        ({}, ["00004"], False),
        ({"seen": ["00004"]}, [], True),
    ]
    assert checkpoints == {SHARD: "00004"}


def test_an_answer_without_state_is_retried_and_an_open_window_is_not_checkpointed(tmp_path: Path) -> None:
    now = time.time()
    future = float(int(now) + 3600)  # a window that will not be over during the test
    function = Counting(answers=['"no state"'])
    checkpoints = run(tmp_path, [record(1, future)], function, finals=1)
    assert [e["state"] for e in function.events[:2]] == [{}, {}], "the same invoke, tried again"
    assert [r["kinesis"]["sequenceNumber"] for r in function.events[1]["Records"]] == ["00001"]
    assert not any(e["isFinalInvokeForWindow"] for e in function.events[:2])
    # The shard closed after its last record, so the window closed with it and was checkpointed.
    assert function.events[-1]["isFinalInvokeForWindow"] and checkpoints == {SHARD: "00001"}


def test_a_state_over_1_mb_ends_the_window_early_and_it_goes_on_fresh(tmp_path: Path) -> None:
    now = time.time()
    start = float(int(now) - 10)
    big = json.dumps({"state": {"blob": "x" * MAX_STATE_BYTES}})
    function = Counting(answers=[big])
    run(
        tmp_path, [record(1, start + 0.1), record(2, start + 0.2), record(3, start + 0.3)], function, finals=2
    )
    early, after = function.events[1], function.events[2]
    assert early["isFinalInvokeForWindow"] and early["isWindowTerminatedEarly"] and early["Records"] == []
    assert after["state"] == {} and [r["kinesis"]["sequenceNumber"] for r in after["Records"]] == ["00003"]
    assert after["window"] == early["window"], "the same window goes on"
