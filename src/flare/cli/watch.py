"""``flare deploy NAME DIR --watch``: bind the function to DIR for hot reload.

The server watches, not this command: the function is created (or its code updated) with the
hot-reload code source (``Code`` ``S3Bucket: hot-reload``, ``S3Key: <DIR's absolute path>``, see
``flare.control.hot_reload``), so every change under DIR is live at the next invoke, after this
command has exited, for boto3 users as much as for the CLI, and across server restarts. That is
also the faster loop: no zip upload over HTTP, no base64, no waiter per change; the engine
snapshots straight from the disk (``make bench``: ``--only hotreload``).

It needs the server on this machine (the path is read by the server): a non-loopback endpoint
is refused. A ``nodejs*`` function gets ``NODE_OPTIONS=--enable-source-maps`` unless the user
set NODE_OPTIONS, so stack traces point into the sources the ``.map`` files name.

Build steps: the server installs the dependencies a bound directory's ``requirements.txt`` /
``package.json`` names (``control/hot_reload.py``); this command installs them into the same
cache first (``prebuild``), so the binding's first snapshot has them, and shows the build.
``--no-build`` sets ``FLARE_HOT_RELOAD_BUILD=false`` on the function instead.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flare.build.package import built_line
from flare.cli.client import error_code

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_lambda.type_defs import (
        FunctionCodeTypeDef,
        FunctionConfigurationResponseTypeDef,
        WaiterConfigTypeDef,
    )

    from flare.build.package import PackageBuilder

HOT_RELOAD_BUCKET = "hot-reload"
BUILD_VARIABLE = "FLARE_HOT_RELOAD_BUILD"  # control/hot_reload.py reads it
SOURCE_MAPS = "--enable-source-maps"


def is_local(endpoint: str) -> bool:
    """Whether ``endpoint``'s host is this machine (loopback or ``localhost``)."""
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def watched_code(directory: Path) -> FunctionCodeTypeDef:
    """The hot-reload code source binding ``directory`` (made absolute)."""
    return {"S3Bucket": HOT_RELOAD_BUCKET, "S3Key": str(directory.resolve())}


def with_watch_variables(
    fields: dict[str, Any], existing: dict[str, str] | None = None, build: bool = True
) -> dict[str, Any]:
    """``fields`` with the variables a watched function gets, added to the variables given (or,
    when none are, to the function's ``existing`` ones): ``NODE_OPTIONS=--enable-source-maps``
    for a ``nodejs*`` runtime unless a NODE_OPTIONS is set, and without ``build``
    ``FLARE_HOT_RELOAD_BUILD=false`` (with it, that variable is removed)."""
    given = fields.get("Environment", {}).get("Variables")
    variables = dict(given or existing or {})
    wanted = dict(variables)
    if str(fields.get("Runtime", "")).startswith("nodejs") and "NODE_OPTIONS" not in wanted:
        wanted["NODE_OPTIONS"] = SOURCE_MAPS
    if build:
        wanted.pop(BUILD_VARIABLE, None)
    else:
        wanted[BUILD_VARIABLE] = "false"
    if wanted == variables and given is None:
        return fields
    return {**fields, "Environment": {"Variables": wanted}}


def prebuild(builder: PackageBuilder, directory: Path, runtime: str, architecture: str = "x86_64") -> None:
    """Install ``directory``'s dependencies into the build cache now (echoing how), so the
    server's snapshot of it, taken when it is bound, finds them there. Raises BuildFailed."""
    from flare.build import manifest as manifests

    found = manifests.find(directory, runtime)
    if found is not None:
        built = builder.cache.ensure(found, directory, runtime, architecture)
        builder.echo(built_line(directory.name, found.name, built))


def check_watchable(path: Path, endpoint: str) -> None:
    """Raise ``click.UsageError`` unless ``path`` is a directory and ``endpoint`` is local."""
    if not path.is_dir():
        raise click.UsageError(f"--watch binds a directory; {path} is not one")
    if not is_local(endpoint):
        raise click.UsageError(
            f"--watch needs the server on this machine (it reads the directory); {endpoint} is not local"
        )


def deploy_watched(
    client: LambdaClient,
    name: str,
    directory: Path,
    create_fields: dict[str, Any],
    update_fields: dict[str, Any],
    wait: WaiterConfigTypeDef,
    build: bool = True,
) -> tuple[str, FunctionConfigurationResponseTypeDef]:
    """Create ``name`` (with ``create_fields``) bound to ``directory``, or bind it and update
    its configuration with ``update_fields`` if it exists; wait until ready. Without ``build``
    the server is told not to install the directory's dependencies. Returns
    ``("created" | "updated", configuration)``. Raises botocore errors."""
    from botocore.exceptions import ClientError

    code = watched_code(directory)
    try:
        created = client.create_function(
            FunctionName=name, Code=code, **with_watch_variables(create_fields, build=build)
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceConflictException":
            raise
    else:
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=wait)
        return "created", created
    client.update_function_code(FunctionName=name, S3Bucket=HOT_RELOAD_BUCKET, S3Key=code["S3Key"])
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=wait)
    current = client.get_function_configuration(FunctionName=name)
    existing = dict(current.get("Environment", {}).get("Variables") or {})
    updates = with_watch_variables(update_fields, existing, build)
    updated = client.update_function_configuration(FunctionName=name, **updates)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=wait)
    return "updated", updated


def watch_directory(endpoint: str, name: str, directory: Path, fields: dict[str, Any], build: bool) -> None:
    """``flare deploy NAME DIR --watch``'s work (and ``flare dev``'s per function): with
    ``build``, install ``directory``'s dependencies into the cache first (``prebuild``); create
    or update ``name`` with ``fields`` (its Role defaulted) bound to ``directory``; say so.
    Raises CommandFailed (a failed build or call)."""
    from flare.cli.client import lambda_client, reported_errors
    from flare.cli.deploy import DEFAULT_ROLE, WAITER_CONFIG, build_errors, package_builder, summary

    if build:
        with build_errors():
            prebuild(package_builder(), directory, str(fields.get("Runtime", "")))
    with reported_errors(endpoint):
        create = {"Role": DEFAULT_ROLE, **fields}
        outcome, config = deploy_watched(
            lambda_client(endpoint), name, directory, create, fields, WAITER_CONFIG, build
        )
    click.echo(f"{summary(outcome, config)}; watching {directory.resolve()}")
