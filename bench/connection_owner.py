"""What a function holding many sockets costs everybody else, through its Runtime API.

An environment's Runtime API asks who owns each new connection's client socket (its own
processes are served, any other's refused). Flare used to find that owner by reading
``/proc/net/tcp`` whole, on the engine's loop; it now asks the kernel for that one socket
(``sandbox/socket_owner.py``). A hostile function can make the table large: this bench deploys
``hog``, whose handler leaves ``--children`` processes each holding ``--pairs`` loopback
connections (two table entries each), then opens ``--connections`` new connections to its own
Runtime API one after another (each asks the engine for a lookup). Meanwhile the bench invokes
another function (``victim``) back to back and records each invoke's latency: what the engine's
loop cost the function nobody attacked.

``python -m bench.connection_owner`` (as root: the Runtime API asks only where environments
have uids of their own). ``--flare-bin`` runs another build (e.g. a wrapper that puts an older
tree first on ``PYTHONPATH``) for a before/after comparison; ``--record`` appends the markdown
block to ``bench/RESULTS.md``. Not part of ``make test`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import FLARE_BIN, REPO, deploy, flare_server, lambda_client
from bench.measure import Connection, Endpoint, LatencyStats, check_ok

RESULTS = REPO / "bench" / "RESULTS.md"
HOG = """
import os, socket, time, urllib.request, urllib.error

def hold(pairs):
    server = socket.create_server(("127.0.0.1", 0), backlog=pairs)
    kept = []
    for _ in range(pairs):
        kept.append(socket.create_connection(server.getsockname()))
        kept.append(server.accept()[0])
    os.write(1, b"")
    while True:
        time.sleep(3600)

def handler(event, context):
    if event["op"] == "hold":
        for _ in range(event["children"]):
            if os.fork() == 0:
                try:
                    hold(event["pairs"])
                finally:
                    os._exit(0)
        time.sleep(event["settle"])
        return {"held": True}
    address = os.environ["AWS_LAMBDA_RUNTIME_API"]
    spent = []
    for _ in range(event["connections"]):
        began = time.perf_counter()
        try:
            urllib.request.urlopen("http://%s/2018-06-01/runtime/lookup" % address, timeout=30)
        except urllib.error.HTTPError:
            pass  # 404 once the owner is known: the lookup is what is measured
        spent.append(time.perf_counter() - began)
    return {"spent": spent}
"""


def table_entries() -> int:
    """Lines of the host's /proc/net/tcp (one per IPv4 TCP socket)."""
    with open("/proc/net/tcp", "rb") as table:
        return sum(1 for _ in table) - 1


def victim_latencies(endpoint: Endpoint, stop: threading.Event, samples: list[float]) -> None:
    with Connection(endpoint) as connection:
        while not stop.is_set():
            began = time.perf_counter()
            check_ok(connection.invoke())
            samples.append(time.perf_counter() - began)


def run(flare_bin: Path, children: int, pairs: int, connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flare-owner-") as scratch:
        data = Path(scratch) / "data"
        with flare_server(data, Path(scratch) / "flare.log", flare_bin) as server:
            client = lambda_client(server.url)
            deploy(client, "victim")
            deploy(client, "hog", source=HOG, memory_mb=2048, timeout_s=600)
            endpoint = Endpoint(server.host, server.port, "victim")
            quiet = [Connection(endpoint).invoke() for _ in range(3)]  # warm
            assert all(response.status == 200 for response in quiet)
            baseline: list[float] = []
            stop = threading.Event()
            watcher = threading.Thread(target=victim_latencies, args=(endpoint, stop, baseline))
            watcher.start()
            time.sleep(3)
            stop.set()
            watcher.join()
            hold = {"op": "hold", "children": children, "pairs": pairs, "settle": 5}
            client.invoke(FunctionName="hog", Payload=json.dumps(hold).encode())
            entries = table_entries()
            attacked: list[float] = []
            stop = threading.Event()
            watcher = threading.Thread(target=victim_latencies, args=(endpoint, stop, attacked))
            watcher.start()
            began = time.perf_counter()
            answer = client.invoke(
                FunctionName="hog", Payload=json.dumps({"op": "probe", "connections": connections}).encode()
            )
            attack_s = time.perf_counter() - began
            stop.set()
            watcher.join()
            spent = json.loads(answer["Payload"].read())["spent"]
    return {
        "table_entries": entries,
        "connections": len(spent),
        "attack_s": attack_s,
        "connection_ms": LatencyStats.from_seconds(spent),
        "victim_quiet_ms": LatencyStats.from_seconds(baseline),
        "victim_attacked_ms": LatencyStats.from_seconds(attacked),
    }


def render(label: str, result: dict[str, Any], command: str) -> str:
    quiet, attacked, connection = (
        result["victim_quiet_ms"],
        result["victim_attacked_ms"],
        result["connection_ms"],
    )
    return "\n".join(
        [
            f"### Runtime API owner lookups under a socket hog: {label}",
            "",
            f"`{command}`: {result['table_entries']:,} lines in /proc/net/tcp while `hog` opened "
            f"{result['connections']} connections to its Runtime API ({result['attack_s']:.1f} s).",
            "",
            "| | p50 ms | p99 ms | max ms |",
            "| --- | ---: | ---: | ---: |",
            f"| hog: one new Runtime API connection | {connection.p50_ms:.2f} | {connection.p99_ms:.2f} | "
            f"{connection.max_ms:.2f} |",
            f"| victim: warm invoke, quiet | {quiet.p50_ms:.3f} | {quiet.p99_ms:.3f} | {quiet.max_ms:.2f} |",
            f"| victim: warm invoke, during the hog's connections | {attacked.p50_ms:.3f} | "
            f"{attacked.p99_ms:.3f} | {attacked.max_ms:.2f} |",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=450, help="connections each child holds (<= 500)")
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--flare-bin", type=Path, default=FLARE_BIN)
    parser.add_argument("--label", default="this tree")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.flare_bin, args.children, args.pairs, args.connections)
    command = "python -m bench.connection_owner " + " ".join(argv if argv is not None else sys.argv[1:])
    block = render(args.label, result, command.strip())
    print(block)
    if args.record:
        with RESULTS.open("a") as results:
            results.write("\n" + block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
