"""``observe/tuning.py`` and ``flare tune``'s pure parts: REPORT figures, Power Tuning's
statistics and strategies, the flat part of the curve, which sizes run side by side, and what a
copy of a function keeps."""

from __future__ import annotations

import pytest

from flare.cli.client import CommandFailed
from flare.cli.tune import copy_name, copy_settings
from flare.observe import tuning
from flare.observe.tuning import Row, Sample


def row(memory_mb: int, *durations: float) -> Row:
    return Row(memory_mb, memory_mb / 1769, None, [Sample(d, int(d) + 1, 20) for d in durations])


def test_a_report_line_gives_its_figures() -> None:
    cold = (
        "REPORT RequestId: 1\tDuration: 12.34 ms\tBilled Duration: 113 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 15 MB\tInit Duration: 100.10 ms\t"
    )
    assert tuning.parse_report(cold) == Sample(12.34, 113, 15, 100.10)
    warm = (
        "REPORT RequestId: 2\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 15 MB\t"
    )
    assert tuning.parse_report(warm) == Sample(1.0, 1, 15, None)
    assert tuning.parse_report("END RequestId: 2") is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], 0.0),
        ([5.0], 5.0),
        ([1.0, 2.0, 3.0, 4.0], 2.5),  # 20% of 4 rounds to none
        ([100.0, 1.0, 2.0, 3.0, 4.0], 3.0),  # one from each end
        ([0.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 1000.0], 10.0),
    ],
)
def test_the_mean_leaves_out_a_fifth_at_each_end(values: list[float], expected: float) -> None:
    assert tuning.trimmed_mean(values) == pytest.approx(expected)


# durations halve with memory up to ~1769 MB, then stay: a CPU-bound function
CPU_BOUND = [row(128, 1000), row(256, 500), row(512, 250), row(1024, 120), row(2048, 80), row(3008, 80)]
IO_BOUND = [row(128, 100), row(512, 100), row(1024, 100.5)]


@pytest.mark.parametrize(
    ("rows", "strategy", "weight", "expected_mb"),
    [
        (CPU_BOUND, "speed", 0.5, 2048),  # as fast as 3008, and cheaper
        (CPU_BOUND, "cost", 0.5, 1024),
        (IO_BOUND, "cost", 0.5, 128),
        (IO_BOUND, "speed", 0.5, 128),
        (CPU_BOUND, "balanced", 0.0, 2048),  # weight 0 is speed
        (CPU_BOUND, "balanced", 1.0, 1024),  # weight 1 is cost
        (CPU_BOUND, "balanced", 0.5, 1024),
    ],
)
def test_each_strategy_picks_as_power_tuning_does(
    rows: list[Row], strategy: str, weight: float, expected_mb: int
) -> None:
    assert tuning.recommend(rows, strategy, weight).memory_mb == expected_mb


def test_an_unknown_strategy_or_nothing_measured_is_refused() -> None:
    with pytest.raises(ValueError, match="strategy"):
        tuning.recommend(CPU_BOUND, "luck")
    with pytest.raises(ValueError, match="measured"):
        tuning.recommend([Row(128, 0.07, None)], "cost")


def test_the_curve_is_flat_from_the_first_size_near_the_fastest() -> None:
    assert tuning.inflection(CPU_BOUND).memory_mb == 2048
    assert tuning.inflection(IO_BOUND).memory_mb == 128


@pytest.mark.parametrize(
    ("sizes", "cpus", "batches"),
    [
        # 2 vCPUs less a quarter: 128-1024 MB share (1.09 vCPU); each bigger one runs alone
        ([128, 256, 512, 1024, 1536, 3008], 2, [[128, 256, 512, 1024], [1536], [3008]]),
        ([3008, 128, 2048, 1024], 2, [[128, 1024], [2048], [3008]]),
        # 8 vCPUs: everything at once
        ([128, 256, 512, 1024, 1536, 3008], 8, [[128, 256, 512, 1024, 1536, 3008]]),
        # one vCPU: 1536 MB (0.87) alone, the small ones together
        ([128, 256, 512, 1536], 1, [[128, 256, 512], [1536]]),
    ],
)
def test_sizes_run_side_by_side_while_their_cpu_fits_the_host(
    sizes: list[int], cpus: int, batches: list[list[int]]
) -> None:
    assert tuning.plan_batches(sizes, cpus) == batches


def test_sizes_are_parsed_and_checked() -> None:
    assert tuning.parse_sizes("128, 256,1024") == [128, 256, 1024]
    for bad in ("64", "128,128", "", "128,99999", "128,lots"):
        with pytest.raises(ValueError):
            tuning.parse_sizes(bad)


def test_a_copy_keeps_what_runs_the_code_and_nothing_of_its_identity() -> None:
    configuration = {
        "FunctionName": "fn",
        "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Role": "arn:aws:iam::000000000000:role/r",
        "Timeout": 30,
        "MemorySize": 512,
        "Architectures": ["arm64"],
        "Environment": {"Variables": {"A": "1"}},
        "Layers": [{"Arn": "arn:aws:lambda:us-east-1:000000000000:layer:l:1", "CodeSize": 1}],
        "EphemeralStorage": {"Size": 1024},
        "LoggingConfig": {"LogFormat": "JSON", "LogGroup": "/aws/lambda/fn"},
        "RevisionId": "r",
    }
    assert copy_settings(configuration) == {
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Role": "arn:aws:iam::000000000000:role/r",
        "Timeout": 30,
        "Architectures": ["arm64"],
        "Environment": {"Variables": {"A": "1"}},
        "Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:l:1"],
        "EphemeralStorage": {"Size": 1024},
        "LoggingConfig": {"LogFormat": "JSON"},
    }
    with pytest.raises(CommandFailed):
        copy_settings({**configuration, "PackageType": "Image"})


def test_a_copys_name_fits_lambdas_64_characters() -> None:
    assert copy_name("fn", 128, "abc123") == "fn-tune128-abc123"
    long = copy_name("x" * 64, 10240, "abc123")
    assert len(long) == 64 and long.endswith("-tune10240-abc123")
