"""``flare dev``: serve, deploy the project, watch it and tail every function's log, in one
terminal, until Ctrl-C.

1. **The engine**: if one answers at the endpoint it is used as it is (and left running at the
   end); else ``flare serve`` is started there (``dev_engine``), data in ``DIRECTORY/.flare``.
2. **The project** (``dev_project``: a SAM template, a serverless.yml, or a directory of
   functions) is deployed with every code directory bound for hot reload (``S3Bucket:
   hot-reload``): a saved edit is live at the next invoke, in a fresh environment, and an
   invocation running meanwhile finishes on the code it started with. Dependencies are built
   first (``flare.build``) unless ``--no-build``.
3. **The logs** of every function, each line prefixed with its name in a colour of its own
   (``dev_logs``).
4. **The project file** is looked at every ``RESCAN_S``: a changed template (or a function
   added to a directory of functions) is deployed again; a failed deploy is printed, and the
   previous one keeps running.

Ctrl-C (or SIGTERM) stops the log tail and the engine it started (by its pid), then exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from types import FrameType

import click

from flare.cli import dev_engine
from flare.cli.client import CommandFailed, endpoint_option, resolve_endpoint
from flare.cli.deploy import configuration_changes, package_builder, parse_env
from flare.cli.dev_logs import EngineLog, LogTail
from flare.cli.dev_project import Project, ProjectKind, find_project

RESCAN_S = 1.0


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def signature(project: Project) -> Hashable:
    """What a redeploy depends on: the template's size and mtime, or the functions found."""
    if project.kind is ProjectKind.FUNCTIONS:
        return project.functions
    status = project.path.stat()
    return (status.st_size, status.st_mtime_ns)


def deploy_project(
    project: Project, endpoint: str, build: bool, parameters: dict[str, str], stack: str
) -> list[str]:
    """Deploy ``project`` bound for hot reload; the names of its functions. Raises CommandFailed."""
    if project.kind is not ProjectKind.FUNCTIONS:
        from flare.projects.template_command import deploy_template

        serverless = project.kind is ProjectKind.SERVERLESS
        builder = package_builder() if build else None
        run = deploy_template(
            project.path, serverless, stack, True, parameters, endpoint, builder, watch=True
        )
        return sorted(run.functions)
    from flare.cli.watch import watch_directory

    for function in project.functions:
        fields = configuration_changes(function.handler, function.runtime, None, None, {}, None)
        watch_directory(endpoint, function.name, function.directory, fields, build)
    return [function.name for function in project.functions]


def _watch_project(directory: Path, project: Project, redeploy: Callable[[Project], None]) -> None:
    """Every ``RESCAN_S``, redeploy when the project's ``signature`` changes (forever)."""
    seen = signature(project)
    while True:
        time.sleep(RESCAN_S)
        found = find_project(directory)
        if found is None or found.kind is not project.kind:
            continue
        try:
            now = signature(found)
        except OSError:
            continue
        if now != seen:
            seen = now
            click.echo(f"{found.path} changed: deploying again")
            redeploy(found)


def _engine_for(endpoint: str, data_dir: Path) -> subprocess.Popen[bytes] | None:
    """The engine ``flare dev`` started at ``endpoint`` (with ``data_dir``), or None when one
    already answers there (said, and used). Raises CommandFailed."""
    if dev_engine.answers(endpoint):
        click.echo(f"using the Flare already running at {endpoint} (it is left running)")
        return None
    engine = dev_engine.start(endpoint, data_dir)
    click.echo(
        f"started flare serve (pid {engine.pid}) at {endpoint}; its log: {dev_engine.log_path(data_dir)}"
    )
    return engine


@click.command("dev")
@click.argument("directory", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The started engine's data directory [default: DIRECTORY/.flare].",
)
@click.option(
    "--parameter",
    "parameters",
    multiple=True,
    callback=parse_env,
    metavar="K=V",
    help="A template parameter's value (a serverless.yml's option, e.g. stage=dev).",
)
@click.option("--stack-name", default="", help="Prefix of the names a template does not give.")
@click.option("--no-build", is_flag=True, help="Do not install requirements.txt / package.json dependencies.")
@click.option("--color/--no-color", default=None, help="Colour the log prefixes [default: on a terminal].")
@endpoint_option
def dev_command(
    directory: Path,
    data_dir: Path | None,
    parameters: dict[str, str],
    stack_name: str,
    no_build: bool,
    color: bool | None,
    endpoint_url: str | None,
) -> None:
    """Serve, deploy and watch the project in DIRECTORY (a SAM template, a serverless.yml or a
    directory of functions; docs/dev.md) and print every function's log, until Ctrl-C."""
    from flare.cli.watch import is_local

    endpoint = resolve_endpoint(endpoint_url, os.environ)
    if not is_local(endpoint):
        raise click.UsageError(f"flare dev binds local directories: {endpoint} is not on this machine")
    project = find_project(directory)
    if project is None:
        raise click.UsageError(f"{directory.resolve()} holds no template.yaml, serverless.yml or function")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    data = data_dir or directory.resolve() / ".flare"
    engine = _engine_for(endpoint, data)
    engine_log = EngineLog(dev_engine.log_path(data)) if engine is not None else None
    tail = LogTail(endpoint, lambda line: click.echo(line, color=color), engine=engine_log)
    try:
        click.echo(f"{project.kind.value}: {project.path}")
        tail.follow(deploy_project(project, endpoint, not no_build, parameters, stack_name))
        tail.start()
        click.echo("watching for changes; Ctrl-C to stop")

        def redeploy(found: Project) -> None:
            try:
                tail.follow(deploy_project(found, endpoint, not no_build, parameters, stack_name))
            except CommandFailed as failed:
                click.echo(f"error: {failed.format_message()} (the previous deploy keeps running)", err=True)

        _watch_project(directory, project, redeploy)
    except KeyboardInterrupt:
        pass
    finally:
        tail.stop()
        if engine is not None:
            status = dev_engine.stop(engine)
            click.echo(f"stopped flare serve (pid {engine.pid}, exit {status})")
