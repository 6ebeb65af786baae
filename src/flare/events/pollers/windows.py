"""Tumbling windows of a stream mapping (``TumblingWindowInSeconds`` 1-900): state carried
from one invocation to the next within fixed windows of time, per shard.

A record belongs to the window its ``approximateArrivalTimestamp`` falls in; windows are
aligned to multiples of their size since the epoch (a 120 s window runs 07:04:00-07:06:00).
Each invocation's event adds to ``Records``::

    "window": {"start": "2020-12-09T07:04:00Z", "end": "2020-12-09T07:06:00Z"},
    "state": {...},                  # what the previous invocation of the window returned
    "shardId": "...", "eventSourceARN": "...",
    "isFinalInvokeForWindow": false, "isWindowTerminatedEarly": false

and the function must answer ``{"state": {...}}`` (with ``batchItemFailures`` as usual);
an answer without a ``state`` object is a failed invocation. When the window is over (a record
of a later window arrives, or the time passes while the shard is idle) the function is invoked
once more with no records, the final state and ``isFinalInvokeForWindow`` true; only then is
the window's last record checkpointed, so a restart replays an unfinished window from its start
with a fresh state. A state over 1 MB ends the window early: that final invocation happens at
once with ``isWindowTerminatedEarly`` true, and the window goes on with a fresh state.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flare.services.stream import StreamRecord

MAX_STATE_BYTES = 1024 * 1024


@dataclass
class Window:
    """One shard's open window: its bounds (epoch seconds), the state so far, and the last
    record delivered in it (checkpointed once the window is over)."""

    start: float
    end: float
    state: dict[str, Any] = field(default_factory=dict)
    last_sequence: str | None = None


def bounds(arrival: float, size_s: int) -> tuple[float, float]:
    """The window ``arrival`` (epoch seconds) falls in."""
    start = math.floor(arrival / size_s) * size_s
    return float(start), float(start + size_s)


def by_window(
    records: Sequence[StreamRecord], size_s: int
) -> list[tuple[tuple[float, float], list[StreamRecord]]]:
    """``records`` in order, cut where the window changes."""
    groups: list[tuple[tuple[float, float], list[StreamRecord]]] = []
    for record in records:
        window = bounds(record.arrival, size_s)
        if groups and groups[-1][0] == window:
            groups[-1][1].append(record)
        else:
            groups.append((window, [record]))
    return groups


def window_fields(window: Window, shard_id: str, source_arn: str, final: bool, early: bool) -> dict[str, Any]:
    """What an invocation's event carries besides ``Records``."""
    return {
        "window": {"start": _iso(window.start), "end": _iso(window.end)},
        "state": window.state,
        "shardId": shard_id,
        "eventSourceARN": source_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": early,
    }


def state_of(payload: str) -> dict[str, Any] | None:
    """The ``state`` object of a function's answer; None if the answer has none."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return None
    state = answer.get("state") if isinstance(answer, dict) else None
    return state if isinstance(state, dict) else None


def too_large(state: dict[str, Any]) -> bool:
    return len(json.dumps(state).encode()) > MAX_STATE_BYTES


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
