"""``flare logs``: print a function's log lines from Flare's own log endpoint (not CloudWatch).

``GET {endpoint}/flare/v1/functions/{name}/logs?offset=N`` answers
``{"events": [{"timestamp": ms, "logStream": s, "message": line}], "nextOffset": N'}``; asking
again with ``N'`` returns only what was written since. A missing function is a 404 carrying
AWS's error JSON.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import click

from flare.cli.client import CommandFailed, call_flare, endpoint_option, resolve_endpoint

POLL_INTERVAL_S = 0.5
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LogEvent:
    """One log line as Flare stored it; ``timestamp_ms`` is epoch milliseconds."""

    timestamp_ms: int
    stream: str
    message: str


@dataclass(frozen=True)
class LogPage:
    """The events after some offset, and the offset to ask from next time."""

    events: list[LogEvent]
    next_offset: int


def logs_url(endpoint_url: str, name: str, offset: int) -> str:
    """The log endpoint's URL for function ``name`` (quoted, so ARNs survive) from ``offset``."""
    quoted = urllib.parse.quote(name, safe="")
    return f"{endpoint_url}/flare/v1/functions/{quoted}/logs?offset={offset}"


def parse_page(body: bytes) -> LogPage:
    """The page in a 200 response body. Raises ``ValueError`` (or ``KeyError``/``TypeError``) if
    the body is not the documented shape."""
    document = json.loads(body)
    events = [
        LogEvent(int(item["timestamp"]), str(item.get("logStream", "")), str(item["message"]))
        for item in document["events"]
    ]
    return LogPage(events, int(document["nextOffset"]))


def fetch_page(endpoint_url: str, name: str, offset: int) -> LogPage:
    """GET one page of ``name``'s log from ``offset``. Raises :class:`CommandFailed` on any failure."""
    body = call_flare(
        endpoint_url, urllib.request.Request(logs_url(endpoint_url, name, offset)), REQUEST_TIMEOUT_S
    )
    try:
        return parse_page(body)
    except (ValueError, KeyError, TypeError):
        raise CommandFailed(f"unexpected answer from {endpoint_url}: not a Flare log page") from None


def newer_than(events: Iterable[LogEvent], cutoff_ms: int | None) -> list[LogEvent]:
    """The events stamped at or after ``cutoff_ms``; all of them when it is None."""
    return [event for event in events if cutoff_ms is None or event.timestamp_ms >= cutoff_ms]


def tail(
    fetch: Callable[[int], LogPage],
    emit: Callable[[str], None],
    *,
    cutoff_ms: int | None,
    follow: bool,
    sleep: Callable[[float], None],
) -> None:
    """Emit every message from offset 0 on, page after page.

    Without ``follow``, returns at the first page that brings nothing new. With it, sleeps
    ``POLL_INTERVAL_S`` after such a page and asks again, forever (until ``fetch``, ``emit`` or
    ``sleep`` raises, e.g. ``KeyboardInterrupt``).
    """
    offset = 0
    while True:
        page = fetch(offset)
        for event in newer_than(page.events, cutoff_ms):
            emit(event.message)
        caught_up = not page.events or page.next_offset == offset
        offset = page.next_offset
        if caught_up:
            if not follow:
                return
            sleep(POLL_INTERVAL_S)


@click.command("logs")
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option(
    "--since",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Only lines written in the last SECONDS.",
)
@endpoint_option
def logs_command(name: str, follow: bool, since: float | None, endpoint_url: str | None) -> None:
    """Print the log lines of function NAME."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    cutoff_ms = None if since is None else int((time.time() - since) * 1000)
    try:
        tail(
            lambda offset: fetch_page(endpoint, name, offset),
            click.echo,
            cutoff_ms=cutoff_ms,
            follow=follow,
            sleep=time.sleep,
        )
    except KeyboardInterrupt:
        return
