"""Lambda's platform log lines, compared to the character."""

from __future__ import annotations

import pytest

from flare.observe.report import (
    billed_ms,
    end_line,
    failure_status,
    init_report_line,
    init_start_line,
    invocation_lines,
    report_line,
    start_line,
    timed_out_line,
    timeout_message,
)

RID = "8f5a2b1c-0000-4000-8000-000000000001"


def test_start_line_names_request_and_version() -> None:
    assert start_line(RID, "$LATEST") == f"START RequestId: {RID} Version: $LATEST"


def test_end_line_names_request() -> None:
    assert end_line(RID) == f"END RequestId: {RID}"


def test_warm_report_line_is_tab_separated_with_a_trailing_tab() -> None:
    assert report_line(RID, 1.234, 128, 40) == (
        f"REPORT RequestId: {RID}\tDuration: 1.23 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 40 MB\t"
    )


def test_cold_report_line_puts_init_duration_after_max_memory_used() -> None:
    line = report_line(RID, 10.5, 256, 51, init_ms=120.456)
    assert line == (
        f"REPORT RequestId: {RID}\tDuration: 10.50 ms\tBilled Duration: 131 ms\t"
        "Memory Size: 256 MB\tMax Memory Used: 51 MB\tInit Duration: 120.46 ms\t"
    )
    assert line.index("Max Memory Used") < line.index("Init Duration")


def test_report_line_without_init_has_no_init_duration() -> None:
    assert "Init Duration" not in report_line(RID, 10.0, 128, 40)


def test_report_line_with_zero_init_still_prints_init_duration() -> None:
    assert report_line(RID, 1.0, 128, 40, init_ms=0.0).endswith("Init Duration: 0.00 ms\t")


def test_report_line_with_status_and_error_type_appends_them_last() -> None:
    line = report_line(RID, 3000.0, 128, 40, status="timeout", error_type="Sandbox.Timedout")
    assert line.endswith("Max Memory Used: 40 MB\tStatus: timeout\tError Type: Sandbox.Timedout\t")


def test_report_line_with_status_only_has_no_error_type() -> None:
    line = report_line(RID, 1.0, 128, 40, status="error")
    assert line.endswith("\tStatus: error\t")
    assert "Error Type" not in line


@pytest.mark.parametrize(
    ("duration_ms", "init_ms", "billed"),
    [
        (0.0, None, 1),
        (0.01, None, 1),
        (0.999, None, 1),
        (1.0, None, 1),
        (1.0001, None, 2),
        (1.5, None, 2),
        (99.0, None, 99),
        (99.01, None, 100),
        (1.2, 0.5, 2),
        (10.5, 120.456, 131),
        (0.0, 0.0, 1),
        (1.0, 2.0, 3),
        (3000.0, None, 3000),
    ],
)
def test_billed_ms_rounds_up_adds_init_and_is_at_least_one(
    duration_ms: float, init_ms: float | None, billed: int
) -> None:
    assert billed_ms(duration_ms, init_ms) == billed


@pytest.mark.parametrize(
    ("timeout_s", "text"),
    [(3, "3.00"), (1, "1.00"), (900, "900.00")],
)
def test_timeout_message_prints_seconds_with_two_decimals(timeout_s: int, text: str) -> None:
    assert timeout_message("x", timeout_s) == f"RequestId: x Error: Task timed out after {text} seconds"


def test_timeout_message_for_three_seconds_matches_aws() -> None:
    assert timeout_message("x", 3) == "RequestId: x Error: Task timed out after 3.00 seconds"


def test_init_report_line_without_error_type() -> None:
    assert init_report_line(1234.5678, "init", "timeout") == (
        "INIT_REPORT Init Duration: 1234.57 ms\tPhase: init\tStatus: timeout"
    )


def test_init_report_line_with_error_type_appends_it() -> None:
    assert init_report_line(12.0, "invoke", "error", "Runtime.ExitError") == (
        "INIT_REPORT Init Duration: 12.00 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ExitError"
    )


def test_init_start_line_names_runtime_version_and_arn() -> None:
    assert init_start_line("python3.12", "eu-west-1") == (
        "INIT_START Runtime Version: python:3.12.flare\t"
        "Runtime Version ARN: arn:aws:lambda:eu-west-1::runtime:flare-python3.12"
    )


def test_invocation_lines_put_the_output_between_start_and_end_and_report_last() -> None:
    summary = report_line("r1", 1.234, 128, 40, status="error", error_type="E")
    lines = invocation_lines("r1", "$LATEST", ["hello", "world"], summary)
    assert lines == ["START RequestId: r1 Version: $LATEST", "hello", "world", "END RequestId: r1", summary]
    assert summary.startswith("REPORT RequestId: r1\tDuration: 1.23 ms\t")
    assert summary.endswith("Status: error\tError Type: E\t")


@pytest.mark.parametrize(
    ("error_type", "status"), [("Sandbox.Timedout", "timeout"), ("Runtime.ExitError", "error")]
)
def test_failure_status_tells_a_timeout_from_a_crash(error_type: str, status: str) -> None:
    assert failure_status(error_type) == status


def test_timed_out_line_is_stamped_in_utc_to_the_millisecond() -> None:
    line = timed_out_line(1_764_496_800.1234, "r1", 3)
    assert line == "2025-11-30T10:00:00.123Z r1 Task timed out after 3.00 seconds"
