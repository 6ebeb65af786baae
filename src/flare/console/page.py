"""The console's HTML, rendered on the server: the page, its two panels (functions, event
sources) and the page that says how to get in. Everything shown is escaped; the page loads
only ``/_flare/assets/`` files (no CDN), and ``console.js`` fills in what is live."""

from __future__ import annotations

import importlib.resources
import string
from html import escape

from flare.console.view import SOURCE_COUNTERS, ConsoleFunction, ConsoleSource, ConsoleView
from flare.observe.pricing import REGION as PRICES_REGION

ASSETS = "/_flare/assets"


def _cells(values: list[str], tag: str = "td") -> str:
    return "".join(f"<{tag}>{value}</{tag}>" for value in values)


def _concurrency(row: ConsoleFunction, view: ConsoleView) -> str:
    reserved = "unreserved" if row.reserved is None else f"reserved {row.reserved}"
    provisioned = ", ".join(f"{escape(q)}: {n} ({escape(state.lower())})" for q, n, state in row.provisioned)
    return f"{reserved}" + (f"<br>provisioned {provisioned}" if provisioned else "")


def _usd(usd: float) -> str:
    return f"${usd:.8f}"


def _limit(row: ConsoleFunction, view: ConsoleView) -> int:
    """The most environments the function may have busy at once."""
    return view.unreserved if row.reserved is None else row.reserved


def functions_panel(view: ConsoleView) -> str:
    """The functions table; each row carries its concurrency limit (``data-limit``) for the
    charts, and links to its log."""
    names = [
        "function",
        "runtime",
        "memory",
        "versions",
        "aliases",
        "concurrency",
        "event sources",
        "cost",
        "log",
    ]
    head = _cells(names, "th")
    rows = []
    for row in view.functions:
        name = escape(row.name)
        versions = ", ".join(escape(v) for v in row.versions) or "—"
        aliases = ", ".join(f"{escape(a)} → {escape(v)}" for a, v in row.aliases) or "—"
        snap = " <span class=badge>SnapStart</span>" if row.snap_start else ""
        cells = [
            f"{name}{snap}",
            escape(row.runtime),
            f"{row.memory_mb} MB · {row.timeout_s} s",
            versions,
            aliases,
            _concurrency(row, view),
            "<br>".join(escape(source) for source in row.sources) or "—",
            _usd(row.cost_usd),
            f'<button type=button class=follow data-function="{name}">follow</button>',
        ]
        rows.append(f'<tr data-function="{name}" data-limit="{_limit(row, view)}">{_cells(cells)}</tr>')
    empty = "<tr><td colspan=9 class=empty>No functions yet.</td></tr>"
    limits = f"account limit {view.account_limit} · unreserved {view.unreserved}"
    limits += f" · cost so far {_usd(view.cost_usd)} at Lambda's {PRICES_REGION} prices"
    return (
        f'<p class=note id=limits data-account-limit="{view.account_limit}">{limits}</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows) or empty}</tbody></table>"
    )


def _source_cells(row: ConsoleSource) -> list[str]:
    waiting = "—" if row.waiting is None else str(row.waiting)
    counters = [str(n) for n in row.counters]
    return [escape(row.kind), escape(row.source), escape(row.function), escape(row.state), *counters, waiting]


def sources_panel(view: ConsoleView) -> str:
    """The event source mappings and async queues, with their counters (``flare sources``)."""
    counters = [counter.replace("_", " ") for counter in SOURCE_COUNTERS]
    head = _cells(["kind", "source", "function", "state", *counters, "waiting", "oldest"], "th")
    rows = [f"<tr>{_cells(_source_cells(row))}<td>{row.oldest_age_s:.1f} s</td></tr>" for row in view.sources]
    empty = "<tr><td colspan=11 class=empty>No event source mappings or async invocations.</td></tr>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows) or empty}</tbody></table>"


def _template(name: str) -> string.Template:
    return string.Template(importlib.resources.files("flare.console").joinpath("templates", name).read_text())


def _document(title: str, body: str, script: bool) -> str:
    js = f'<script src="{ASSETS}/console.js" defer></script>' if script else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title>"
        '<meta name=viewport content="width=device-width, initial-scale=1"><link rel=icon href="data:,">'
        f'<link rel=stylesheet href="{ASSETS}/console.css">{js}</head><body>{body}</body></html>'
    )


def console_page(view: ConsoleView) -> str:
    """The whole console for ``view``'s account and region (``templates/console.html``)."""
    body = _template("console.html").substitute(
        where=f"account {escape(view.account)} · {escape(view.region)}",
        functions=functions_panel(view),
        sources=sources_panel(view),
    )
    return _document("Flare console", body, script=True)


def sign_in_page(reason: str) -> str:
    """What every console route answers without a session: how to get one."""
    body = _template("sign_in.html").substitute(reason=escape(reason))
    return _document("Flare console: sign in", body, script=False)
