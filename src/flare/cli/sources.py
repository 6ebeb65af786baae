"""``flare sources``: the counters of every event source mapping and async queue, as a table.

``GET {endpoint}/flare/v1/event-sources`` answers
``{"Mappings": [{"UUID", "EventSourceArn", "FunctionArn", "State", <counters>}, ...],
"AsyncQueues": {function_name: {<counters>, "waiting": n}}}`` where the counters are
``received``, ``succeeded``, ``failed``, ``retried``, ``dead_lettered`` and ``oldest_age_s``
(see :mod:`flare.events.counters`). One row per mapping, then one per function's async queue.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from flare.cli.client import CommandFailed, call_flare, endpoint_option, resolve_endpoint
from flare.cli.logs import REQUEST_TIMEOUT_S

SOURCES_PATH = "/flare/v1/event-sources"
_LABELS = ("KIND", "SOURCE", "FUNCTION", "STATE")
_NUMBERS = ("RECEIVED", "SUCCEEDED", "FAILED", "RETRIED", "DLQ", "OLDEST")
HEADERS: tuple[str, ...] = _LABELS + _NUMBERS
_NUMERIC_FROM = len(_LABELS)


@dataclass(frozen=True)
class SourceRow:
    """One event source's counters; ``source`` is the queue/stream name, or ``async``."""

    kind: str
    source: str
    function: str
    state: str
    received: int
    succeeded: int
    failed: int
    retried: int
    dead_lettered: int
    oldest_age_s: float

    def cells(self) -> tuple[str, ...]:
        return (
            self.kind,
            self.source,
            self.function,
            self.state,
            str(self.received),
            str(self.succeeded),
            str(self.failed),
            str(self.retried),
            str(self.dead_lettered),
            f"{self.oldest_age_s:.1f}s",
        )


def _last_segment(arn: str) -> str:
    """``my-queue`` for an SQS ARN, ``my-stream`` for a Kinesis one, the name for a function ARN."""
    if ":function:" in arn:
        return arn.split(":function:", 1)[1]
    tail = arn.rsplit(":", 1)[-1]
    return tail.split("/", 1)[1] if tail.startswith("stream/") else tail


def _kind(arn: str) -> str:
    service = arn.split(":")[2] if arn.count(":") >= 2 else ""
    return {"sqs": "sqs", "kinesis": "kinesis", "dynamodb": "dynamodb"}.get(service, service or "?")


def _counters(kind: str, source: str, function: str, state: str, item: dict[str, Any]) -> SourceRow:
    return SourceRow(
        kind,
        source,
        function,
        state,
        int(item.get("received", 0)),
        int(item.get("succeeded", 0)),
        int(item.get("failed", 0)),
        int(item.get("retried", 0)),
        int(item.get("dead_lettered", 0)),
        float(item.get("oldest_age_s", 0.0)),
    )


def parse_sources(body: bytes) -> list[SourceRow]:
    """The rows in a 200 body: mappings first (in the server's order), then async queues by name.

    Raises ``ValueError`` (or ``KeyError``/``TypeError``/``AttributeError``) on another shape."""
    document = json.loads(body)
    rows = [
        _counters(
            _kind(str(m["EventSourceArn"])),
            _last_segment(str(m["EventSourceArn"])),
            _last_segment(str(m["FunctionArn"])),
            str(m.get("State", "")),
            m,
        )
        for m in document["Mappings"]
    ]
    queues = document.get("AsyncQueues") or {}
    for name in sorted(queues):
        item = queues[name]
        rows.append(_counters("async", f"{int(item.get('waiting', 0))} waiting", name, "-", item))
    return rows


def render_table(rows: Sequence[SourceRow]) -> str:
    """A plain text table with a header; numbers right-aligned. A note when there are no rows."""
    if not rows:
        return "no event source mappings or async queues"
    table = [HEADERS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    lines = []
    for line in table:
        cells = [
            cell.rjust(width) if i >= _NUMERIC_FROM else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def fetch_sources(endpoint_url: str) -> bytes:
    """GET the event-sources document. Raises :class:`CommandFailed` on any failure."""
    return call_flare(endpoint_url, urllib.request.Request(endpoint_url + SOURCES_PATH), REQUEST_TIMEOUT_S)


@click.command("sources")
@click.option("--json", "as_json", is_flag=True, help="Print Flare's JSON document as is.")
@endpoint_option
def sources_command(as_json: bool, endpoint_url: str | None) -> None:
    """Print the counters of every event source mapping and async queue."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    body = fetch_sources(endpoint)
    try:
        rows = parse_sources(body)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CommandFailed(
            f"unexpected answer from {endpoint}: not a Flare event-sources document"
        ) from None
    click.echo(json.dumps(json.loads(body), indent=2) if as_json else render_table(rows))
