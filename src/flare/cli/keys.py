"""``flare keys``: the access keys ``flare serve --auth sigv4`` verifies signatures against.

The keys live in the data dir's database (``store/access_keys.py``), so these commands work on
the data dir itself, with the server running or not: a running server sees a new key at once
and a deleted one within a second. With ``--cluster URL`` they work on the keys every node of
that cluster shares, in its Redis (``cluster/redis_access_keys.py``), instead. ``create``
prints the new secret once; nothing shows it again (``list`` shows key ids and accounts only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from flare.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

if TYPE_CHECKING:
    from flare.store.storage import AccessKeyStorage

ACCOUNT_DIGITS = 12
F = TypeVar("F", bound=Callable[..., Any])


def data_dir_option(command: F) -> F:
    command = click.option(
        "--cluster",
        "cluster_url",
        metavar="URL",
        default=None,
        help="The Redis of a cluster (redis://host:6379/0): the keys every node shares, not the data dir's.",
    )(command)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".flare"),
        show_default=True,
        help="The data dir of the `flare serve` whose keys these are.",
    )(command)


def _store(data_dir: Path, cluster_url: str | None = None) -> AccessKeyStorage:
    """The key store of ``data_dir`` (made when missing), or of the cluster on ``cluster_url``."""
    if cluster_url is not None:
        return _cluster_store(cluster_url)
    from flare.scope import Scope
    from flare.store.access_keys import AccessKeyStore
    from flare.store.database import Database

    data_dir.mkdir(parents=True, exist_ok=True)
    return AccessKeyStore(Database(data_dir / "flare.db", Scope(DEFAULT_ACCOUNT_ID, DEFAULT_REGION)))


def _cluster_store(url: str) -> AccessKeyStorage:
    """The keys of the cluster whose Redis is at ``url``, once it answers (else a usage error)."""
    from flare.cluster.address import parse_url, reach

    try:
        parse_url(url)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--cluster") from None
    problem = reach(url)
    if problem is not None:
        raise click.ClickException(problem)
    import redis

    from flare.cluster.redis_access_keys import RedisAccessKeyStore

    return RedisAccessKeyStore(redis.Redis.from_url(url))


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
def create_command(account: str, data_dir: Path, cluster_url: str | None) -> None:
    """Make a key and print it (the secret is shown only now)."""
    from flare.store.access_keys import KeyExists

    if len(account) != ACCOUNT_DIGITS or not (account.isascii() and account.isdigit()):
        raise click.BadParameter(f"{account!r} is not a 12-digit account id", param_hint="--account")
    try:
        key = _store(data_dir, cluster_url).create(account, DEFAULT_ACCOUNT_ID, time.time())
    except KeyExists:
        raise click.ClickException(f"account {account} already has its key (`flare keys list`)") from None
    click.echo(f"aws_access_key_id = {key.access_key_id}")
    click.echo(f"aws_secret_access_key = {key.secret}")
    click.echo(f"# account {key.account}; the secret is not shown again", err=True)


@keys_command.command("list")
@data_dir_option
def list_command(data_dir: Path, cluster_url: str | None) -> None:
    """Every key: its id, account and age (never its secret)."""
    keys = _store(data_dir, cluster_url).list()
    click.echo(f"{'ACCESS KEY ID':<22}{'ACCOUNT':<14}{'CREATED (UTC)':<22}ADMIN")
    for key in keys:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.created))
        click.echo(f"{key.access_key_id:<22}{key.account:<14}{created:<22}{'yes' if key.admin else ''}")


@keys_command.command("delete")
@click.argument("access_key_id")
@data_dir_option
def delete_command(access_key_id: str, data_dir: Path, cluster_url: str | None) -> None:
    """Delete a key: requests signed with it are refused within a second."""
    if not _store(data_dir, cluster_url).delete(access_key_id):
        raise click.ClickException(f"no key {access_key_id} in {cluster_url or data_dir}")
    click.echo(f"deleted {access_key_id}")
