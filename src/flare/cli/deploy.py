"""``flare deploy``: create a function from a directory or zip, or update it if it exists.

A directory is zipped in memory so that the same tree always gives the same bytes, and hence
the same CodeSha256: entries sorted by path, timestamps fixed at 1980-01-01, permissions reduced
to 0755 (any exec bit set) or 0644, ``__pycache__`` and ``.flare`` (Flare's data directory, which
``flare dev`` and ``make run`` keep in the project) left out.

Unless ``--no-build``, a directory is built first as ``sam build`` would (``flare.build``): the
dependencies its ``requirements.txt`` / ``package.json`` name are installed (from a cache keyed
by the manifest, runtime and architecture) and zipped at the package's root, the code over them.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flare.cli.client import (
    CommandFailed,
    endpoint_option,
    error_code,
    lambda_client,
    reported_errors,
    resolve_endpoint,
)
from flare.control.tree_zip import zip_tree

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_lambda.type_defs import FunctionConfigurationResponseTypeDef, WaiterConfigTypeDef

    from flare.build.package import PackageBuilder

DEFAULT_RUNTIME = "python3.12"
DEFAULT_ROLE = "arn:aws:iam::000000000000:role/flare"
SKIPPED_DIRS = frozenset({"__pycache__", ".flare"})  # .flare: Flare's own data directory
WAITER_CONFIG: WaiterConfigTypeDef = {"Delay": 1, "MaxAttempts": 300}


def zip_directory(root: Path) -> bytes:
    """The deterministic zip of every regular file under ``root`` (``tree_zip.zip_tree``:
    symlinks followed, each real directory walked once), ``SKIPPED_DIRS`` left out.

    Paths inside the zip are relative to ``root`` and use ``/``. Two calls on an unchanged tree
    return identical bytes, whatever the files' mtimes, owners or umask.
    """
    return zip_tree(root, not_skipped)


def not_skipped(relative: str) -> bool:
    """Whether ``flare deploy`` zips ``relative``: anything not under ``SKIPPED_DIRS``."""
    return not relative.endswith("/") or relative.rstrip("/").rsplit("/", 1)[-1] not in SKIPPED_DIRS


def package_builder() -> PackageBuilder:
    """The builder of ``flare deploy``'s packages: the user's build cache, lines to stdout."""
    from flare.build.dependency_cache import DependencyCache, default_root
    from flare.build.package import PackageBuilder

    return PackageBuilder(DependencyCache(default_root(os.environ)), click.echo)


def load_code(
    path: Path, builder: PackageBuilder | None = None, runtime: str = "", architecture: str = "x86_64"
) -> bytes:
    """The zip to upload: ``path`` zipped if it is a directory (with ``builder``: built, its
    dependencies for ``runtime`` and ``architecture`` under the code), its bytes if it is a
    zip file.

    Raises ``click.BadParameter`` for anything else, CommandFailed when the build fails.
    """
    if path.is_dir() and builder is not None:
        with build_errors():
            return builder.package(path, not_skipped, runtime, architecture, path.name)
    if path.is_dir():
        return zip_directory(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return path.read_bytes()
    raise click.BadParameter(f"{path} is neither a directory nor a .zip file", param_hint="PATH")


@contextlib.contextmanager
def build_errors() -> Iterator[None]:
    """A failed build (BuildFailed) as CommandFailed: its message, then the tool's output."""
    from flare.errors import BuildFailed

    try:
        yield
    except BuildFailed as failed:
        raise CommandFailed(f"build failed: {failed.message}\n{failed.output}".rstrip()) from None


def parse_env(
    ctx: click.Context | None, param: click.Parameter | None, values: tuple[str, ...]
) -> dict[str, str]:
    """``("K=V", ...)`` as a dict, later keys winning. A value may contain ``=`` and be empty.

    Raises ``click.BadParameter`` (a usage error, exit 2) for an item without ``=`` or with an
    empty key.
    """
    variables: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx=ctx, param=param)
        variables[key] = value
    return variables


def configuration_changes(
    handler: str,
    runtime: str,
    memory: int | None,
    timeout: int | None,
    env: dict[str, str],
    role: str | None,
) -> dict[str, Any]:
    """The UpdateFunctionConfiguration / CreateFunction fields the user asked for.

    Handler and runtime are always present; the rest only when given (an empty ``env`` means
    "not given", so an update never wipes variables the user did not mention).
    """
    fields: dict[str, Any] = {"Handler": handler, "Runtime": runtime}
    if memory is not None:
        fields["MemorySize"] = memory
    if timeout is not None:
        fields["Timeout"] = timeout
    if env:
        fields["Environment"] = {"Variables": env}
    if role is not None:
        fields["Role"] = role
    return fields


def _with_role(fields: dict[str, Any]) -> dict[str, Any]:
    return {"Role": DEFAULT_ROLE, **fields}


def summary(outcome: str, config: FunctionConfigurationResponseTypeDef) -> str:
    """One line saying what was deployed, e.g. ``created hello (python3.12, 128 MB) CodeSha256=...``."""
    return (
        f"{outcome} {config.get('FunctionName', '?')} ({config.get('Runtime', '?')}, "
        f"{config.get('MemorySize', '?')} MB) CodeSha256={config.get('CodeSha256', '?')}"
    )


def deploy_function(
    client: LambdaClient, name: str, code: bytes, fields: dict[str, Any]
) -> tuple[str, FunctionConfigurationResponseTypeDef]:
    """Create ``name``, or update its code then configuration if it exists; wait until ready.

    Returns ``("created" | "updated", the function's configuration)``. Raises botocore errors.
    """
    from botocore.exceptions import ClientError

    try:
        created = client.create_function(FunctionName=name, Code={"ZipFile": code}, **_with_role(fields))
    except ClientError as exc:
        if error_code(exc) != "ResourceConflictException":
            raise
    else:
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
        return "created", created
    client.update_function_code(FunctionName=name, ZipFile=code)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
    updated = client.update_function_configuration(FunctionName=name, **fields)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
    return "updated", updated


@click.command("deploy")
@click.argument("name", required=False)
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--handler", default=None, help="Entry point, e.g. app.handler (required with NAME PATH).")
@click.option("--runtime", default=DEFAULT_RUNTIME, show_default=True)
@click.option("--memory", type=click.IntRange(min=1), default=None, metavar="MB", help="MemorySize in MB.")
@click.option("--timeout", type=click.IntRange(min=1), default=None, metavar="S", help="Timeout in seconds.")
@click.option(
    "--env",
    multiple=True,
    callback=parse_env,
    metavar="K=V",
    help="Environment variable; repeat for more. Replaces all variables on update.",
)
@click.option("--role", default=None, metavar="ARN", help=f"Execution role [default: {DEFAULT_ROLE}].")
@click.option(
    "--template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Deploy an AWS SAM / CloudFormation template instead of NAME PATH (docs/sam-templates.md).",
)
@click.option(
    "--serverless",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Deploy a Serverless Framework serverless.yml instead of NAME PATH (docs/sam-templates.md).",
)
@click.option("--stack-name", default="", help="With --template: prefix of the names it does not give.")
@click.option(
    "--dry-run",
    "--no-execute-changeset",
    "dry_run",
    is_flag=True,
    help="With --template: print the plan only.",
)
@click.option(
    "--parameter",
    "parameters",
    multiple=True,
    callback=parse_env,
    metavar="K=V",
    help="With --template: a parameter's value; with --serverless: an option (stage=prod).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Bind the function to PATH (a directory) for hot reload: the server (on this machine) "
    "watches it, and every change is live at the next invoke. With --template / --serverless: "
    "every function's (and layer's) local code directory.",
)
@click.option(
    "--no-build",
    is_flag=True,
    help="Deploy the directory as it is: do not install the dependencies its requirements.txt "
    "or package.json names (docs/build.md).",
)
@endpoint_option
def deploy_command(
    name: str | None,
    path: Path | None,
    handler: str | None,
    runtime: str,
    memory: int | None,
    timeout: int | None,
    env: dict[str, str],
    role: str | None,
    template: Path | None,
    serverless: Path | None,
    stack_name: str,
    dry_run: bool,
    parameters: dict[str, str],
    watch: bool,
    no_build: bool,
    endpoint_url: str | None,
) -> None:
    """Deploy the code at PATH (a directory or a .zip) as function NAME, or every resource of
    a SAM template (--template) or Serverless Framework project (--serverless)."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    if template is not None and serverless is not None:
        raise click.UsageError("give --template or --serverless, not both")
    project = template or serverless
    if project is not None:
        from flare.projects.template_command import deploy_template

        if watch:
            from flare.cli.watch import check_watchable

            check_watchable(project.parent, endpoint)
        builder = None if no_build else package_builder()
        kind = serverless is not None
        deploy_template(project, kind, stack_name, not dry_run, parameters, endpoint, builder, watch)
        return
    if name is None or path is None or handler is None:
        raise click.UsageError("give NAME PATH --handler HANDLER, or --template FILE")
    fields = configuration_changes(handler, runtime, memory, timeout, env, role)
    if watch:
        from flare.cli import watch as hot

        hot.check_watchable(path, endpoint)
        hot.watch_directory(endpoint, name, path, fields, not no_build)
        return
    code = load_code(path, None if no_build else package_builder(), runtime)
    with reported_errors(endpoint):
        outcome, config = deploy_function(lambda_client(endpoint), name, code, fields)
    click.echo(summary(outcome, config))
