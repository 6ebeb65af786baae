"""``flare console``: a one-time login URL for the live console in the browser.

Asks the engine (a request signed with the caller's keys, as every client command signs) for a
login URL and prints it; opening it signs the browser in (a session cookie) and shows
``/_flare/``. The URL works once, within five minutes. ``--open`` hands it to the default
browser too.
"""

from __future__ import annotations

import json
import os
import urllib.request

import click

from flare.cli.client import CommandFailed, call_flare, endpoint_option, resolve_endpoint
from flare.console.session import LOGIN_URL_PATH

REQUEST_TIMEOUT_S = 10.0


def login_url(endpoint: str) -> str:
    """A fresh login URL from the Flare at ``endpoint``. Raises CommandFailed."""
    request = urllib.request.Request(
        endpoint + LOGIN_URL_PATH, data=b"{}", method="POST", headers={"Content-Type": "application/json"}
    )
    body = call_flare(endpoint, request, REQUEST_TIMEOUT_S)
    try:
        url = json.loads(body)["LoginUrl"]
    except (ValueError, KeyError, TypeError):
        raise CommandFailed(f"Flare at {endpoint} answered no login URL") from None
    return str(url)


@click.command("console")
@endpoint_option
@click.option("--open", "open_browser", is_flag=True, help="Open the URL in the default browser too.")
def console_command(endpoint_url: str | None, open_browser: bool) -> None:
    """Print a one-time login URL for the live console (it works once, within five minutes)."""
    url = login_url(resolve_endpoint(endpoint_url, os.environ))
    click.echo(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
