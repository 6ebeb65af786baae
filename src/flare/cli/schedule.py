"""``flare schedule add|ls|rm``: keep-warm rules that the server runs, like EventBridge.

``flare schedule add NAME --rate "5 minutes" [--payload JSON]`` (or ``--cron "0/5 * * * ? *"``)
creates a rule invoking function NAME (``name:qualifier`` or an ARN also work) and prints its id;
``flare schedule ls`` lists the rules with their next and last runs; ``flare schedule rm ID``
removes one. They talk to Flare's ``/flare/v1/schedules`` routes.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import click

from flare.cli.client import CommandFailed, call_flare, endpoint_option, resolve_endpoint

REQUEST_TIMEOUT_S = 30.0


def rate_expression(text: str) -> str:
    """``5 minutes`` → ``rate(5 minutes)``; an expression already wrapped is kept."""
    text = text.strip()
    return text if text.startswith("rate(") else f"rate({text})"


def cron_expression(text: str) -> str:
    """``0/5 * * * ? *`` → ``cron(0/5 * * * ? *)``; an expression already wrapped is kept."""
    text = text.strip()
    return text if text.startswith("cron(") else f"cron({text})"


def request(
    endpoint_url: str, method: str, path: str, body: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """One call to Flare's schedule routes: the JSON answer (None for an empty one). Raises
    :class:`CommandFailed` on any failure."""
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(f"{endpoint_url}{path}", data=data, method=method)
    call.add_header("Content-Type", "application/json")
    raw = call_flare(endpoint_url, call, REQUEST_TIMEOUT_S)
    if not raw:
        return None
    answer = json.loads(raw)
    if not isinstance(answer, dict):
        raise CommandFailed(f"unexpected answer from {endpoint_url}")
    return answer


def table(schedules: list[dict[str, Any]]) -> str:
    """The rows of ``flare schedule ls``, columns aligned."""
    header = ("ID", "FUNCTION", "EXPRESSION", "NEXT RUN", "LAST RUN", "LAST RESULT")
    rows = [header]
    for item in schedules:
        function = item["FunctionName"] + (f":{item['Qualifier']}" if item.get("Qualifier") else "")
        rows.append(
            (
                item["Id"],
                function,
                item["ScheduleExpression"],
                item.get("NextRun") or "-",
                item.get("LastRun") or "-",
                item.get("LastResult") or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


@click.group("schedule")
def schedule_command() -> None:
    """Keep-warm schedules: invoke a function on a rate or cron, run by the server."""


@schedule_command.command("add")
@click.argument("name")
@click.option("--rate", metavar="'N UNIT'", help='e.g. "5 minutes" or "rate(1 hour)".')
@click.option("--cron", metavar="'FIELDS'", help='EventBridge cron, e.g. "0/5 8-17 ? * MON-FRI *" (UTC).')
@click.option("--payload", metavar="JSON", help="Constant input (default: EventBridge's Scheduled Event).")
@endpoint_option
def add_command(
    name: str, rate: str | None, cron: str | None, payload: str | None, endpoint_url: str | None
) -> None:
    """Invoke function NAME on a schedule; prints the new schedule's id."""
    if (rate is None) == (cron is None):
        raise click.UsageError("give exactly one of --rate and --cron")
    if payload is not None:
        try:
            json.loads(payload)
        except ValueError as error:
            raise click.BadParameter(f"not JSON: {error}", param_hint="--payload") from None
    expression = rate_expression(rate) if rate is not None else cron_expression(cron or "")
    body: dict[str, Any] = {"FunctionName": name, "ScheduleExpression": expression}
    if payload is not None:
        body["Input"] = payload
    answer = request(resolve_endpoint(endpoint_url, _environ()), "POST", "/flare/v1/schedules", body) or {}
    click.echo(answer["Id"])
    click.echo(f"{answer['ScheduleExpression']} → {name}, next run {answer.get('NextRun')}", err=True)


@schedule_command.command("ls")
@endpoint_option
def ls_command(endpoint_url: str | None) -> None:
    """List the schedules."""
    answer = request(resolve_endpoint(endpoint_url, _environ()), "GET", "/flare/v1/schedules") or {}
    schedules = answer.get("Schedules", [])
    if schedules:
        click.echo(table(schedules))


@schedule_command.command("rm")
@click.argument("schedule_id", metavar="ID")
@endpoint_option
def rm_command(schedule_id: str, endpoint_url: str | None) -> None:
    """Remove schedule ID."""
    quoted = urllib.parse.quote(schedule_id, safe="")
    request(resolve_endpoint(endpoint_url, _environ()), "DELETE", f"/flare/v1/schedules/{quoted}")


def _environ() -> Mapping[str, str]:
    return os.environ
