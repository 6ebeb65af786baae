"""``flare doctor``: what this host lets the sandbox do, and which guarantees are on.

Prints every capability ``sandbox.capabilities.probe()`` found, then each of the sandbox's
guarantees ON or OFF with its reason. Always exits 0: a host without root or cgroups still runs
Flare, with the guarantees listed as OFF. Uses ``rich`` for a table when it is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

from flare.sandbox.capabilities import Capabilities, probe


def report_lines(capabilities: Capabilities) -> list[str]:
    """The report as plain text lines."""
    lines = [f"Capabilities (probed in {capabilities.probe_ms:.1f} ms)"]
    lines += [f"  {'yes' if ok else 'no ':3}  {name}: {detail}" for name, ok, detail in capabilities.found()]
    lines += ["", "Guarantees"]
    lines += [
        f"  {'ON ' if on else 'OFF'}  {name} — {reason}" for name, on, reason in capabilities.guarantees()
    ]
    return lines


def _print_rich(capabilities: Capabilities) -> None:
    console: Any = importlib.import_module("rich.console").Console()
    table_type: Any = importlib.import_module("rich.table").Table
    found = table_type(title=f"Capabilities (probed in {capabilities.probe_ms:.1f} ms)", title_justify="left")
    for column in ("", "capability", "detail"):
        found.add_column(column)
    for name, ok, detail in capabilities.found():
        found.add_row("[green]yes[/]" if ok else "[red]no[/]", name, detail)
    promises = table_type(title="Guarantees", title_justify="left")
    for column in ("", "guarantee", "reason"):
        promises.add_column(column)
    for name, on, reason in capabilities.guarantees():
        promises.add_row("[green]ON[/]" if on else "[red]OFF[/]", name, reason)
    console.print(found)
    console.print(promises)


@click.command("doctor")
@click.option("--plain", is_flag=True, help="Plain text even when rich is installed.")
def doctor_command(plain: bool) -> None:
    """Show this host's sandbox capabilities and which isolation guarantees are ON or OFF."""
    capabilities = probe()
    if not plain and importlib.util.find_spec("rich") is not None:
        _print_rich(capabilities)
        return
    for line in report_lines(capabilities):
        click.echo(line)
