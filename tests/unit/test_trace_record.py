"""The trace recorder: batched off the invoke path, bounded, readable back by trace_format."""

from __future__ import annotations

from pathlib import Path

import pytest

from flare.clock import ManualClock
from flare.control.model import FunctionVersion
from flare.errors import TraceRefused
from flare.observe import trace_format
from flare.observe.trace_format import Header
from flare.observe.trace_record import FLUSH_S, TraceRecorder
from flare.sandbox.invocation import Invocation, InvocationLog, InvocationResult

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


def version(memory_mb: int = 512) -> FunctionVersion:
    return FunctionVersion(
        name="fn",
        version="$LATEST",
        function_arn=ARN,
        runtime="python3.12",
        handler="app.handler",
        memory_mb=memory_mb,
        timeout_s=3,
        ephemeral_mb=512,
        environment={},
        code_sha256="",
        code_dir=Path("/nonexistent"),
        revision_id="r1",
        region="us-east-1",
        account_id="000000000000",
        snap_start=True,
    )


def header(clock: ManualClock) -> Header:
    return Header(clock.now(), clock.wall(), 600.0, 1000, 1000, 10.0)


def result(error: str | None = None, init_ms: float | None = None) -> InvocationResult:
    function_error = "Unhandled" if error else None
    log = InvocationLog.of([])
    return InvocationResult(b"{}", function_error, "3", log, error, duration_ms=12.3456, init_ms=init_ms)


def call(arn: str = f"{ARN}:live", source: str = "sync") -> Invocation:
    return Invocation("req", b"{}", arn, "Root=1-0-0", source=source)


HEADER_LINE = trace_format.dumps(Header(0.0, 0.0, 600.0, 1000, 1000, 10.0).to_json())
INVOKE_LINE = (
    b'{"kind":"invoke","t":0.0,"account":"a","region":"r","function":"fn","version":"1","qualifier":null,'
    b'"source":"sync","memory_mb":128,"architecture":"x86_64","timeout_s":3,"reserved":null,"provisioned":0,'
    b'"snapstart":false,"outcome":"ok"}\n'
)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_invocations_are_written_in_one_batch_a_flush_interval_after_the_first(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "trace.jsonl"
    recorder = TraceRecorder(path, clock, header(clock))
    clock.advance(5)
    recorder.invoked(clock.now(), version(), call(), result(init_ms=80.0), "cold", 95.0, 10, 2)
    clock.advance(0.5)
    recorder.invoked(clock.now(), version(), call(source="async"), result("Boom"), "warm", 14.0, 10, 2)
    assert len(lines(path)) == 1  # the header alone: nothing written on the invoke path
    clock.advance(FLUSH_S)
    recorder.close()
    trace = trace_format.read(lines(path))
    assert trace.complete and trace.dropped == 0
    first, second = trace.records
    assert (first.t, first.start, first.init_ms, first.outcome, first.qualifier) == (
        5.0,
        "cold",
        80.0,
        "ok",
        "live",
    )
    assert (first.memory_mb, first.reserved, first.provisioned, first.snapstart) == (512, 10, 2, True)
    assert (first.version, first.duration_ms, first.latency_ms) == ("3", 12.346, 95.0)
    assert (second.t, second.outcome, second.error_type, second.source) == (5.5, "error", "Boom", "async")


def test_a_throttle_is_recorded_with_its_reason_and_no_start(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "trace.jsonl"
    recorder = TraceRecorder(path, clock, header(clock))
    recorder.throttled(
        clock.now(), version(), call(ARN), "ReservedFunctionConcurrentInvocationLimitExceeded", 0, 0
    )
    recorder.close()
    (record,) = trace_format.read(lines(path)).records
    assert (record.outcome, record.start, record.qualifier) == ("throttle", None, None)
    assert record.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_past_its_bound_the_trace_stops_and_counts_what_it_left_out(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "trace.jsonl"
    recorder = TraceRecorder(path, clock, header(clock), max_bytes=1500)
    for _ in range(10):
        recorder.invoked(clock.now(), version(), call(), result(), "warm", 1.0, None, 0)
    clock.advance(FLUSH_S)
    recorder.invoked(clock.now(), version(), call(), result(), "warm", 1.0, None, 0)
    recorder.close()
    assert path.stat().st_size <= 1500 + 100  # the end line may pass the bound
    trace = trace_format.read(lines(path))
    assert trace.complete
    assert 0 < len(trace.records) < 10
    assert trace.dropped == 11 - len(trace.records)


def test_a_trace_cut_mid_line_by_a_kill_is_read_up_to_its_last_whole_line(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "trace.jsonl"
    recorder = TraceRecorder(path, clock, header(clock))
    recorder.invoked(clock.now(), version(), call(), result(), "warm", 1.0, None, 0)
    recorder.flush()
    with path.open("ab") as file:
        file.write(b'{"kind": "invoke", "t": 1')
    trace = trace_format.read(lines(path))
    assert len(trace.records) == 1 and not trace.complete


@pytest.mark.parametrize(
    ("first", "message"),
    [
        (b"", "empty"),
        (b'{"kind": "invoke"}\n', "not a flare-trace header"),
        (b'{"kind": "header", "format": "flare-trace", "version": 99}\n', "version 99"),
        (b"nonsense\n", "line 1 is not JSON"),
        (HEADER_LINE + b'{"kind": "invoke", "t": 1.0}\n', "line 2: .*missing"),
        (
            HEADER_LINE + INVOKE_LINE.replace(b'"t":0.0', b'"t":"soon"'),
            "line 2: t and memory_mb must be numbers",
        ),
    ],
)
def test_a_file_that_is_not_a_trace_is_refused_with_the_reason(first: bytes, message: str) -> None:
    with pytest.raises(TraceRefused, match=message):
        trace_format.read(first.splitlines(keepends=True))
