"""``make bench-cluster`` (``python -m bench.cluster``): Flare nodes on one Redis, as hosts.

Three ``flare serve --cluster`` nodes and Redis, each in a network namespace of its own
(``tests/cluster_hosts.py``), the client in a fourth. They share this machine's cores, so the
figures say what a node costs and how work spreads, not how far a cluster scales. Measured:

- **throughput** with 1, 2 and 3 nodes: 8 keep-alive connections spread over the first k
  nodes, each node invoked for a hello-world function whose home it is (so nothing is
  forwarded), one request in flight per connection; and the Redis commands per invoke meanwhile
  (``INFO stats``' ``total_commands_processed``, heartbeats included);
- **warm latency** (p50/p99, sequential over one keep-alive connection) through the home node,
  and through another node, which forwards it (the difference is a forwarded invoke's cost);
- **failover**: the home of a function is SIGKILLed while a client invokes it through another
  node: how long until an invoke succeeds again (and how many failed), and how long until the
  dead node's concurrency leases expire (``--cluster-ttl``).

Results go to stdout as markdown and are appended to bench/RESULTS.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from tests.cluster_hosts import KEY_ID, NODE_PORT, SECRET, ClusterHosts, available
from tests.conftest import create_function, python_function

from bench import measure
from bench.harness import HANDLER_SOURCE
from flare.cluster.link import ClusterLink
from flare.cluster.routing import home_of, route_key
from flare.scope import Scope

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
NODES = ["node-0", "node-1", "node-2"]
TTL_S = 3.0
LEASES = ClusterLink.scoped(Scope("000000000000", "us-east-1"), "ledger", "all")
SLEEPY = """import time
def handler(event, context):
    time.sleep(event.get('sleep', 0))
    return {'ok': True}
"""


def homed_on(node: str, prefix: str, among: list[str] = NODES) -> str:
    """A function name whose home (``cluster/routing.py``) among ``among`` is ``node``."""
    for number in range(10_000):
        name = f"{prefix}-{number}"
        if home_of(route_key("000000000000", "us-east-1", name, None), among) == node:
            return name
    raise AssertionError("no name found")


def endpoint(hosts: ClusterHosts, node: int, function: str) -> measure.Endpoint:
    return measure.Endpoint(hosts.nodes[node].address, NODE_PORT, function, credentials=(KEY_ID, SECRET))


def deploy(hosts: ClusterHosts, name: str, source: str = HANDLER_SOURCE, memory: int = 1769) -> None:
    for node in hosts.nodes:
        if node.alive():
            create_function(hosts.client(node), name, python_function(source), MemorySize=memory)


def redis_counts(hosts: ClusterHosts) -> tuple[int, int]:
    """(round trips, commands) Redis has served: scripts called (EVALSHA/EVAL) and every
    other command sent, then every command run, inside scripts too."""
    stats = hosts.redis_client().info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}
    inside = {
        "zadd",
        "zrem",
        "zrangebyscore",
        "zrange",
        "zcard",
        "sadd",
        "srem",
        "scard",
        "smembers",
        "hget",
        "hset",
        "hdel",
        "get",
        "incrby",
        "time",
    }
    trips = sum(count for name, count in calls.items() if name not in inside and name != "info")
    return trips, sum(calls.values())


def spread_throughput(
    hosts: ClusterHosts, functions: list[str], nodes: int, seconds: float
) -> dict[str, Any]:
    """8 connections over the first ``nodes`` nodes, each to the function homed on it."""
    shares = [8 // nodes + (1 if index < 8 % nodes else 0) for index in range(nodes)]
    for index in range(nodes):  # warm every environment the connections will use
        hosts.run(measure.throughput, endpoint(hosts, index, functions[index]), shares[index], 0.5, 0.5)
    trips, _ = redis_counts(hosts)
    runs: list[Future[measure.ThroughputStats]] = [
        hosts.threads.submit(
            measure.throughput, endpoint(hosts, index, functions[index]), shares[index], 1.0, seconds
        )
        for index in range(nodes)
    ]
    stats = [run.result() for run in runs]
    trips_after, _ = redis_counts(hosts)
    completed = sum(stat.completed for stat in stats)
    total = sum(stat.per_second for stat in stats)
    return {
        "nodes": nodes,
        "per_second": total,
        "per_node": total / nodes,
        "errors": sum(stat.errors for stat in stats),
        "trips": (trips_after - trips) / max(1, completed) * seconds / (seconds + 1.0),
        "completed": completed,
    }


def latencies(hosts: ClusterHosts, function: str, home: int, other: int, iterations: int) -> dict[str, Any]:
    """Warm p50/p99 through the home, then through ``other`` (forwarded), and the Redis
    commands each run cost per invoke (heartbeats included)."""
    answer: dict[str, Any] = {}
    for label, node in (("direct", home), ("forwarded", other)):
        trips, commands = redis_counts(hosts)
        answer[label] = hosts.run(measure.warm_latency, endpoint(hosts, node, function), iterations, 200)
        trips_after, commands_after = redis_counts(hosts)
        answer[label + "_trips"] = (trips_after - trips) / (iterations + 200)
        answer[label + "_commands"] = (commands_after - commands - 1) / (iterations + 200)
    return answer


def failover(hosts: ClusterHosts) -> dict[str, float]:
    """Kill node-2, home of a function invoked through node-0; and expire node-2's leases."""
    name = homed_on("node-2", "failover")
    deploy(hosts, name, SLEEPY)
    lam2 = hosts.client(2)
    held = [hosts.threads.submit(invoke_quietly, lam2, name, 60) for _ in range(3)]
    wait(lambda: live_leases(hosts) >= 3, 20)
    connection = hosts.run(measure.Connection, endpoint(hosts, 0, name))
    hosts.run(connection.invoke)  # forwarded to node-2, warm there
    killed = time.perf_counter()
    hosts.kill(hosts.nodes[2])
    failures = 0
    while True:
        try:
            response = hosts.run(connection.invoke)
        except (OSError, measure.InvokeError):
            failures += 1
            connection = hosts.run(measure.Connection, endpoint(hosts, 0, name))
            continue
        if response.status == 200:
            break
        failures += 1
    served_again_s = time.perf_counter() - killed
    wait(lambda: live_leases(hosts) == 0, 5 * TTL_S)
    leases_gone_s = time.perf_counter() - killed
    connection.close()
    for future in held:
        future.exception()
    return {"served_again_ms": served_again_s * 1000, "failed": failures, "leases_expired_s": leases_gone_s}


def live_leases(hosts: ClusterHosts) -> int:
    """Leases not expired now (by Redis's clock; expired ones are pruned by the next grant)."""
    client = hosts.redis_client()
    seconds, micros = client.time()
    return int(client.zcount(LEASES, seconds * 1000 + micros // 1000, "+inf"))


def invoke_quietly(lam: Any, name: str, sleep: float) -> None:
    lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}).encode())


def wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.02)


def markdown(
    throughputs: list[dict[str, Any]], latency: dict[str, Any], fail: dict[str, float], seconds: float
) -> str:
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
    )
    one = throughputs[0]["per_second"]
    lines = [
        f"## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: cluster (make bench-cluster)",
        "",
        f"- machine: nproc {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}; "
        "every node, Redis and the client share it",
        f"- commit: {commit.stdout.strip()}",
        "- command: `.venv/bin/python -m bench.cluster` (`make bench-cluster`)",
        f"- nodes: `flare serve --cluster ... --auth sigv4 --cluster-ttl {TTL_S:g}`, sandboxed, "
        "each in its own network namespace; hello world, Python 3.11, 1769 MB",
        "",
        "| nodes | throughput, 8 clients (inv/s) | per node (inv/s) | efficiency per node | "
        "Redis round trips per invoke | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in throughputs:
        efficiency = row["per_second"] / one / row["nodes"]
        lines.append(
            f"| {row['nodes']} | {row['per_second']:,.0f} | {row['per_node']:,.0f} | {efficiency:.2f} | "
            f"~{row['trips']:.2f} | {row['errors']} |"
        )
    direct, forwarded = latency["direct"], latency["forwarded"]
    lines += [
        "",
        "| warm invoke, sequential | p50 (ms) | p99 (ms) | mean (ms) | Redis round trips / commands "
        "per invoke |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| through the home node | {direct.p50_ms:.3f} | {direct.p99_ms:.3f} | {direct.mean_ms:.3f} | "
        f"{latency['direct_trips']:.2f} / {latency['direct_commands']:.1f} |",
        f"| through another node (forwarded) | {forwarded.p50_ms:.3f} | {forwarded.p99_ms:.3f} | "
        f"{forwarded.mean_ms:.3f} | {latency['forwarded_trips']:.2f} / {latency['forwarded_commands']:.1f} |",
        f"| cost of forwarding | {forwarded.p50_ms - direct.p50_ms:+.3f} | "
        f"{forwarded.p99_ms - direct.p99_ms:+.3f} | {forwarded.mean_ms - direct.mean_ms:+.3f} | |",
        "",
        f"- throughput: {seconds:g} s per row after 1 s of warm-up; every invoke to its function's home "
        "node; round trips under load counted over warm-up and run, scaled to the run (~)",
        "- Redis round trips: scripts called (the ledger's acquire and release, heartbeats); commands: "
        "every command Redis ran, inside the scripts too (INFO commandstats)",
        f"- failover: the home node SIGKILLed mid-stream; the next invoke through node-0 succeeded "
        f"{fail['served_again_ms']:.1f} ms later ({fail['failed']:.0f} failed: the forward is refused, "
        "the node is suspect, the invoke runs where it arrived, a cold start)",
        "- leases: the dead node's 3 running invocations' leases expired "
        f"{fail['leases_expired_s']:.2f} s after the kill (--cluster-ttl {TTL_S:g})",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--latency-iterations", type=int, default=2000)
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    why_not = available()
    if why_not is not None:
        print(f"bench-cluster cannot run here: {why_not}", file=sys.stderr)
        return 2
    args = ("--cluster-ttl", str(TTL_S), "--idle-timeout", "600")
    with (
        tempfile.TemporaryDirectory(prefix="flare-bench-cluster-") as root,
        ClusterHosts.start(Path(root), nodes=3, node_args=args) as hosts,
    ):
        functions = [homed_on(node, "hello") for node in NODES]
        for function in functions:
            deploy(hosts, function)
        print("throughput...", file=sys.stderr)
        throughputs = [spread_throughput(hosts, functions, nodes, options.seconds) for nodes in (1, 2, 3)]
        print("latency...", file=sys.stderr)
        latency = latencies(hosts, functions[0], 0, 1, options.latency_iterations)
        print("failover...", file=sys.stderr)
        fail = failover(hosts)
    text = markdown(throughputs, latency, fail, options.seconds)
    print(text)
    if not options.no_record:
        with RESULTS.open("a") as results:
            results.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
