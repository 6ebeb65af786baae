"""``flare top``'s rows, from the feed's wire events: counts, rates, percentiles, sorting."""

from __future__ import annotations

from typing import Any

import pytest

from flare.cli.top_model import WINDOW_S, TopModel, percentile


def env(env_id: str, phase: str, function: str = "fn", memory: int = 128) -> dict[str, Any]:
    return {
        "kind": "environment",
        "function": function,
        "environment_id": env_id,
        "phase": phase,
        "memory_mb": memory,
    }


def invocation(
    duration: float, start: str = "warm", function: str = "fn", cost: float = 0.0
) -> dict[str, Any]:
    return {
        "kind": "invocation",
        "function": function,
        "duration_ms": duration,
        "start": start,
        "cost_usd": cost,
    }


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([5.0], 99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([float(n) for n in range(1, 101)], 99, 99.0),
    ],
)
def test_percentile_is_the_nearest_rank(values: list[float], p: float, expected: float | None) -> None:
    assert percentile(values, p) == expected


def test_environments_are_counted_by_phase_and_a_gone_one_leaves() -> None:
    model = TopModel()
    for event in (
        env("a", "initializing"),
        env("b", "busy", memory=256),
        env("c", "frozen"),
        env("d", "idle"),
    ):
        model.apply(event, 0.0)
    model.apply(env("d", "gone"), 0.0)
    [row] = model.rows(0.0)
    assert (row.environments, row.initializing, row.busy, row.idle) == (3, 1, 1, 1)
    assert row.memory_mb == 128 + 256 + 128


def test_a_snapshot_replaces_every_environment() -> None:
    model = TopModel()
    model.apply(env("old", "busy"), 0.0)
    model.apply({"kind": "snapshot", "environments": [env("new", "frozen", function="g")]}, 1.0)
    rows = {row.function: row for row in model.rows(1.0)}
    assert rows["fn"].environments == 0
    assert rows["g"].idle == 1


def test_rates_percentiles_and_cold_starts_cover_the_window_only() -> None:
    model = TopModel()
    model.apply(invocation(100.0, "cold"), 0.0)
    for n in range(1, 20):
        model.apply(invocation(float(n), "warm" if n % 2 else "restore"), 5.0)
    model.apply({"kind": "throttle", "function": "fn"}, 5.0)
    [row] = model.rows(5.0)
    assert row.invocations_per_s == 20 / WINDOW_S
    assert row.p99_ms == 100.0 and row.p50_ms == 10.0
    assert row.cold_rate == pytest.approx(10 / 20)
    assert row.throttles == 1
    [later] = model.rows(WINDOW_S + 0.5)  # the cold one is out of the window
    assert later.invocations_per_s == 19 / WINDOW_S and later.p99_ms == 19.0


def test_rows_sort_by_the_key_pressed() -> None:
    model = TopModel()
    model.apply(invocation(1.0, function="fast"), 0.0)
    model.apply(invocation(9.0, function="slow"), 0.0)
    model.apply(invocation(9.0, function="slow"), 0.0)
    model.apply(env("x", "busy", function="idle-one"), 0.0)
    assert [row.function for row in model.rows(0.0, "f")] == ["fast", "idle-one", "slow"]
    assert [row.function for row in model.rows(0.0, "i")] == ["slow", "fast", "idle-one"]
    assert [row.function for row in model.rows(0.0, "p")] == ["slow", "fast", "idle-one"]  # none last
    assert model.rows(0.0, "e")[0].function == "idle-one"


def test_cost_adds_up_since_top_started_past_the_window_and_sorts() -> None:
    model = TopModel()
    model.apply(invocation(5.0, function="cheap", cost=1e-7), 0.0)
    model.apply(invocation(5.0, function="dear", cost=3e-7), 0.0)
    model.apply(invocation(5.0, function="dear", cost=3e-7), WINDOW_S + 5)
    rows = model.rows(WINDOW_S + 5, sort="$")
    assert [row.function for row in rows] == ["dear", "cheap"]
    assert rows[0].cost_usd == pytest.approx(6e-7) and rows[0].invocations_per_s == 1 / WINDOW_S
