"""``python -m bench.durable_cluster``: what durable executions cost when they are shared by a
cluster's nodes (``cluster/redis_durable.py``, ``cluster/durable_homes.py``).

Redis and two ``flare serve --cluster`` nodes on 127.0.0.1 (``tests/redis_server.py``,
``tests/conftest.py``'s ``launch``), plus one single node (SQLite) for comparison; a durable
python3.13 function written with AWS's SDK. Measured through boto3:

- **2 steps, to SUCCEEDED**: a synchronous invoke of an execution that runs two steps and
  returns (one invocation whose SDK checkpoints each step's START and SUCCEED), on a cluster
  node and on a single node;
- **Redis per execution**: the round trips a node makes (``MONITOR``'s commands but those a
  Lua script runs) and every command run (``INFO stats``' ``total_commands_processed``, the
  scripts' own included), each less what the idle node spends (heartbeats, queue polls) over as
  long;
- **callback to SUCCEEDED**: an execution waiting on a callback, the callback sent through its
  home, or through the other node (which stores the answer and asks the home to invoke it on
  the scope's change channel): from SendDurableExecutionCallbackSuccess to SUCCEEDED, polled
  with GetDurableExecution.

Results go to stdout as markdown and are appended to bench/RESULTS.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
from tests.conftest import ROLE, FlareServer, create_function, launch, python_function
from tests.redis_server import RedisServer
from tests.roles import attach_policy

from bench import report
from bench.durable import CHECKPOINTS, STEPS
from bench.measure import percentile

HOMES = "flare:{000000000000:us-east-1}:durable:homes"
CALLBACK = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def handler(event, context: DurableContext):
    return context.create_callback(name="answer").result()
"""


def commands(client: redis.Redis) -> int:
    return int(client.info("stats")["total_commands_processed"])


def ms(samples: list[float]) -> str:
    return f"{percentile(samples, 50) * 1000:.1f} / {percentile(samples, 99) * 1000:.1f}"


def durable(client: Any, name: str, source: str) -> None:
    create_function(
        client, name, python_function(source), runtime="python3.13", Timeout=30, MemorySize=1769,
        DurableConfig={"ExecutionTimeout": 600, "RetentionPeriodInDays": 1},
    )  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName=name)


def steps(client: Any, name: str, rounds: int) -> list[float]:
    """Seconds of each synchronous invoke to SUCCEEDED (after two to warm up)."""
    samples = []
    for n in range(rounds + 2):
        start = time.perf_counter()
        answer = client.invoke(FunctionName=name, Payload=b"{}")
        assert "FunctionError" not in answer, answer["Payload"].read()
        answer["Payload"].read()
        if n >= 2:
            samples.append(time.perf_counter() - start)
    return samples


def per_execution(client: Any, shared: redis.Redis, name: str, rounds: int) -> tuple[float, float]:
    """Round trips and Redis commands one execution of ``name`` costs, less the idle node's."""
    trips = Trips(shared)
    before, start = (commands(shared), trips.count), time.perf_counter()
    steps(client, name, rounds)
    spent, took = (commands(shared) - before[0] - 1, trips.count - before[1]), time.perf_counter() - start
    before = (commands(shared), trips.count)
    time.sleep(took)
    idle = (commands(shared) - before[0] - 1, trips.count - before[1])
    trips.stop()
    return (spent[1] - idle[1]) / (rounds + 2), (spent[0] - idle[0]) / (rounds + 2)


class Trips:
    """Counts the commands clients send Redis (``MONITOR``, less those Lua scripts run)."""

    def __init__(self, shared: redis.Redis) -> None:
        self.count = 0
        client: Any = shared  # redis-py's monitor() is untyped
        self._monitor = client.monitor()
        self._monitor.__enter__()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        time.sleep(0.2)

    def _listen(self) -> None:
        try:
            for command in self._monitor.listen():
                if command.get("client_type") != "lua":
                    self.count += 1
        except (redis.RedisError, OSError, ValueError):
            return  # stopped

    def stop(self) -> None:
        self._monitor.connection.disconnect()
        self._thread.join(5)


def callback_rounds(
    home: tuple[Any, bytes], other: Any, shared: redis.Redis, name: str, rounds: int
) -> list[float]:
    """Seconds from a callback's answer, sent through ``other`` (``home``'s client, or the other
    node's), to SUCCEEDED; only executions whose home is the node ``home`` names count."""
    client, node = home
    samples: list[float] = []
    while len(samples) < rounds:
        arn = client.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
        callback = _callback(client, arn)
        if shared.hget(HOMES, arn) != node:  # the shared queue gave it to the other node
            other.send_durable_execution_callback_success(CallbackId=callback, Result=b"x")
            continue
        start = time.perf_counter()
        other.send_durable_execution_callback_success(CallbackId=callback, Result=b"x")
        while client.get_durable_execution(DurableExecutionArn=arn)["Status"] != "SUCCEEDED":
            pass
        samples.append(time.perf_counter() - start)
    return samples


def _callback(client: Any, arn: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = client.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        if events[-1]["EventType"] == "InvocationCompleted":
            for event in events:
                if event["EventType"] == "CallbackStarted":
                    return str(event["CallbackStartedDetails"]["CallbackId"])
        time.sleep(0.01)
    raise AssertionError(f"{arn} did not wait for its callback")


def run(rounds: int) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-durable-cluster-") as temporary:
        root = Path(temporary)
        server = RedisServer.start(root / "redis")
        shared = redis.Redis.from_url(server.url)
        started: list[FlareServer] = []
        try:
            for name in ("a", "b"):
                started.append(launch(root / name, "--cluster", server.url, "--node-name", name))
            started.append(launch(root / "single"))
            for node in (started[0], started[2]):
                attach_policy(node.url, ROLE, CHECKPOINTS, name="durable")
            a, b, single = (node.client() for node in started)
            durable(a, "bench-steps", STEPS)
            durable(single, "bench-steps", STEPS)
            cluster_steps, single_steps = (
                steps(a, "bench-steps", rounds),
                steps(single, "bench-steps", rounds),
            )
            trips, spent = per_execution(a, shared, "bench-steps", rounds)
            durable(a, "bench-callback", CALLBACK)
            time.sleep(1)  # node b hears of it
            through_home = callback_rounds((a, b"a"), a, shared, "bench-callback", rounds)
            through_other = callback_rounds((a, b"a"), b, shared, "bench-callback", rounds)
        finally:
            for node in started:
                node.stop()
            shared.close()
            server.stop()
    return "\n".join(
        [
            "| measure | p50 / p99 (ms) |",
            "| --- | ---: |",
            f"| durable invoke, 2 steps, to SUCCEEDED, cluster node ({rounds}) | {ms(cluster_steps)} |",
            f"| durable invoke, 2 steps, to SUCCEEDED, single node ({rounds}) | {ms(single_steps)} |",
            f"| callback sent through the execution's home, to SUCCEEDED ({rounds}) | {ms(through_home)} |",
            f"| callback sent through the other node, to SUCCEEDED ({rounds}) | {ms(through_other)} |",
            "",
            f"Per 2-step execution (start, an invocation, 4 checkpoints, end): {trips:.1f} Redis round "
            f"trips; {spent:.1f} commands run, those inside Lua scripts included.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3]
    table = run(options.rounds)
    print(table)
    if not options.no_record:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        after = Path("/proc/loadavg").read_text().split()[:3]
        report.append(
            f"## Durable executions shared by a cluster, {stamp}\n\n"
            f"Command: `flock /tmp/flare-bigrun.lock .venv/bin/python -m bench.durable_cluster "
            f"--rounds {options.rounds}` (load average before: {' '.join(load)}; "
            f"after: {' '.join(after)})"
            f"\n\n{table}\n"
        )


if __name__ == "__main__":
    main()
