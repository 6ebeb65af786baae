"""``flare keys``: the access keys ``flare serve --auth sigv4`` verifies signatures against.

The keys live in the data dir's database (``store/access_keys.py``), so these commands work on
the data dir itself, with the server running or not: a running server sees a new key at once
and a deleted one within a second. ``create`` prints the new secret once; nothing shows it
again (``list`` shows key ids and accounts only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from flare.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

if TYPE_CHECKING:
    from flare.store.access_keys import AccessKeyStore

ACCOUNT_DIGITS = 12
F = TypeVar("F", bound=Callable[..., Any])


def data_dir_option(command: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".flare"),
        show_default=True,
        help="The data dir of the `flare serve` whose keys these are.",
    )(command)


def _store(data_dir: Path) -> AccessKeyStore:
    """The key store of ``data_dir`` (made when missing)."""
    from flare.scope import Scope
    from flare.store.access_keys import AccessKeyStore
    from flare.store.database import Database

    data_dir.mkdir(parents=True, exist_ok=True)
    return AccessKeyStore(Database(data_dir / "flare.db", Scope(DEFAULT_ACCOUNT_ID, DEFAULT_REGION)))


@click.group("keys")
def keys_command() -> None:
    """Manage the access keys of `flare serve --auth sigv4`."""


@keys_command.command("create")
@click.option(
    "--account",
    default=DEFAULT_ACCOUNT_ID,
    show_default=True,
    help="The 12-digit account the key acts in (a key of another account has that account's id as its id).",
)
@data_dir_option
def create_command(account: str, data_dir: Path) -> None:
    """Make a key and print it (the secret is shown only now)."""
    from flare.store.access_keys import KeyExists

    if len(account) != ACCOUNT_DIGITS or not (account.isascii() and account.isdigit()):
        raise click.BadParameter(f"{account!r} is not a 12-digit account id", param_hint="--account")
    try:
        key = _store(data_dir).create(account, DEFAULT_ACCOUNT_ID, time.time())
    except KeyExists:
        raise click.ClickException(f"account {account} already has its key (`flare keys list`)") from None
    click.echo(f"aws_access_key_id = {key.access_key_id}")
    click.echo(f"aws_secret_access_key = {key.secret}")
    click.echo(f"# account {key.account}; the secret is not shown again", err=True)


@keys_command.command("list")
@data_dir_option
def list_command(data_dir: Path) -> None:
    """Every key: its id, account and age (never its secret)."""
    keys = _store(data_dir).list()
    click.echo(f"{'ACCESS KEY ID':<22}{'ACCOUNT':<14}{'CREATED (UTC)':<22}ADMIN")
    for key in keys:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.created))
        click.echo(f"{key.access_key_id:<22}{key.account:<14}{created:<22}{'yes' if key.admin else ''}")


@keys_command.command("delete")
@click.argument("access_key_id")
@data_dir_option
def delete_command(access_key_id: str, data_dir: Path) -> None:
    """Delete a key: requests signed with it are refused within a second."""
    if not _store(data_dir).delete(access_key_id):
        raise click.ClickException(f"no key {access_key_id} in {data_dir}")
    click.echo(f"deleted {access_key_id}")
