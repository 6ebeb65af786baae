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
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flare.cli.client import error_code

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_lambda.type_defs import (
        FunctionCodeTypeDef,
        FunctionConfigurationResponseTypeDef,
        WaiterConfigTypeDef,
    )

HOT_RELOAD_BUCKET = "hot-reload"
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


def with_source_maps(fields: dict[str, Any], existing: dict[str, str] | None = None) -> dict[str, Any]:
    """``fields`` with ``NODE_OPTIONS=--enable-source-maps`` for a ``nodejs*`` runtime, added to
    the variables given (or, when none are, to the function's ``existing`` ones), unless a
    NODE_OPTIONS is set."""
    if not str(fields.get("Runtime", "")).startswith("nodejs"):
        return fields
    variables = dict(fields.get("Environment", {}).get("Variables") or existing or {})
    if "NODE_OPTIONS" in variables:
        return fields
    return {**fields, "Environment": {"Variables": {**variables, "NODE_OPTIONS": SOURCE_MAPS}}}


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
) -> tuple[str, FunctionConfigurationResponseTypeDef]:
    """Create ``name`` (with ``create_fields``) bound to ``directory``, or bind it and update
    its configuration with ``update_fields`` if it exists; wait until ready. Returns
    ``("created" | "updated", configuration)``. Raises botocore errors."""
    from botocore.exceptions import ClientError

    code = watched_code(directory)
    try:
        created = client.create_function(FunctionName=name, Code=code, **with_source_maps(create_fields))
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
    updates = with_source_maps(update_fields, existing)
    updated = client.update_function_configuration(FunctionName=name, **updates)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=wait)
    return "updated", updated
