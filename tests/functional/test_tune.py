"""``flare tune`` against ``flare serve``: the CPU memory buys makes a CPU-bound function's
duration fall with memory until one vCPU (1769 MB) and an I/O-bound one's stay flat; the
recommendations follow the measured curve; the function itself is never changed, and its
temporary copies are gone afterwards, also after Ctrl-C.

The CPU-bound handler adds up 3 million integers: ~80 ms of one CPU on this host, ~1 s at
128 MB's 0.072 vCPU. Three warm invocations per size keep the test within ~15 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import FLARE, FlareServer, create_function, python_function

CPU_BOUND = """
import time
def handler(event, context):
    began = time.process_time()
    total = 0
    for number in range(3_000_000):
        total += number
    return time.process_time() - began
"""
IO_BOUND = (
    "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0.05))\n    return 1\n"
)
ARGS = ("--invokes", "50", "--endpoint-url")
REQUEST = 0.0000002
X86_GB_S = 0.0000166667


def tune(flare: FlareServer, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(FLARE), "tune", *args, "--json", "--endpoint-url", flare.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def functions(lam: Any) -> list[str]:
    return sorted(function["FunctionName"] for function in lam.list_functions()["Functions"])


def durations(result: dict[str, Any]) -> dict[int, float]:
    return {size["memoryMB"]: size["durationMs"] for size in result["sizes"]}


def test_a_cpu_bound_function_speeds_up_with_memory_until_a_vcpu_and_the_picks_follow(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    create_function(lam, "cpu-bound", python_function(CPU_BOUND), MemorySize=2048)
    lam.invoke(FunctionName="cpu-bound")
    cpu_ms = 1000 * json.loads(lam.invoke(FunctionName="cpu-bound")["Payload"].read())  # the loop's CPU
    before = lam.get_function_configuration(FunctionName="cpu-bound")
    chart = tmp_path / "tune.png"
    result = tune(flare, "cpu-bound", "--memory", "128,1024,2048", "--invokes", "3", "--plot", str(chart))
    measured = durations(result)
    # 128 MB's quota, 0.072 vCPU, makes the loop take at least its CPU time / 0.072, however
    # idle the host (unthrottled: its CPU time, times the host's contention).
    assert measured[128] >= 0.7 * cpu_ms / (128 / 1769), (cpu_ms, measured)
    # and an eighth of 1024 MB's CPU: ~8x as long on an idle host (8.4 measured), as long
    # unthrottled (0.96). Other work on the host slows 1024 MB, not 128 MB's small share:
    # 3.3 at a load average of 4.5 on 2 vCPUs, 1.7 at 6.8.
    assert 1.5 <= measured[128] / measured[1024] <= 12, measured
    # the curve flattens past one vCPU: where it does is at or above 1024 MB
    fastest = min(measured.values())
    flat = min(size for size, duration in measured.items() if duration <= 1.1 * fastest)
    assert result["inflectionMB"] == flat >= 1024, measured
    assert result["recommendations"]["speed"] >= flat
    # cost: the cheapest size, priced from its invocations' billed durations
    priced = {
        size["memoryMB"]: sorted(
            REQUEST + size["memoryMB"] / 1024 * run["billedDurationMs"] / 1000 * X86_GB_S
            for run in size["invocations"]
        )[1]  # the median of three: Power Tuning's trimmed mean keeps it alone
        for size in result["sizes"]
    }
    assert result["recommendations"]["cost"] == min(priced, key=priced.__getitem__)
    assert all(size["coldStart"]["initDurationMs"] > 0 for size in result["sizes"])
    assert chart.read_bytes().startswith(b"\x89PNG")
    after = lam.get_function_configuration(FunctionName="cpu-bound")
    assert (after["MemorySize"], after["RevisionId"]) == (before["MemorySize"], before["RevisionId"])
    assert "cpu-bound" in functions(lam) and not [name for name in functions(lam) if "-tune" in name]


def test_an_io_bound_function_takes_as_long_at_every_size_so_the_smallest_is_cheapest(
    flare: FlareServer, lam: Any
) -> None:
    create_function(lam, "io-bound", python_function(IO_BOUND))
    result = tune(flare, "io-bound", "--memory", "128,512,2048", "--invokes", "3", "--strategy", "balanced")
    measured = durations(result)
    assert max(measured.values()) / min(measured.values()) < 1.3, measured
    assert result["recommendation"] == result["recommendations"]["cost"] == 128


def test_ctrl_c_deletes_the_copies_and_leaves_the_function_as_it_was(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "interrupted", python_function(IO_BOUND))
    before = lam.get_function_configuration(FunctionName="interrupted")
    tuner = subprocess.Popen(
        [
            str(FLARE),
            "tune",
            "interrupted",
            "--payload",
            '{"sleep": 1}',
            "--memory",
            "128,256",
            *ARGS,
            flare.url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 30
    while len([name for name in functions(lam) if name.startswith("interrupted-tune")]) < 2:
        assert time.monotonic() < deadline and tuner.poll() is None
        time.sleep(0.1)
    time.sleep(1.0)  # into the warm invocations
    tuner.send_signal(signal.SIGINT)
    assert tuner.wait(timeout=30) != 0
    assert functions(lam).count("interrupted") == 1
    assert not [name for name in functions(lam) if name.startswith("interrupted-tune")]
    after = lam.get_function_configuration(FunctionName="interrupted")
    assert (after["MemorySize"], after["RevisionId"]) == (before["MemorySize"], before["RevisionId"])
