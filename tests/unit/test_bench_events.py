"""The event source benchmark's report section (the measurement itself needs a server)."""

from __future__ import annotations

from bench.__main__ import parse_args
from bench.events import EventsResult, Run, render


def test_render_shows_rates_counters_and_what_was_not_measured() -> None:
    result = EventsResult(
        [
            Run("SQS → function", 2000, 0.5, 0.8, dict(received=2020, succeeded=2020, failed=0, retried=0)),
            Run("kinesis", error="TimeoutError: not done"),
        ]
    )
    text = render(result)
    assert "| SQS → function | 2000 | 0.50 | 0.80 | 2500 | 2020 | 2020 | 0 | 0 |" in text
    assert "| kinesis | not measured: TimeoutError: not done |" in text
    assert result.failed and not EventsResult([Run("x", 1, 0.1, 0.1)]).failed


def test_events_is_a_bench_section() -> None:
    assert parse_args(["--only", "events"]).only == "events"
