"""``flare doctor``: what this host lets the sandbox do, and which guarantees are on.

Prints every capability ``sandbox.capabilities.probe()`` found, then each of the sandbox's
guarantees ON or OFF with its reason. Always exits 0: a host without root or cgroups still runs
Flare, with the guarantees listed as OFF. Uses ``rich`` for a table when it is installed.
Then the JDKs that run ``java*`` functions and why SnapStart for Java is off, then how
requests are authenticated (``flare serve --auth``): the keys of the data dir and
whether the ``flare`` profile is there to sign with.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import click

from flare.sandbox.capabilities import Capabilities, probe
from flare.sandbox.java_runtime import doctor_lines, find_java_homes


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


def auth_lines(data_dir: Path, environ: dict[str, str]) -> list[str]:
    """How ``flare serve`` authenticates requests, and what this data dir and user have for it."""
    from flare.auth.profile import PROFILE, credentials_file, read_profile

    lines = [
        "Authentication",
        "  every request needs a SigV4 signature (unsigned: 403 MissingAuthenticationTokenException)",
        "  --auth open (default, loopback only): any key is accepted and picks the account",
        "  --auth sigv4: signatures verified against the data dir's keys (`flare keys`)",
        "  execution environments sign with credentials of their own (ASIA…), verified in both modes",
    ]
    database = data_dir / "flare.db"
    if database.exists():
        from flare.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
        from flare.scope import Scope
        from flare.store.access_keys import AccessKeyStore
        from flare.store.database import Database

        count = AccessKeyStore(Database(database, Scope(DEFAULT_ACCOUNT_ID, DEFAULT_REGION))).count()
        lines.append(f"  keys in {data_dir}: {count}")
    else:
        lines.append(f"  no data dir at {data_dir} yet: the first `--auth sigv4` start makes an admin key")
    path = credentials_file(environ)
    found = "found" if read_profile(path) is not None else "not found"
    lines.append(f"  the {PROFILE!r} profile in {path}: {found}")
    return lines


@click.command("doctor")
@click.option("--plain", is_flag=True, help="Plain text even when rich is installed.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".flare"),
    show_default=True,
    help="The data dir whose access keys to count.",
)
def doctor_command(plain: bool, data_dir: Path) -> None:
    """Show this host's sandbox capabilities, which isolation guarantees are ON or OFF, and how
    requests are authenticated."""
    capabilities = probe()
    if not plain and importlib.util.find_spec("rich") is not None:
        _print_rich(capabilities)
    else:
        for line in report_lines(capabilities):
            click.echo(line)
    click.echo("")
    for line in doctor_lines(find_java_homes()):
        click.echo(line)
    click.echo("")
    for line in auth_lines(data_dir, dict(os.environ)):
        click.echo(line)
