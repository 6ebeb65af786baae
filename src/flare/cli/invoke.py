"""``flare invoke``: one synchronous invocation, its result on stdout and its log tail on stderr.

Exit status: 0 when the function returned, 1 when it raised (``X-Amz-Function-Error``) or Flare
refused the request, 2 for a bad command line (including a payload that is not JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from flare.cli.client import endpoint_option, lambda_client, reported_errors, resolve_endpoint
from flare.cli.debug_launch import WORKSPACE, announce, debugging, first_free_port
from flare.control.debug_settings import DEFAULT_PORT, DEFAULT_WAIT_S, MAX_WAIT_S, DebugSettings

DEFAULT_PAYLOAD = b"{}"


def parse_payload(ctx: click.Context | None, param: click.Parameter | None, raw: str | None) -> bytes:
    """The request body for ``--payload``: ``{}`` when absent, the file's contents for
    ``@path``, stdin for ``@-``, else the text itself, encoded as UTF-8.

    Raises ``click.BadParameter`` (exit 2) when the result is not valid JSON or the file cannot
    be read.
    """
    if raw is None:
        return DEFAULT_PAYLOAD
    data = _read_reference(raw[1:], ctx, param) if raw.startswith("@") else raw.encode()
    try:
        json.loads(data)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", ctx=ctx, param=param) from None
    return data


def _read_reference(target: str, ctx: click.Context | None, param: click.Parameter | None) -> bytes:
    if target == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(target).read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {target}: {exc.strerror}", ctx=ctx, param=param) from None


def format_payload(payload: bytes) -> str:
    """The response body for a human: indented JSON if it parses, else the text as received."""
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload.decode("utf-8", errors="replace")


def decode_log_tail(log_result: str | None) -> str:
    """The text of ``X-Amz-Log-Result`` (base64 of the last 4 KB of log); "" when absent or garbled."""
    if not log_result:
        return ""
    try:
        return base64.b64decode(log_result, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def report_line(log_tail: str) -> str | None:
    """The last ``REPORT RequestId: ...`` line of a log tail, if there is one."""
    reports = [line for line in log_tail.splitlines() if line.startswith("REPORT ")]
    return reports[-1] if reports else None


def show_log_tail(log_tail: str, quiet: bool) -> None:
    """Write the whole tail to stderr, or with ``quiet`` only its REPORT line."""
    if quiet:
        line = report_line(log_tail)
        if line is not None:
            click.echo(line, err=True)
    elif log_tail:
        click.echo(log_tail.rstrip("\n"), err=True)


def _invoke(client: Any, name: str, payload: bytes, extra: dict[str, Any]) -> tuple[Any, bytes]:
    response = client.invoke(FunctionName=name, Payload=payload, LogType="Tail", **extra)
    return response, response["Payload"].read()


@click.command("invoke")
@click.argument("name")
@click.option(
    "--payload",
    callback=parse_payload,
    metavar="JSON|@FILE",
    help="Event as JSON text, @path to read it from a file, or @- for stdin [default: {}].",
)
@click.option("--qualifier", default=None, metavar="Q", help="Version or alias to invoke.")
@click.option(
    "--tenant-id", default=None, metavar="ID", help="The tenant (functions with tenant isolation mode)."
)
@click.option("--quiet", is_flag=True, help="Show only the REPORT line of the log tail.")
@click.option(
    "--debug",
    is_flag=True,
    help="Run it under a debugger (debugpy, Node's inspector) your editor attaches to.",
)
@click.option(
    "--port", type=click.IntRange(1024, 65535), default=DEFAULT_PORT, show_default=True,
    help="With --debug: the first port tried for the debugger (the next free one is taken).",
)  # fmt: skip
@click.option(
    "--wait", type=click.FloatRange(0, MAX_WAIT_S), default=DEFAULT_WAIT_S, show_default=True,
    help="With --debug: seconds the function waits for the debugger to attach.",
)  # fmt: skip
@click.option(
    "--local-root", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="With --debug: the local directory of the function's code (default: VS Code's ${workspaceFolder}).",
)  # fmt: skip
@click.option(
    "--launch-json", type=click.Path(dir_okay=False, path_type=Path), default=Path(".vscode/launch.json"),
    show_default=True, help="With --debug: where the attach configuration is written.",
)  # fmt: skip
@endpoint_option
def invoke_command(
    name: str,
    payload: bytes,
    qualifier: str | None,
    tenant_id: str | None,
    quiet: bool,
    debug: bool,
    port: int,
    wait: float,
    local_root: Path | None,
    launch_json: Path,
    endpoint_url: str | None,
) -> None:
    """Invoke function NAME synchronously and print what it returned."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    extra: dict[str, Any] = {} if qualifier is None else {"Qualifier": qualifier}
    if tenant_id is not None:
        extra["TenantId"] = tenant_id
    if debug and qualifier not in (None, "$LATEST"):
        raise click.BadParameter(
            "a published version is immutable: --debug runs $LATEST (or set FLARE_DEBUG before publishing)",
            param_hint="--qualifier",
        )
    with reported_errors(endpoint):
        client = lambda_client(endpoint)
        if debug:
            settings = DebugSettings(first_free_port(port), wait)
            root = str(local_root.resolve()) if local_root is not None else WORKSPACE
            with debugging(client, name, settings) as debugger:
                announce(name, settings, root, launch_json, debugger)
                response, body = _invoke(client, name, payload, extra)
        else:
            response, body = _invoke(client, name, payload, extra)
    show_log_tail(decode_log_tail(response.get("LogResult")), quiet)
    click.echo(format_payload(body))
    function_error = response.get("FunctionError")
    if function_error:
        click.echo(f"FunctionError: {function_error}", err=True)
        raise click.exceptions.Exit(1)
