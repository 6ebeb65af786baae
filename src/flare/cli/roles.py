"""``flare roles put|get|list|delete``: the IAM policies of execution roles.

``flare roles put ROLE-ARN policy.json [--name NAME]`` attaches the policy document in the file
(``-`` reads stdin) to the role under NAME (default ``default``; the same name replaces it);
``flare roles get ROLE-ARN [--name NAME]`` prints one policy's document, or every policy of the
role as ``{name: document}``; ``flare roles list`` lists the roles of the caller's account that
have policies; ``flare roles delete ROLE-ARN [--name NAME]`` detaches one, or every one. A role
without a policy gets Flare's default (README, *Execution roles*).

They talk to Flare's ``/flare/v1/roles`` routes with requests signed as every client command signs
(``client.signed``: the credentials you name, else the ``flare`` profile, else botocore's chain,
else the dummy pair): the credential's account is the one whose roles they manage.
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

PATH = "/flare/v1/roles"
DEFAULT_POLICY_NAME = "default"
REQUEST_TIMEOUT_S = 30.0


def request(
    endpoint_url: str,
    method: str,
    query: Mapping[str, str],
    body: bytes | None = None,
    path: str = PATH + "/policies",
) -> dict[str, Any]:
    """One signed call to Flare's role routes: the JSON answer. Raises CommandFailed."""
    url = f"{endpoint_url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    call = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    raw = call_flare(endpoint_url, call, REQUEST_TIMEOUT_S)
    answer = json.loads(raw) if raw else {}
    if not isinstance(answer, dict):
        raise CommandFailed(f"unexpected answer from {endpoint_url}")
    return answer


def _query(role_arn: str, name: str | None) -> dict[str, str]:
    return {"RoleArn": role_arn, **({"PolicyName": name} if name else {})}


@click.group("roles")
def roles_command() -> None:
    """IAM policies of execution roles: what a function's own AWS calls may do."""


@roles_command.command("put")
@click.argument("role_arn", metavar="ROLE-ARN")
@click.argument("document", type=click.File("rb"), metavar="POLICY.json")
@click.option("--name", default=DEFAULT_POLICY_NAME, show_default=True, help="The policy's name in the role.")
@endpoint_option
def put_command(role_arn: str, document: Any, name: str, endpoint_url: str | None) -> None:
    """Attach the policy in POLICY.json ('-': stdin) to ROLE-ARN, replacing one of the same name."""
    endpoint = resolve_endpoint(endpoint_url, os.environ)
    request(endpoint, "PUT", _query(role_arn, name), document.read())
    click.echo(f"policy {name} attached to {role_arn}", err=True)


@roles_command.command("get")
@click.argument("role_arn", metavar="ROLE-ARN")
@click.option("--name", default=None, help="One policy (default: all of them, by name).")
@endpoint_option
def get_command(role_arn: str, name: str | None, endpoint_url: str | None) -> None:
    """Print the policy documents of ROLE-ARN as JSON."""
    answer = request(resolve_endpoint(endpoint_url, os.environ), "GET", _query(role_arn, name))
    if name:
        shown: Any = answer.get("PolicyDocument")
    else:
        shown = {item["PolicyName"]: item["PolicyDocument"] for item in answer.get("Policies", [])}
    click.echo(json.dumps(shown, indent=2))


@roles_command.command("list")
@endpoint_option
def list_command(endpoint_url: str | None) -> None:
    """List the roles that have policies, with their policies' names."""
    answer = request(resolve_endpoint(endpoint_url, os.environ), "GET", {}, path=PATH)
    for item in answer.get("Roles", []):
        click.echo(f"{item['RoleArn']}  {','.join(item['PolicyNames'])}")


@roles_command.command("delete")
@click.argument("role_arn", metavar="ROLE-ARN")
@click.option("--name", default=None, help="One policy (default: every policy of the role).")
@endpoint_option
def delete_command(role_arn: str, name: str | None, endpoint_url: str | None) -> None:
    """Detach a policy (or all of them) from ROLE-ARN: it gets the default policy back when none is left."""
    answer = request(resolve_endpoint(endpoint_url, os.environ), "DELETE", _query(role_arn, name))
    click.echo(f"{answer.get('DeletedPolicies', 0)} policies detached from {role_arn}", err=True)
