"""``python -m bench.registry_changes``: how fast a change made through one cluster node is
seen by another, and what the shared registry costs a control-plane call.

Redis and two ``flare serve --cluster`` nodes on 127.0.0.1 (``tests/redis_server.py``,
``tests/conftest.py``'s ``launch``), plus one single node (SQLite) for comparison. Measured:

- **seen by B**: UpdateFunctionConfiguration through node A, then GetFunctionConfiguration
  through node B until it answers the new RevisionId (polled back to back);
- **runs on B**: UpdateFunctionCode through A, then Invoke through B until the new code
  answers (B's old environment retired, a cold start of the new code included);
- **a control-plane call**: UpdateFunctionConfiguration's latency on a cluster node and on a
  single node, and the Redis commands one costs (``INFO stats``' ``total_commands_processed``;
  nothing else writes meanwhile: the nodes' change listeners only read);
- **an invoke**: the Redis commands of a warm invoke (the registry answers from memory).

Results go to stdout as markdown and are appended to bench/RESULTS.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from tests.conftest import FlareServer, create_function, launch, python_function
from tests.redis_server import RedisServer

from bench.measure import percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SAYS = "def handler(event, context):\n    return {{'round': {n}}}\n"


def commands(client: redis.Redis) -> int:
    return int(client.info("stats")["total_commands_processed"])


def until(probe: Callable[[], bool], timeout: float = 10) -> float:
    """Seconds until ``probe()`` holds (polled back to back)."""
    start = time.perf_counter()
    while not probe():
        if time.perf_counter() - start > timeout:
            raise AssertionError("not seen in time")
    return time.perf_counter() - start


def ms(samples: list[float]) -> str:
    return f"{percentile(samples, 50) * 1000:.1f} / {percentile(samples, 99) * 1000:.1f}"


def seen_by_b(a: Any, b: Any, rounds: int) -> list[float]:
    create_function(a, "bench-seen", python_function(SAYS.format(n=0)))
    until(lambda: _exists(b, "bench-seen"))
    samples = []
    for n in range(rounds):
        a.get_waiter("function_updated_v2").wait(FunctionName="bench-seen")
        revision = a.update_function_configuration(FunctionName="bench-seen", Description=str(n))[
            "RevisionId"
        ]
        samples.append(until(functools.partial(_revision_is, b, "bench-seen", revision)))
    return samples


def runs_on_b(a: Any, b: Any, rounds: int) -> list[float]:
    create_function(a, "bench-runs", python_function(SAYS.format(n=0)))
    until(lambda: _exists(b, "bench-runs"))
    samples = []
    for n in range(1, rounds + 1):
        a.get_waiter("function_updated_v2").wait(FunctionName="bench-runs")
        a.update_function_code(FunctionName="bench-runs", ZipFile=python_function(SAYS.format(n=n)))
        samples.append(until(functools.partial(_answers, b, "bench-runs", {"round": n})))
    return samples


def update_cost(client: Any, name: str, rounds: int, shared: redis.Redis | None) -> tuple[list[float], float]:
    create_function(client, name, python_function(SAYS.format(n=0)))
    samples, spent = [], 0
    for n in range(rounds):
        client.get_waiter("function_updated_v2").wait(FunctionName=name)
        before = commands(shared) if shared is not None else 0
        start = time.perf_counter()
        client.update_function_configuration(FunctionName=name, Description=str(n))
        samples.append(time.perf_counter() - start)
        spent += commands(shared) - before - 1 if shared is not None else 0  # the INFO itself
    return samples, spent / rounds


def invoke_cost(client: Any, shared: redis.Redis, rounds: int) -> float:
    create_function(client, "bench-invoke", python_function(SAYS.format(n=0)))
    _answer(client, "bench-invoke")
    before = commands(shared)
    for _ in range(rounds):
        _answer(client, "bench-invoke")
    return (commands(shared) - before - 1) / rounds


def _revision(client: Any, name: str) -> str:
    return str(client.get_function_configuration(FunctionName=name)["RevisionId"])


def _revision_is(client: Any, name: str, revision: str) -> bool:
    return _revision(client, name) == revision


def _answers(client: Any, name: str, expected: Any) -> bool:
    return bool(_answer(client, name) == expected)


def _exists(client: Any, name: str) -> bool:
    try:
        client.get_function(FunctionName=name)
        return True
    except client.exceptions.ResourceNotFoundException:
        return False


def _answer(client: Any, name: str) -> Any:
    return json.loads(client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())


def run(rounds: int) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as temporary:
        root = Path(temporary)
        server = RedisServer.start(root / "redis")
        shared = redis.Redis.from_url(server.url)
        started: list[FlareServer] = []
        try:
            for name in ("a", "b"):
                started.append(launch(root / name, "--cluster", server.url, "--node-name", name))
            started.append(launch(root / "single"))
            a, b, single = (node.client() for node in started)
            seen = seen_by_b(a, b, rounds)
            runs = runs_on_b(a, b, max(5, rounds // 4))
            cluster_update, per_update = update_cost(a, "bench-update", rounds, shared)
            single_update, _ = update_cost(single, "bench-update", rounds, None)
            per_invoke = invoke_cost(a, shared, rounds)
        finally:
            for node in started:
                node.stop()
            shared.close()
            server.stop()
    return "\n".join(
        [
            "| measure | p50 / p99 (ms) |",
            "| --- | ---: |",
            f"| UpdateFunctionConfiguration on A, seen by GetFunctionConfiguration on B ({len(seen)}) "
            f"| {ms(seen)} |",
            f"| UpdateFunctionCode on A, new code answers an Invoke on B ({len(runs)}) | {ms(runs)} |",
            f"| UpdateFunctionConfiguration, cluster node ({rounds}) | {ms(cluster_update)} |",
            f"| UpdateFunctionConfiguration, single node ({rounds}) | {ms(single_update)} |",
            "",
            f"Redis commands per UpdateFunctionConfiguration (both nodes): {per_update:.1f}; "
            f"per warm invoke: {per_invoke:.2f}.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    table = run(options.rounds)
    print(table)
    if not options.no_record:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        with RESULTS.open("a") as results:
            results.write(
                f"\n## Shared registry: changes across nodes, {stamp}\n\n"
                f"Command: `.venv/bin/python -m bench.registry_changes --rounds {options.rounds}`"
                f"\n\n{table}\n"
            )


if __name__ == "__main__":
    main()
