"""What ``flare deploy --template`` runs: the clients, the run, the plan printed, errors as one line.

Imported only when ``--template`` is given, so ``flare deploy NAME PATH`` and ``flare --help``
never pay for the SAM translator (~0.3 s to import).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flare.cli.client import (
    CommandFailed,
    botocore_session,
    lambda_client,
    reported_errors,
    resolve_region,
    service_client,
)
from flare.cli.schedule import request
from flare.config import DEFAULT_ACCOUNT_ID
from flare.errors import BuildFailed, TemplateRefused
from flare.projects import sam_template, stack
from flare.projects.plan import summary
from flare.projects.sam_template import Template
from flare.projects.stack_run import StackRun
from flare.scope import account_of

if TYPE_CHECKING:
    from flare.build.package import PackageBuilder


def deploy_template(
    path: Path,
    serverless: bool,
    stack_name: str,
    execute: bool,
    parameters: dict[str, str],
    endpoint_url: str,
    builder: PackageBuilder | None = None,
    watch: bool = False,
) -> StackRun:
    """Deploy (or with ``execute`` false only plan) the SAM template (``serverless``: the
    serverless.yml) at ``path`` on the Flare at ``endpoint_url``, printing the plan row by row,
    then its summary and the functions' URLs. ``parameters`` are the template's parameters (a
    serverless.yml's options); ``builder`` builds each function's code directory (None: zipped
    as it is); ``watch`` binds code directories for hot reload instead (``flare dev``). Returns
    the run (``run.functions``: what the template deploys).

    Raises CommandFailed (exit 1) for a refused template or a failed call."""
    if importlib.util.find_spec("samtranslator") is None:
        raise CommandFailed("flare deploy --template needs AWS's SAM translator: pip install 'flare[sam]'")
    region = resolve_region(os.environ)
    credentials = botocore_session(os.environ).get_credentials()
    account = account_of(credentials.access_key, DEFAULT_ACCOUNT_ID)
    with reported_errors(endpoint_url):
        try:
            if serverless:
                template = sam_template.read_serverless(path, region, account, parameters, os.environ)
            else:
                template = sam_template.read(path, region, account, parameters)
            run = _run(template, region, account, endpoint_url, stack_name or template.stack_name, execute)
            run.builder, run.watch = builder, watch
            click.echo(f"{'Deploying' if execute else 'Plan for'} {path} on {endpoint_url}")
            changes = stack.deploy(run, click.echo)
        except TemplateRefused as error:
            raise CommandFailed(f"{error.aws_name}: {error.message}") from None
        except BuildFailed as failed:
            raise CommandFailed(f"build failed: {failed.message}\n{failed.output}".rstrip()) from None
    click.echo(summary(changes))
    for logical_id, url in sorted(run.urls.items()):
        click.echo(f"{logical_id} URL: {url}")
    return run


def _run(
    template: Template, region: str, account: str, endpoint_url: str, stack_name: str, execute: bool
) -> StackRun:
    return StackRun(
        template,
        lambda_client(endpoint_url),
        service_client("sqs", endpoint_url),
        service_client("kinesis", endpoint_url),
        lambda method, route, body: request(endpoint_url, method, route, body),
        region,
        account,
        endpoint_url,
        stack_name,
        execute,
    )
