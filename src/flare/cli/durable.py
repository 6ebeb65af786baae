"""``flare durable ls|show|history|stop|pause|resume|rm``: a durable function's executions, seen
and acted on.

``flare durable ls FUNCTION [--status S]...`` lists the function's executions (newest first) as
a table; ``flare durable show ARN`` prints one execution (GetDurableExecution) as JSON;
``flare durable history ARN`` its events, one line each; ``flare durable stop ARN [--message M]``
stops it; ``pause ARN [--reason R] [--run-timeout]`` and ``resume ARN [--reason R]`` pause and
resume it; ``rm ARN`` deletes an ended one. All go through the Lambda API with boto3, as any
client's would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import click

from flare.cli.client import endpoint_option, lambda_client, reported_errors, resolve_endpoint

STATUSES = ("RUNNING", "PAUSING", "PAUSED", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED")


def _when(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return "-" if value is None else str(value)


def executions_table(executions: list[dict[str, Any]]) -> str:
    """The rows of ``flare durable ls``, columns aligned."""
    rows = [("NAME", "STATUS", "STARTED", "ENDED", "ARN")]
    for item in executions:
        rows.append(
            (
                str(item["DurableExecutionName"]),
                str(item["Status"]),
                _when(item.get("StartTimestamp")),
                _when(item.get("EndTimestamp")),
                str(item["DurableExecutionArn"]),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def event_line(event: dict[str, Any]) -> str:
    """One event of ``flare durable history``: id, time, type, the operation's name, details."""
    details = next((value for key, value in event.items() if key.endswith("Details")), None)
    name = event.get("Name") or event.get("Id", "")
    when = _when(event.get("EventTimestamp"))
    text = f"{event.get('EventId', ''):>4}  {when}  {event['EventType']:<22} {name}"
    return f"{text}  {json.dumps(details, default=str)}" if details else text


@click.group("durable")
def durable_command() -> None:
    """Durable functions' executions: list, show, history, stop, pause, resume, delete."""


@durable_command.command("ls")
@click.argument("function")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Only these (repeatable)."
)
@endpoint_option
def list_command(function: str, statuses: tuple[str, ...], endpoint_url: str | None) -> None:
    """List FUNCTION's durable executions, newest first."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    extra: dict[str, Any] = {"Statuses": list(statuses)} if statuses else {}
    with reported_errors(endpoint):
        pages = lambda_client(endpoint).get_paginator("list_durable_executions_by_function")
        found = [
            dict(item)
            for page in pages.paginate(FunctionName=function, ReverseOrder=True, **extra)
            for item in page["DurableExecutions"]
        ]
    click.echo(executions_table(found))


@durable_command.command("show")
@click.argument("arn")
@endpoint_option
def show_command(arn: str, endpoint_url: str | None) -> None:
    """Print durable execution ARN (status, input, result or error) as JSON."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    with reported_errors(endpoint):
        answer = lambda_client(endpoint).get_durable_execution(DurableExecutionArn=arn)
    answer.pop("ResponseMetadata", None)  # type: ignore[misc]
    click.echo(json.dumps(answer, indent=2, default=str))


@durable_command.command("history")
@click.argument("arn")
@endpoint_option
def history_command(arn: str, endpoint_url: str | None) -> None:
    """Print the events of durable execution ARN, oldest first."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    with reported_errors(endpoint):
        pages = lambda_client(endpoint).get_paginator("get_durable_execution_history")
        events = [event for page in pages.paginate(DurableExecutionArn=arn) for event in page["Events"]]
    for event in events:
        click.echo(event_line(dict(event)))


@durable_command.command("stop")
@click.argument("arn")
@click.option("--message", default=None, help="The error message the execution stops with.")
@endpoint_option
def stop_command(arn: str, message: str | None, endpoint_url: str | None) -> None:
    """Stop durable execution ARN."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    extra: dict[str, Any] = {"Error": {"ErrorMessage": message}} if message else {}
    with reported_errors(endpoint):
        answer = lambda_client(endpoint).stop_durable_execution(DurableExecutionArn=arn, **extra)
    click.echo(f"stopped at {_when(answer['StopTimestamp'])}")


@durable_command.command("pause")
@click.argument("arn")
@click.option("--reason", default=None, help="Why (kept in the execution's history).")
@click.option("--run-timeout", is_flag=True, help="Let the execution's timeout run on while it is paused.")
@endpoint_option
def pause_command(arn: str, reason: str | None, run_timeout: bool, endpoint_url: str | None) -> None:
    """Pause durable execution ARN (PAUSING until its invocation in flight checkpoints)."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    extra: dict[str, Any] = {"Reason": reason} if reason else {}
    with reported_errors(endpoint):
        client: Any = lambda_client(endpoint)  # the stubs (mypy-boto3-lambda 1.43) lack pause
        client.pause_durable_execution(
            DurableExecutionArn=arn, ExecutionTimeoutPaused=not run_timeout, **extra
        )
        status = client.get_durable_execution(DurableExecutionArn=arn, IncludeExecutionData=False)["Status"]
    click.echo(status)


@durable_command.command("resume")
@click.argument("arn")
@click.option("--reason", default=None, help="Why (kept in the execution's history).")
@endpoint_option
def resume_command(arn: str, reason: str | None, endpoint_url: str | None) -> None:
    """Resume durable execution ARN."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    extra: dict[str, Any] = {"Reason": reason} if reason else {}
    with reported_errors(endpoint):
        client: Any = lambda_client(endpoint)  # the stubs (mypy-boto3-lambda 1.43) lack resume
        client.resume_durable_execution(DurableExecutionArn=arn, **extra)
        status = client.get_durable_execution(DurableExecutionArn=arn, IncludeExecutionData=False)["Status"]
    click.echo(status)


@durable_command.command("rm")
@click.argument("arn")
@endpoint_option
def delete_command(arn: str, endpoint_url: str | None) -> None:
    """Delete durable execution ARN (it must have ended) and its history."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    with reported_errors(endpoint):
        client: Any = lambda_client(endpoint)  # the stubs (mypy-boto3-lambda 1.43) lack delete
        client.delete_durable_execution(DurableExecutionArn=arn)
    click.echo("deleted")
