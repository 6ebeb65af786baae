"""The soak: minutes of mixed load through the public API, then a count of what leaked.

``python -m bench.soak --minutes 30`` (``make soak``; not part of ``make test``) starts a
``flare serve`` of its own and drives it from a few client threads with what a real account
does, mixed at random: synchronous invokes that answer, print, time out, crash and run out of
memory; ``Event`` invokes; SQS messages and Kinesis records that mappings deliver; a code deploy
now and then. Every ``--sample`` seconds it reads the engine's resident memory, open fds,
threads, child processes, its cgroups, the host's loop devices and mounts. When the load stops
it waits for the engine to settle and samples once more. After the drained sample below, it
stops the engine with SIGTERM and looks for anything left behind: a process that descended
from it, a cgroup of its own, a loop device or a mount more than before it started.

Then it deletes every function and samples the drained engine: its fds, children and cgroups
must be back where they were before any environment existed (but for the log files its log
store keeps open, at most ``MAX_OPEN_FILES``), its memory within a bound of the
sample taken after the warm-up (the first ``--warmup`` seconds). It prints a markdown block
for ``bench/RESULTS.md`` (``--record`` appends it). Traffic goes only to the engine on
127.0.0.1; every loop is bounded by the deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.harness import REPO, Server, flare_server, handler_zip, lambda_client
from flare.observe.logs import MAX_OPEN_FILES

RESULTS = REPO / "bench" / "RESULTS.md"
ROLE = "arn:aws:iam::000000000000:role/soak"
RSS_GROWTH_BOUND_MB = 64.0
FD_GROWTH_BOUND = 32
READY_INITS = 1
"""Processes a zygote keeps forked ahead once it has served (an environment's next init)."""
SOURCES = {
    "soak-ok": "def handler(event, context):\n    return {'ok': True, 'event': event}\n",
    "soak-print": "def handler(event, context):\n    for n in range(500):\n        print('line', n)\n",
    "soak-timeout": "import time\ndef handler(event, context):\n    time.sleep(3)\n",
    "soak-crash": "import os\ndef handler(event, context):\n    os._exit(3)\n",
    "soak-oom": "def handler(event, context):\n    hog = [b'x' * (8 << 20) for _ in range(64)]\n",
}
SETTINGS = {"soak-timeout": {"Timeout": 1}, "soak-oom": {"MemorySize": 128}}
# (operation, weight): what one step of a client thread does
MIX = [
    ("invoke:soak-ok", 40),
    ("invoke:soak-print", 10),
    ("invoke:soak-timeout", 3),
    ("invoke:soak-crash", 4),
    ("invoke:soak-oom", 2),
    ("event:soak-ok", 12),
    ("sqs", 15),
    ("kinesis", 12),
    ("deploy", 1),
]


@dataclass
class Sample:
    """What the engine and the host hold at one moment."""

    at_s: float
    rss_mb: float
    fds: int
    log_files: int  # of ``fds``: log streams the log store keeps open (at most MAX_OPEN_FILES)
    threads: int
    children: int
    cgroups: int
    loop_devices: int
    mounts: int


def engine_sample(pid: int, started: float) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Sample(
        at_s=round(time.monotonic() - started, 1),
        rss_mb=round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        log_files=fd_kinds(pid, depth=4).get("logs", 0),
        threads=int(fields["Threads"]),
        children=len(descendants(pid)),
        cgroups=len(engine_cgroups(pid)),
        loop_devices=loop_devices(),
        mounts=host_mounts(),
    )


def fd_kinds(pid: int, depth: int = 0) -> dict[str, int]:
    """The engine's open fds by what they are: ``socket``, ``pipe``, ``anon_inode``, or a
    path's part ``depth`` under the data dir (``logs``, ``flare.db``…; 0: the whole path)."""
    kinds: dict[str, int] = {}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            target = os.readlink(fd)
            parts = target.split("/")
            kind = (
                target.split(":")[0]
                if ":" in target
                else (parts[depth] if 0 < depth < len(parts) else target)
            )
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def descendants(pid: int) -> set[tuple[int, str]]:
    """Every live descendant of ``pid`` as (pid, start time): zygotes, inits, runtimes."""
    found: set[tuple[int, str]] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with suppress(OSError):
                for child in (task / "children").read_text().split():
                    started = started_at(int(child))
                    if started is not None:
                        found.add((int(child), started))
                        pending.append(int(child))
    return found


def started_at(pid: int) -> str | None:
    """The start time of ``pid`` (clock ticks after boot), None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def engine_cgroups(pid: int) -> list[Path]:
    """The engine's own cgroups (``flare/e<pid>-<start>/...``, v1 or v2)."""
    roots = [Path("/sys/fs/cgroup/flare"), *Path("/sys/fs/cgroup").glob("*/flare")]
    return [path for root in roots for top in root.glob(f"e{pid}-*") for path in [top, *top.iterdir()]]


def host_mounts() -> int:
    """Mounts this process's mount namespace (the host's) holds."""
    return len(Path("/proc/self/mountinfo").read_text().splitlines())


def loop_devices() -> int:
    """Loop devices with a backing file, host-wide."""
    return sum(1 for path in Path("/sys/block").glob("loop*") if (path / "loop" / "backing_file").exists())


class Load:
    """The client threads: each steps through ``MIX`` at random until ``deadline``."""

    def __init__(self, url: str, deadline: float) -> None:
        import boto3
        from botocore.config import Config

        make: Callable[..., Any] = boto3.client  # the service is a name, not a literal

        def client(service: str) -> Any:
            return make(
                service,
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id="soak",
                aws_secret_access_key="soak",
                config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
            )

        self.deadline = deadline
        self.client = client
        self.counts: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self._deploys = 0

    def run(self, threads: int) -> None:
        workers = [threading.Thread(target=self._work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _work(self, seed: int) -> None:
        chooser = random.Random(seed)
        lam, sqs, kinesis = self.client("lambda"), self.client("sqs"), self.client("kinesis")
        queue = sqs.get_queue_url(QueueName="soak-queue")["QueueUrl"]
        operations = [operation for operation, _ in MIX]
        weights = [weight for _, weight in MIX]
        while time.monotonic() < self.deadline:
            operation = chooser.choices(operations, weights)[0]
            try:
                self._step(operation, lam, sqs, kinesis, queue, chooser)
                self._count(self.counts, operation)
            except Exception as error:  # the verdict counts them; an expected error is not one
                self._count(self.failures, f"{operation}: {type(error).__name__}")

    def _step(
        self, operation: str, lam: Any, sqs: Any, kinesis: Any, queue: str, chooser: random.Random
    ) -> None:
        kind, _, name = operation.partition(":")
        if kind == "invoke":
            reply = lam.invoke(FunctionName=name, Payload=b'{"n": 1}')
            reply["Payload"].read()
            if (reply.get("FunctionError") is None) != (name in ("soak-ok", "soak-print")):
                raise RuntimeError(f"{name} answered {reply.get('FunctionError')}")
        elif kind == "event":
            lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 2}')
        elif kind == "sqs":
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"n": chooser.random()}))
        elif kind == "kinesis":
            kinesis.put_record(StreamName="soak-stream", Data=b'{"n": 3}', PartitionKey=str(chooser.random()))
        elif kind == "deploy":
            with self._lock:
                self._deploys += 1
                number = self._deploys
            source = SOURCES["soak-ok"] + f"# deploy {number}\n"
            lam.update_function_code(FunctionName="soak-ok", ZipFile=handler_zip(source))
            lam.get_waiter("function_updated_v2").wait(
                FunctionName="soak-ok", WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
            )

    def _count(self, table: dict[str, int], key: str) -> None:
        with self._lock:
            table[key] = table.get(key, 0) + 1


def set_up(url: str) -> None:
    """The functions, the queue and the stream, and a mapping from each to ``soak-ok``."""
    import boto3

    lam = lambda_client(url)
    for name, source in SOURCES.items():
        settings = {"MemorySize": 256, "Timeout": 10, **SETTINGS.get(name, {})}
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": handler_zip(source)},
            **settings,
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})

    keys = {"region_name": "us-east-1", "aws_access_key_id": "soak", "aws_secret_access_key": "soak"}
    make: Callable[..., Any] = boto3.client
    sqs = make("sqs", endpoint_url=url, **keys)
    kinesis = make("kinesis", endpoint_url=url, **keys)
    queue = sqs.create_queue(QueueName="soak-queue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    kinesis.create_stream(StreamName="soak-stream", ShardCount=2)
    summary = kinesis.describe_stream_summary(StreamName="soak-stream")["StreamDescriptionSummary"]
    queue_arn, stream_arn = attributes["QueueArn"], summary["StreamARN"]
    lam.create_event_source_mapping(FunctionName="soak-ok", EventSourceArn=queue_arn, BatchSize=10)
    lam.create_event_source_mapping(
        FunctionName="soak-ok", EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=50
    )


def tear_down(url: str) -> None:
    """Delete the mappings and the functions: what the engine holds after is what it leaked."""
    lam = lambda_client(url)
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    for name in SOURCES:
        lam.delete_function(FunctionName=name)


def sample_until(pid: int, started: float, deadline: float, every: float, samples: list[Sample]) -> None:
    while time.monotonic() < deadline:
        samples.append(engine_sample(pid, started))
        time.sleep(min(every, max(0.0, deadline - time.monotonic())))


def stop_and_look(server: Server) -> dict[str, Any]:
    """SIGTERM the engine alone, wait for it, and list what it left behind: any process that
    descended from it before, any cgroup of its own."""
    pid = server.process.pid
    before = descendants(pid)
    os.kill(pid, signal.SIGTERM)
    began = time.monotonic()
    with suppress(subprocess.TimeoutExpired):
        server.process.wait(timeout=30)
    stopped_in = round(time.monotonic() - began, 2)
    time.sleep(1.0)
    return {
        "stopped_in_s": stopped_in,
        "exit_code": server.process.returncode,
        "processes_left": sum(1 for child, started in before if started_at(child) == started),
        "cgroups_left": len(engine_cgroups(pid)),
    }


def verdict(first: Sample, warm: Sample, end: Sample, left: dict[str, Any], before: Sample) -> list[str]:
    """What broke a bound (empty: none). ``end`` is taken once every function is deleted: its
    fds, children and cgroups are back where ``first`` (before any environment) was, less what
    the bounds allow; its memory where ``warm`` was."""
    broken = []
    if end.rss_mb - warm.rss_mb > RSS_GROWTH_BOUND_MB:
        grown = end.rss_mb - warm.rss_mb
        broken.append(f"engine RSS grew {grown:.1f} MB after warm-up (bound {RSS_GROWTH_BOUND_MB})")
    if (end.fds - end.log_files) - (first.fds - first.log_files) > FD_GROWTH_BOUND:
        broken.append(f"engine fds: {first.fds} before any environment, {end.fds} after they all ended")
    if end.log_files > MAX_OPEN_FILES:
        broken.append(f"{end.log_files} log files open (the log store keeps {MAX_OPEN_FILES})")
    if end.cgroups > first.cgroups or end.children > first.children + READY_INITS:
        broken.append(
            f"cgroups {first.cgroups} -> {end.cgroups}, children {first.children} -> {end.children} "
            "once every function was deleted"
        )
    if left["processes_left"] or left["cgroups_left"]:
        broken.append(f"left behind after stop: {left}")
    if left["loop_devices_after"] > before.loop_devices or left["mounts_after"] > before.mounts:
        broken.append(
            f"host loop devices {before.loop_devices} -> {left['loop_devices_after']}, "
            f"mounts {before.mounts} -> {left['mounts_after']}"
        )
    return broken


def report(
    args: argparse.Namespace, load: Load, samples: list[Sample], left: dict[str, Any], broken: list[str]
) -> str:
    total = sum(load.counts.values())
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"### Soak: {args.minutes:g} min, {args.threads} client threads, {when}",
        "",
        f"`python -m bench.soak --minutes {args.minutes:g} --threads {args.threads}` (`make soak`): "
        f"{total:,} operations ({', '.join(f'{k} {v:,}' for k, v in sorted(load.counts.items()))}); "
        f"unexpected failures: {sum(load.failures.values())} {dict(sorted(load.failures.items())) or ''}.",
        "",
        "| at (s) | engine RSS (MB) | fds | of them log files | threads | children | cgroups "
        "| loop devices | mounts |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    shown = samples if len(samples) <= 12 else [*samples[:: max(1, len(samples) // 10)], samples[-1]]
    for s in shown:
        cells = (
            s.at_s,
            s.rss_mb,
            s.fds,
            s.log_files,
            s.threads,
            s.children,
            s.cgroups,
            s.loop_devices,
            s.mounts,
        )
        lines.append("| " + " | ".join(f"{cell:g}" for cell in cells) + " |")
    lines += [
        "",
        f"After SIGTERM: stopped in {left['stopped_in_s']} s (exit {left['exit_code']}), "
        f"{left['processes_left']} processes and {left['cgroups_left']} cgroups left; host loop devices "
        f"{left['loop_devices_before']} before start, {left['loop_devices_after']} after stop; mounts "
        f"{left['mounts_before']} / {left['mounts_after']}.",
        f"Bounds (after the {args.warmup:g} s warm-up): RSS +{RSS_GROWTH_BOUND_MB:g} MB, "
        f"fds +{FD_GROWTH_BOUND}, nothing left after stop. "
        f"Verdict: {'PASS' if not broken else 'FAIL: ' + '; '.join(broken)}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds before the reference sample")
    parser.add_argument("--record", action="store_true", help="append the result to bench/RESULTS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flare-soak-") as scratch:
        before = Sample(0, 0, 0, 0, 0, 0, 0, loop_devices(), host_mounts())
        with flare_server(Path(scratch) / "data", Path(scratch) / "flare.log") as server:
            set_up(server.url)
            started = time.monotonic()
            deadline = started + args.minutes * 60
            load = Load(server.url, deadline)
            samples: list[Sample] = []
            sampler = threading.Thread(
                target=sample_until, args=(server.process.pid, started, deadline, args.sample, samples)
            )
            sampler.start()
            load.run(args.threads)
            sampler.join()
            time.sleep(15.0)  # queues drain, answers settle, idle environments stay idle
            samples.append(engine_sample(server.process.pid, started))
            tear_down(server.url)
            time.sleep(10.0)  # every environment of the deleted functions shuts down
            end = engine_sample(server.process.pid, started)
            children = [
                Path(f"/proc/{child}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")[:120]
                .decode(errors="replace")
                for child, _ in descendants(server.process.pid)
            ]
            drained = {"fds": fd_kinds(server.process.pid, depth=4), "children": children}
            print(json.dumps({"drained": drained}), file=sys.stderr)
            samples.append(end)
            left = stop_and_look(server)
        left |= {
            "loop_devices_before": before.loop_devices,
            "loop_devices_after": loop_devices(),
            "mounts_before": before.mounts,
            "mounts_after": host_mounts(),
        }
    warm = next((s for s in samples if s.at_s >= args.warmup), samples[0])
    broken = verdict(samples[0], warm, end, left, before)
    text = report(args, load, samples, left, broken)
    print(text)
    print(json.dumps({"samples": [asdict(s) for s in samples], "left": left}), file=sys.stderr)
    if args.record:
        with RESULTS.open("a") as results:
            results.write("\n" + text)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
