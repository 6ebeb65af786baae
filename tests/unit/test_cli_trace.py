"""``flare trace replay`` on a small trace file: the table, --json, --function, --plot, and the
usage errors it answers instead of a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from flare.cli.main import main

HEADER = {
    "kind": "header",
    "format": "flare-trace",
    "version": 1,
    "clock": 0.0,
    "wall": 0.0,
    "idle_timeout_s": 60.0,
    "account_concurrency": 1000,
    "scaling_rate": 1000,
    "scaling_window_s": 10.0,
}


def line(t: float, function: str = "fn", cold: bool = False) -> dict[str, object]:
    return {
        "kind": "invoke",
        "t": t,
        "account": "000000000000",
        "region": "us-east-1",
        "function": function,
        "version": "$LATEST",
        "qualifier": None,
        "source": "sync",
        "memory_mb": 128,
        "architecture": "x86_64",
        "timeout_s": 3,
        "reserved": None,
        "provisioned": 0,
        "snapstart": False,
        "outcome": "ok",
        "start": "cold" if cold else "warm",
        "init_ms": 100.0 if cold else None,
        "duration_ms": 10.0,
        "latency_ms": 111.0 if cold else 10.5,
        "future_field": "ignored",
    }


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    path = tmp_path / "trace.jsonl"
    lines = [HEADER, line(0, cold=True), line(1), line(100, cold=True), line(5, "other", cold=True)]
    path.write_bytes(b"".join(orjson.dumps(item) + b"\n" for item in lines))
    return path


def test_replay_prints_recorded_as_recorded_and_each_what_if_side_by_side(trace: Path) -> None:
    result = CliRunner().invoke(main, ["trace", "replay", str(trace), "--what-if", "provisioned=1,idle=200"])
    assert result.exit_code == 0, result.output
    header, invocations, cold = result.output.splitlines()[:3]
    assert header.split() == ["recorded", "as", "recorded", "provisioned=1,idle=200"]
    assert invocations.split() == ["invocations", "4", "4", "4"]
    assert cold.split() == ["cold", "starts", "3", "3", "0"]
    assert "no end line" in result.output


def test_replay_of_one_function_as_json(trace: Path) -> None:
    result = CliRunner().invoke(main, ["trace", "replay", str(trace), "--json", "--function", "fn"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    recorded, model = answer["scenarios"]
    assert (recorded["invocations"], recorded["cold_starts"], model["cold_starts"]) == (3, 2, 2)
    assert model["p50_ms"] == 111.0 and model["cold_start_rate"] == pytest.approx(2 / 3, rel=1e-4)


def test_replay_writes_the_chart(trace: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    chart = tmp_path / "chart.png"
    result = CliRunner().invoke(
        main, ["trace", "replay", str(trace), "--what-if", "memory=256", "--plot", str(chart)]
    )
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--what-if", "warmth=3"], "unknown key 'warmth'"),
        (["--function", "nobody"], "no invocation of nobody"),
    ],
)
def test_replay_answers_a_usage_error_not_a_traceback(trace: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["trace", "replay", str(trace), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_replay_of_a_file_that_is_not_a_trace_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "not.jsonl"
    path.write_text('{"hello": 1}\n')
    result = CliRunner().invoke(main, ["trace", "replay", str(path)])
    assert result.exit_code == 2
    assert "is not a flare-trace header" in result.output


def test_serve_refuses_a_trace_it_could_not_write_before_starting(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "trace.jsonl"
    result = CliRunner().invoke(
        main, ["serve", "--data-dir", str(tmp_path / "data"), "--trace", str(missing)]
    )
    assert result.exit_code == 2
    assert "is not a writable directory" in result.output


def test_what_ifs_may_follow_one_what_if_flag_each_a_scenario(trace: Path) -> None:
    args = ["trace", "replay", str(trace), "--json", "--what-if", "provisioned=1", "idle=0.5", "reserved=0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    names = [scenario["scenario"] for scenario in json.loads(result.output)["scenarios"]]
    assert names == ["recorded", "as recorded", "provisioned=1", "idle=0.5", "reserved=0"]
