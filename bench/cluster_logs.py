"""``python -m bench.cluster_logs`` (part of ``make bench-cluster``): what a CloudWatch Logs call
costs when it spans the cluster.

Three ``flare serve --cluster`` nodes in network namespaces (``tests/cluster_hosts.py``); one
log group with a stream of 100 events on each node (``PutLogEvents`` through each). Through
node-0, sequentially over keep-alive, with the two others live (node-0 asks each of them its
part: ``cluster/log_peers.py``) and then with them stopped (node-0 asks none):

- ``FilterLogEvents`` of node-0's own stream (the same 100 events either way: the difference
  is what asking two other nodes costs);
- ``FilterLogEvents`` of the whole group (300 events from three nodes, then node-0's 100);
- ``DescribeLogStreams`` of the group.

Results go to stdout as markdown and are appended to bench/RESULTS.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.cluster_hosts import ClusterHosts, available

from bench import measure

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
GROUP = "/bench/cluster-logs"
EVENTS_PER_NODE = 100


def fill(hosts: ClusterHosts) -> Any:
    """The group, a stream of ``EVENTS_PER_NODE`` events on each node; node-0's logs client."""
    clients = [hosts.client(node, "logs") for node in hosts.nodes]
    clients[0].create_log_group(logGroupName=GROUP)
    for index, logs in enumerate(clients):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=f"node-{index}")
        now = int(time.time() * 1000)
        batch = [
            {"timestamp": now + k, "message": f"line {k} of node {index}"} for k in range(EVENTS_PER_NODE)
        ]
        logs.put_log_events(logGroupName=GROUP, logStreamName=f"node-{index}", logEvents=batch)
    return clients[0]


def timed(call: Callable[[], object], iterations: int) -> measure.LatencyStats:
    for _ in range(5):
        call()
    samples = []
    for _ in range(iterations):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return measure.LatencyStats.from_seconds(samples)


def calls(logs: Any) -> dict[str, Callable[[], object]]:
    return {
        "FilterLogEvents, node-0's stream": lambda: logs.filter_log_events(
            logGroupName=GROUP, logStreamNames=["node-0"]
        ),
        "FilterLogEvents, the whole group": lambda: logs.filter_log_events(logGroupName=GROUP),
        "DescribeLogStreams": lambda: logs.describe_log_streams(logGroupName=GROUP),
    }


def run(iterations: int) -> tuple[dict[str, measure.LatencyStats], dict[str, measure.LatencyStats]]:
    with (
        tempfile.TemporaryDirectory(prefix="flare-bench-cluster-logs-") as root,
        ClusterHosts.start(Path(root), nodes=3, node_args=("--cluster-ttl", "1.5")) as hosts,
    ):
        logs = fill(hosts)
        assert len(logs.filter_log_events(logGroupName=GROUP)["events"]) == 3 * EVENTS_PER_NODE
        spanning = {name: timed(call, iterations) for name, call in calls(logs).items()}
        for node in hosts.nodes[1:]:
            hosts.stop(node)
        hosts.wait_converged()
        assert len(logs.filter_log_events(logGroupName=GROUP)["events"]) == EVENTS_PER_NODE
        alone = {name: timed(call, iterations) for name, call in calls(logs).items()}
    return spanning, alone


def markdown(
    spanning: dict[str, measure.LatencyStats], alone: dict[str, measure.LatencyStats], iterations: int
) -> str:
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    lines = [
        f"## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: logs calls across the cluster "
        "(python -m bench.cluster_logs)",
        "",
        f"- machine: nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end; "
        "nodes, Redis and the client share it",
        f"- commit: {commit}",
        "- command: `.venv/bin/python -m bench.cluster_logs` (`make bench-cluster`)",
        f"- one group, {EVENTS_PER_NODE} events on each of 3 nodes; {iterations} sequential calls "
        "through node-0 (boto3, keep-alive) each",
        "",
        "| call through node-0 | 2 other nodes live: p50 / p99 (ms) | alone: p50 / p99 (ms) | p50 cost |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, stats in spanning.items():
        own = alone[name]
        lines.append(
            f"| {name} | {stats.p50_ms:.2f} / {stats.p99_ms:.2f} | {own.p50_ms:.2f} / {own.p99_ms:.2f} "
            f"| +{stats.p50_ms - own.p50_ms:.2f} |"
        )
    lines += [
        "",
        "- the whole group's filter returns 300 events with the others live, 100 alone; node-0's "
        "stream is 100 events either way, so its row is what asking two nodes costs",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster_logs")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    why_not = available()
    if why_not is not None:
        print(f"bench.cluster_logs cannot run here: {why_not}", file=sys.stderr)
        return 2
    spanning, alone = run(options.iterations)
    text = markdown(spanning, alone, options.iterations)
    print(text)
    if not options.no_record:
        with RESULTS.open("a") as results:
            results.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
