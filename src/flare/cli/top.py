"""``flare top``: the live feed (``GET /flare/v1/live``, signed) as a table in the terminal.

One row per function (``top_model.py``), redrawn every second with rich. Keys: ``q`` quits
(exit 0); ``f e i p c t m`` sort by function, environments, invocations/s, p99, cold-start
rate, throttles, memory. A thread reads the stream (reconnecting after a failure); the main
thread owns the terminal. rich is imported here only, so no other command pays for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from flare.cli.client import endpoint_option, resolve_endpoint, signed
from flare.cli.top_model import SORTS, WINDOW_S, TopModel, TopRow

if TYPE_CHECKING:
    from rich.table import Table

LIVE_PATH = "/flare/v1/live"
READ_TIMEOUT_S = 40.0  # the stream's heartbeat comes every 15 s
RETRY_S = 1.0
HEADERS = (
    "FUNCTION",
    "ENVS",
    "INIT",
    "BUSY",
    "IDLE",
    "INV/S",
    "P50",
    "P99",
    "COLD",
    "THROTTLES",
    "MEMORY",
    "COST",
)
SORT_NAMES = {
    "f": "function",
    "e": "environments",
    "i": "invocations/s",
    "p": "p99",
    "c": "cold starts",
    "t": "throttles",
    "m": "memory",
    "$": "cost",
}


def read_stream(endpoint: str, events: queue.Queue[dict[str, Any] | str]) -> None:
    """Put every event of the live stream on ``events``, forever; a failure is put as a
    string (the status to show), and the stream is opened again after ``RETRY_S``."""
    while True:
        try:
            request = signed(urllib.request.Request(endpoint + LIVE_PATH))
            with urllib.request.urlopen(request, timeout=READ_TIMEOUT_S) as stream:
                events.put("live")
                for line in stream:
                    if line.startswith(b"data: "):
                        events.put(json.loads(line[6:]))
            events.put("the stream ended")
        except urllib.error.HTTPError as error:
            events.put(f"refused: HTTP {error.code}")
        except (OSError, ValueError) as error:
            events.put(f"cannot reach Flare at {endpoint}: {error}")
        time.sleep(RETRY_S)


def _number(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def render(rows: list[TopRow], endpoint: str, status: str, sort: str) -> Table:
    from rich.table import Table

    keys = " ".join(f"{key}:{name}" for key, name in SORT_NAMES.items())
    table = Table(
        title=f"flare top · {endpoint} · {status} · last {WINDOW_S:g} s · sorted by {SORT_NAMES[sort]}",
        caption=f"sort {keys} · q quits",
        expand=True,
    )
    for header in HEADERS:
        table.add_column(header, justify="left" if header == "FUNCTION" else "right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.function,
            str(row.environments),
            str(row.initializing),
            str(row.busy),
            str(row.idle),
            _number(row.invocations_per_s),
            _number(row.p50_ms, " ms", 2),
            _number(row.p99_ms, " ms", 2),
            _number(None if row.cold_rate is None else row.cold_rate * 100, "%", 0),
            str(row.throttles),
            f"{row.memory_mb} MB",
            f"${row.cost_usd:.8f}",
        )
    return table


@contextlib.contextmanager
def keys_unbuffered() -> Iterator[bool]:
    """The terminal in cbreak mode (each key read as typed, not echoed) while inside; yields
    whether stdin is a terminal at all."""
    if not sys.stdin.isatty():
        yield False
        return
    import termios
    import tty

    saved = termios.tcgetattr(sys.stdin)
    tty.setcbreak(sys.stdin.fileno())
    try:
        yield True
    finally:
        termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)


def read_key(timeout: float) -> str | None:
    """A key typed within ``timeout`` seconds, else None."""
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    return os.read(sys.stdin.fileno(), 1).decode(errors="replace") if ready else None


def _no_key(seconds: float) -> str | None:
    """Without a terminal there are no keys: wait, and answer none."""
    time.sleep(seconds)
    return None


def _take(events: queue.Queue[dict[str, Any] | str], model: TopModel, status: str, now: float) -> str:
    """Apply every event read so far to ``model``; the stream's status, changed or not."""
    while not events.empty():
        item = events.get_nowait()
        if isinstance(item, str):
            status = item
        else:
            model.apply(item, now)
    return status


@click.command("top")
@endpoint_option
@click.option("--sort", type=click.Choice(sorted(SORTS)), default="f", help="The first sort key.")
def top_command(endpoint_url: str | None, sort: str) -> None:
    """The live view in the terminal: environments and invocations per function."""
    from rich.console import Console
    from rich.live import Live

    endpoint = resolve_endpoint(endpoint_url, os.environ)
    events: queue.Queue[dict[str, Any] | str] = queue.Queue()
    threading.Thread(target=read_stream, args=(endpoint, events), daemon=True).start()
    model, status, next_draw = TopModel(), "connecting", 0.0
    with keys_unbuffered() as interactive, Live(console=Console(), auto_refresh=False) as live:
        while True:
            now = time.monotonic()
            status = _take(events, model, status, now)
            if now >= next_draw:
                live.update(render(model.rows(now, sort), endpoint, status, sort), refresh=True)
                next_draw = now + 1.0
            key = read_key(0.1) if interactive else _no_key(0.1)
            if key in ("q", "Q"):
                return
            if key is not None and key in SORTS:
                sort, next_draw = key, 0.0
