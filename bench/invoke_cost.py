"""What one warm invoke costs, counted rather than timed: ``python -m bench.invoke_cost``.

Timings on a shared 2-core machine move by tens of percent from run to run; counts do not.
For the tree on ``PYTHONPATH`` (or the installed one), with the bench's hello-world at 128 MB:

* under 8-client load (the throughput section's client): per invoke, the CPU time of the
  engine and of its environments (``/proc``, whole window), and, from ``perf stat`` over a few
  seconds, the system calls by name and the context switches of the engine and of its
  descendants (environments and zygote; tracepoints slow the run, the counts per invoke stand);
* one invoke at a time, the engine's main thread traced by ``sys.settrace`` (a
  ``sitecustomize`` this module writes): Python opcodes and Python calls per invoke, and the
  functions that run the most of them (``--top``).

Needs root for ``perf`` (skipped when it is missing). Nothing is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import harness, measure

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
SYSCALLS: tuple[str, ...] = (
    "write",
    "read",
    "pread64",
    "epoll_pwait",
    "sendto",
    "recvfrom",
    "poll",
    "getrusage",
)
SYSCALLS += ("restart_syscall", "openat", "close", "pwrite64", "fdatasync", "futex", "kill")
TRACER = """
import os, signal, sys
if os.environ.get("FLARE_INVOKE_COST"):
    _ops = [0, 0]
    _per = {}
    def _line(frame, event, arg):
        if event == "opcode":
            _ops[0] += 1
            _per[frame.f_code] = _per.get(frame.f_code, 0) + 1
        return _line
    def _call(frame, event, arg):
        _ops[1] += 1
        frame.f_trace_opcodes = True
        return _line
    sys.settrace(_call)
    def _dump(*_):
        ops, calls = _ops
        per = dict(_per)  # this very comprehension adds its code to _per as it runs
        rows = [f"{v}\\t{c.co_qualname}\\t{c.co_filename}:{c.co_firstlineno}" for c, v in per.items()]
        with open(os.environ["FLARE_INVOKE_COST"], "a") as out:
            out.write(f"{ops} {calls}\\n" + "\\n".join(rows) + "\\n---\\n")
    signal.signal(signal.SIGUSR1, _dump)
"""


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` now."""
    found: list[int] = []
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        kids = [int(k) for k in children.read_text().split()]
    except OSError:
        return found
    for kid in kids:
        found += [kid, *descendants(kid)]
    return found


def cpu_s(pids: list[int]) -> float:
    """User + system seconds of ``pids`` (those gone count nothing)."""
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) * TICK_S
    return total


def perf_stat(pids: list[int]) -> subprocess.Popen[str] | None:
    events = ["context-switches", *(f"syscalls:sys_enter_{name}" for name in SYSCALLS)]
    try:
        return subprocess.Popen(
            ["perf", "stat", "-x,", "-e", ",".join(events), "-p", ",".join(map(str, pids))],
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError:
        return None


def perf_counts(process: subprocess.Popen[str] | None) -> Counter[str]:
    counts: Counter[str] = Counter()
    if process is None:
        return counts
    process.send_signal(signal.SIGINT)
    for line in process.communicate()[1].splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[0].isdigit():
            counts[fields[2].removeprefix("syscalls:sys_enter_")] += int(fields[0])
    return counts


async def _loaded(endpoint: measure.Endpoint, engine: int, seconds: float) -> list[str]:
    loop = asyncio.get_running_loop()
    counts = [0, 0]
    request = endpoint.request_bytes()
    clients = [
        await loop.create_connection(
            lambda: measure._InvokeLoop(request, counts), endpoint.host, endpoint.port
        )
        for _ in range(8)
    ]
    await asyncio.sleep(1.0)
    below = descendants(engine)
    start = (counts[0], time.perf_counter(), cpu_s([engine]), cpu_s(below))
    await asyncio.sleep(seconds)
    end = (counts[0], time.perf_counter(), cpu_s([engine]), cpu_s(below))
    engine_perf, below_perf = perf_stat([engine]), perf_stat(below)
    await asyncio.sleep(0.2)
    traced_from = counts[0]
    await asyncio.sleep(3.0)
    traced = counts[0] - traced_from
    engine_counts, below_counts = perf_counts(engine_perf), perf_counts(below_perf)
    for transport, protocol in clients:
        protocol.stopping = True
        transport.close()
    n = end[0] - start[0]
    lines = [
        f"8 clients: {n / (end[1] - start[1]):,.0f} invokes/s; CPU per invoke: engine "
        f"{(end[2] - start[2]) / n * 1e6:.1f} us, environments {(end[3] - start[3]) / n * 1e6:.1f} us",
    ]
    if traced:
        lines.append(f"per invoke under perf ({traced} invokes):     engine  environments")
        for name in sorted(set(engine_counts) | set(below_counts), key=lambda k: -engine_counts[k]):
            lines.append(
                f"  {name:24} {engine_counts[name] / traced:6.2f}  {below_counts[name] / traced:6.2f}"
            )
    return lines


def dumped(engine: int, conn: measure.Connection, out: Path, count: int, timeout_s: float = 60.0) -> None:
    """Have the traced engine write its counts, and wait until ``out`` holds ``count`` dumps. A
    Python signal handler runs when the main thread next runs Python: one more invoke makes it
    (the first dump's is counted with the invokes after it)."""
    os.kill(engine, signal.SIGUSR1)
    time.sleep(0.2)
    measure.check_ok(conn.invoke())
    deadline = time.monotonic() + timeout_s
    while not (out.exists() and out.read_text().count("\n---\n") >= count):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the engine wrote no counts to {out} within {timeout_s:.0f} s")
        time.sleep(0.1)


def traced(endpoint: measure.Endpoint, engine: int, out: Path, invokes: int, top: int) -> list[str]:
    """Opcodes and calls per sequential invoke in the engine's main thread."""
    with measure.Connection(endpoint) as conn:
        for _ in range(50):
            measure.check_ok(conn.invoke())
        dumped(engine, conn, out, 1)
        for _ in range(invokes):
            measure.check_ok(conn.invoke())
        dumped(engine, conn, out, 2)
    dumps = [part.strip().splitlines() for part in out.read_text().split("\n---\n") if part.strip()]
    (ops0, calls0), (ops1, calls1) = (map(int, dump[0].split()) for dump in dumps[:2])
    invokes += 1  # the first dump's
    per0, per1 = ({row.split("\t", 1)[1]: int(row.split("\t")[0]) for row in dump[1:]} for dump in dumps[:2])
    grown = Counter({name: count - per0.get(name, 0) for name, count in per1.items()})
    dump_ops = sum(v for k, v in grown.items() if k.startswith("_dump"))  # the first dump's own
    lines = [
        f"one at a time: {(ops1 - ops0 - dump_ops) / invokes:,.0f} Python opcodes and "
        f"{(calls1 - calls0) / invokes:.1f} Python calls per invoke (engine's main thread)"
    ]
    for name, count in grown.most_common(top + 1):
        if not name.startswith("_dump"):
            lines.append(f"  {count / invokes:7.1f}  {name.replace(chr(9), '  ')}")
    return lines[: top + 1]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.invoke_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="the loaded window (default 5)")
    parser.add_argument("--invokes", type=int, default=300, help="traced invokes (default 300)")
    parser.add_argument("--top", type=int, default=25, help="functions listed (default 25)")
    args = parser.parse_args()
    from flare.server import event_loop_factory

    with tempfile.TemporaryDirectory(prefix="flare-cost-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "site").mkdir()
        (tmp / "site" / "sitecustomize.py").write_text(TRACER)
        for phase in ("loaded", "traced"):
            env = dict(os.environ)
            if phase == "traced":
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(tmp / "site")]))
                env["FLARE_INVOKE_COST"] = str(tmp / "ops.txt")
            port = harness.free_port()
            argv = [str(harness.FLARE_BIN), "serve", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--data-dir", str(tmp / phase)]
            log = tmp / f"{phase}.log"
            with harness.running(
                "flare", argv, port=port, log_path=log, cwd=harness.REPO, env=env, timeout=90
            ) as server:
                harness.deploy(harness.lambda_client(server.url))
                endpoint = measure.Endpoint(server.host, server.port, harness.FUNCTION_NAME)
                measure.time_one_invoke(endpoint)
                if phase == "loaded":
                    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                        lines = runner.run(_loaded(endpoint, server.process.pid, args.seconds))
                else:
                    lines = traced(endpoint, server.process.pid, tmp / "ops.txt", args.invokes, args.top)
            print("\n".join(lines), flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
