"""``flare invoke NAME --debug``: one invocation under a debugger, and the editor's attach config.

The command turns debugging on for the invocation the way a boto3 user would, by setting the
function's ``FLARE_DEBUG`` variables (``control/debug_settings.py``) with
``UpdateFunctionConfiguration`` (so only an identity allowed that action can debug a
function), invokes, and puts the variables back as they were afterwards (unless someone changed
the configuration meanwhile), as AWS's remote debugging reverts its temporary changes.

Before invoking it prints where to attach and the path mappings (``/var/task``, where the code
is in the sandbox, to the local directory it came from), and writes a VS Code ``debugpy`` attach
configuration into a ``launch.json``: created when missing, its configuration of the same name
replaced when it is plain JSON; one with comments (JSONC) is left alone and the snippet printed.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flare.cli.client import CommandFailed
from flare.control.debug_settings import DEBUG_VARIABLE, PORT_VARIABLE, WAIT_VARIABLE, DebugSettings

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient

REMOTE_ROOT = "/var/task"
WORKSPACE = "${workspaceFolder}"
PORTS_TRIED = 16


def config_name(function: str) -> str:
    return f"Flare: {function}"


def debugger_of(runtime: str) -> str | None:
    """The debugger a function of ``runtime`` runs under ("debugpy", "node", "java": JDWP), or
    None. Pure."""
    if runtime.startswith("python"):
        return "debugpy"
    if runtime.startswith("nodejs"):
        return "node"
    if runtime.startswith("java"):
        return "java"
    return None


def launch_config(function: str, port: int, local_root: str, debugger: str = "debugpy") -> dict[str, Any]:
    """VS Code's attach configuration for ``function``'s debug server: ``debugpy``'s, or for
    ``debugger`` "node" the Node.js inspector's, "java" JDWP's (the Java extension's attach,
    which finds sources in the workspace by class, so it needs no path mapping). Pure."""
    if debugger == "java":
        return {
            "name": config_name(function),
            "type": "java",
            "request": "attach",
            "hostName": "127.0.0.1",
            "port": port,
        }
    if debugger == "node":
        return {
            "name": config_name(function),
            "type": "node",
            "request": "attach",
            "address": "127.0.0.1",
            "port": port,
            "localRoot": local_root,
            "remoteRoot": REMOTE_ROOT,
        }
    return {
        "name": config_name(function),
        "type": "debugpy",
        "request": "attach",
        "connect": {"host": "127.0.0.1", "port": port},
        "pathMappings": [{"localRoot": local_root, "remoteRoot": REMOTE_ROOT}],
        "justMyCode": False,
    }


def merged_launch(existing: str | None, config: dict[str, Any]) -> str | None:
    """The text of a ``launch.json`` holding ``config``: a new file when ``existing`` is None,
    else ``existing`` with the configuration of the same name replaced (or added); None when
    ``existing`` is not plain JSON with a ``configurations`` list (it is then left alone). Pure."""
    if existing is None:
        document: Any = {"version": "0.2.0", "configurations": []}
    else:
        try:
            document = json.loads(existing)
        except ValueError:
            return None
        if not isinstance(document, dict) or not isinstance(document.get("configurations", []), list):
            return None
    kept = [c for c in document.get("configurations", []) if c.get("name") != config["name"]]
    document["configurations"] = [*kept, config]
    return json.dumps(document, indent=2) + "\n"


def debug_variables(variables: Mapping[str, str], settings: DebugSettings) -> dict[str, str] | None:
    """``variables`` with debugging on as ``settings`` say; None when they already are. Pure."""
    wanted = {
        DEBUG_VARIABLE: "1",
        PORT_VARIABLE: str(settings.port),
        WAIT_VARIABLE: f"{settings.wait_s:g}",
    }
    if all(variables.get(key) == value for key, value in wanted.items()):
        return None
    return {**variables, **wanted}


def first_free_port(first: int) -> int:
    """The lowest port from ``first`` that can be bound on 127.0.0.1 now (``first`` if none)."""
    for port in range(first, min(first + PORTS_TRIED, 65536)):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return first


@contextmanager
def debugging(client: LambdaClient, name: str, settings: DebugSettings) -> Iterator[str]:
    """``name``'s ``$LATEST`` with debugging on (``settings``) inside the block, which gets
    its debugger (``debugger_of``); its variables as they were after it, unless its
    configuration changed meanwhile (RevisionId). Raises ``CommandFailed`` for a function of
    another runtime (only Python, Node.js and Java are debugged yet)."""
    config = client.get_function_configuration(FunctionName=name)
    runtime = config.get("Runtime", "")
    debugger = debugger_of(runtime)
    if debugger is None:
        message = (
            f"--debug: only Python, Node.js and Java functions can be debugged yet, and {name} runs {runtime}"
        )
        raise CommandFailed(message)
    before = dict(config.get("Environment", {}).get("Variables", {}))
    wanted = debug_variables(before, settings)
    if wanted is None:
        yield debugger
        return
    updated = client.update_function_configuration(FunctionName=name, Environment={"Variables": wanted})
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    try:
        yield debugger
    finally:
        revision = client.get_function_configuration(FunctionName=name)["RevisionId"]
        if revision == updated["RevisionId"]:
            client.update_function_configuration(
                FunctionName=name, Environment={"Variables": before}, RevisionId=revision
            )
        else:
            click.echo(f"{name}'s configuration changed meanwhile: FLARE_DEBUG left as it is", err=True)


def announce(name: str, settings: DebugSettings, local_root: str, launch_json: Path, debugger: str) -> None:
    """Tell the user where to attach, the path mappings, and the attach configuration (written
    to ``launch_json`` when that can be done safely)."""
    config = launch_config(name, settings.port, local_root, debugger)
    click.echo(
        f"debug: {name} waits up to {settings.wait_s:g} s for a debugger ({debugger}) to attach to "
        f"127.0.0.1:{settings.port}",
        err=True,
    )
    click.echo(f"debug: path mappings: {REMOTE_ROOT} -> {local_root}", err=True)
    existing = None
    with suppress(FileNotFoundError):
        existing = launch_json.read_text()
    text = merged_launch(existing, config)
    if text is not None:
        launch_json.parent.mkdir(parents=True, exist_ok=True)
        launch_json.write_text(text)
        click.echo(f'debug: wrote "{config["name"]}" to {launch_json}', err=True)
    else:
        click.echo(f"debug: {launch_json} is not plain JSON; add this configuration to it:", err=True)
    click.echo(json.dumps(config, indent=2), err=True)
