"""``flare cluster status``: the nodes of the cluster a Flare belongs to.

It asks any node (``--endpoint-url``) through its signed ``GET /flare/v1/cluster`` route rather
than reading Redis itself: a user has a node's URL and a key already, the cluster's Redis is
often reachable from the nodes only, and what counts as a live node (the heartbeat's TTL) is
decided in one place, by the nodes.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import click

from flare.cli.client import CommandFailed, call_flare, endpoint_option, resolve_endpoint

PATH = "/flare/v1/cluster"
REQUEST_TIMEOUT_S = 10.0
COLUMNS = (
    ("NODE", "Name", 16),
    ("URL", "Url", 28),
    ("SHARE", "AccountShare", 7),
    ("MEMORY MB", "MemoryMB", 11),
    ("MAX ENVS", "MaxEnvironments", 10),
    ("ENVS", "Environments", 6),
    ("BUSY", "Busy", 6),
    ("BEAT S AGO", "LastBeatSecondsAgo", 0),
)


@click.group("cluster")
def cluster_command() -> None:
    """The nodes of a Flare cluster (flare serve --cluster)."""


@cluster_command.command("status")
@endpoint_option
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the answer as JSON.")
def status_command(endpoint_url: str | None, as_json: bool) -> None:
    """List the live nodes: capacity, environments and load."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    request = urllib.request.Request(f"{endpoint}{PATH}", method="GET")
    try:
        answer = json.loads(call_flare(endpoint, request, REQUEST_TIMEOUT_S))
    except ValueError:
        raise CommandFailed(f"unexpected answer from {endpoint}") from None
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    click.echo(table(answer))


def table(answer: dict[str, Any]) -> str:
    """The nodes as aligned columns, with a summary line."""
    lines = ["".join(f"{title:<{width}}" if width else title for title, _, width in COLUMNS)]
    for node in answer.get("Nodes", []):
        cells = [
            f"{node.get(key, '')!s:<{width}}" if width else str(node.get(key, ""))
            for _, key, width in COLUMNS
        ]
        lines.append("".join(cells))
    nodes = answer.get("Nodes", [])
    lines.append(f"{len(nodes)} live node(s); asked {answer.get('Node')}; TTL {answer.get('TtlSeconds')} s")
    return "\n".join(lines)
