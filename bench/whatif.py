"""Micro-bench of recording and replaying traces: ``python -m bench.whatif [--rate N]``.

* the recorder (``observe/trace_record.py``): what one invocation costs the event loop, the
  append after its answer and its share of the batch written later (budget: a few µs);
* the replay (``flare trace replay``): a synthetic day of traffic — three functions, Poisson
  arrivals averaging ``--rate`` a second with a daily swing, 1 % cold starts — read, then
  replayed as recorded and under one what-if (budget: a day in seconds at 1/s).

Prints CPU seconds (``time.process_time``: the host's other load inflates wall time, not
these) and the best of ``ROUNDS`` for the recorder; nothing is recorded.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from pathlib import Path

import orjson

from flare.clock import ManualClock
from flare.control.model import FunctionVersion
from flare.observe import trace_format
from flare.observe.trace_format import Header
from flare.observe.trace_record import TraceRecorder
from flare.sandbox.invocation import Invocation, InvocationLog, InvocationResult
from flare.whatif import scenario
from flare.whatif.replay import replay

ROUNDS = 5
INVOCATIONS = 100_000
DAY_S = 86_400
# name, memory (MB), median duration (ms), INIT (ms), share of the traffic
FUNCTIONS = (("api", 256, 40.0, 350.0, 6), ("worker", 1024, 400.0, 900.0, 1), ("hook", 128, 5.0, 120.0, 3))


def recorder_us(directory: Path) -> float:
    """Microseconds of the event loop per recorded invocation, best of ``ROUNDS``."""
    clock = ManualClock()
    recorder = TraceRecorder(directory / "recorded.jsonl", clock, Header(0.0, 0.0, 600.0, 1000, 1000, 10.0))
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fn"
    version = FunctionVersion(
        "fn", "$LATEST", arn, "python3.12", "app.handler", 128, 3, 512, {}, "", Path("/"), "r1", "us-east-1",
        "000000000000",
    )  # fmt: skip
    invocation = Invocation("id", b"{}", arn, "Root=1-0-0")
    result = InvocationResult(b"{}", None, "$LATEST", InvocationLog.of([]), duration_ms=1.234)
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for number in range(INVOCATIONS):
            recorder.invoked(clock.now(), version, invocation, result, "warm", 1.5, None, 0)
            if number % 500 == 499:
                clock.advance(1.0)  # the flush timer, as the engine's loop would run it
        best = min(best, (time.process_time() - started) / INVOCATIONS)
    recorder.close()
    return best * 1e6


def write_day(path: Path, rate: float, seed: int = 1) -> int:
    """A synthetic day of traffic at ``path``; how many invocations it holds."""
    rng = random.Random(seed)
    header = Header(0.0, 0.0, 600.0, 1000, 1000, 10.0).to_json()
    t, count = 0.0, 0
    with path.open("wb") as out:
        out.write(trace_format.dumps(header))
        while True:
            swing = 0.2 + 1.6 * (0.5 - 0.5 * math.cos(2 * math.pi * t / DAY_S))
            t += rng.expovariate(rate * swing)
            if t >= DAY_S:
                break
            name, memory, median, init, _ = rng.choices(FUNCTIONS, [f[4] for f in FUNCTIONS])[0]
            cold = rng.random() < 0.01
            duration = round(rng.lognormvariate(math.log(median), 0.4), 3)
            line = {
                "kind": "invoke", "t": round(t, 6), "account": "000000000000", "region": "us-east-1",
                "function": name, "version": "$LATEST", "qualifier": None, "source": "sync",
                "memory_mb": memory, "architecture": "x86_64", "timeout_s": 30, "reserved": None,
                "provisioned": 0, "snapstart": False, "outcome": "ok", "start": "cold" if cold else "warm",
                "init_ms": init if cold else None, "restore_ms": None, "duration_ms": duration,
                "latency_ms": round(duration + 0.3 + (init + 5 if cold else 0), 3), "ended": False,
                "error_type": None, "reason": None,
            }  # fmt: skip
            out.write(orjson.dumps(line) + b"\n")
            count += 1
        out.write(trace_format.dumps(trace_format.end_line(count, 0)))
    return count


def replay_s(path: Path) -> tuple[float, float, float]:
    """CPU seconds to read ``path``, to replay it as recorded (with the recorded column), and
    for one what-if more."""
    started = time.process_time()
    with path.open("rb") as lines:
        trace = trace_format.read(lines)
    read = time.process_time()
    replay(trace, [])
    recorded = time.process_time()
    replay(trace, [scenario.parse("provisioned=5")])
    both = time.process_time()
    return read - started, recorded - read, (both - recorded) - (recorded - read)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.whatif", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1.0, help="mean invocations a second (default 1)")
    rate = parser.parse_args().rate
    with tempfile.TemporaryDirectory(prefix="flare-bench-whatif-") as tmp:
        directory = Path(tmp)
        print(f"recorder: {recorder_us(directory):.2f} µs an invocation (best of {ROUNDS} x {INVOCATIONS:,})")
        count = write_day(directory / "day.jsonl", rate)
        read, recorded, what_if = replay_s(directory / "day.jsonl")
        print(
            f"a day at {rate:g}/s ({count:,} invocations): read {read:.1f} s, recorded + as recorded "
            f"{recorded:.1f} s, one what-if {what_if:.1f} s ({what_if / count * 1e6:.1f} µs an arrival), CPU"
        )


if __name__ == "__main__":
    main()
