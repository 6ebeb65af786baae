"""``flare deploy --template``: deploy a template's resources in dependency order, idempotently.

Each resource, after everything it references, has its intrinsic functions resolved, is compared
with what Flare holds and is created or updated only where it differs; the plan's row is printed
as it is decided. Then what the template no longer wants is removed (``prune``). Resources
the template names but Flare does not need (IAM roles, API Gateway, permissions other than API
Gateway's) are skipped; any other type is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flare.projects import support
from flare.projects.intrinsic import Intrinsics
from flare.projects.lambda_resources import (
    Deployed,
    deploy_alias,
    deploy_function,
    deploy_layer,
    deploy_mapping,
    deploy_version,
)
from flare.projects.plan import HEADER, Change, cloudformation_types, order, row
from flare.projects.prune import prune
from flare.projects.source_resources import (
    deploy_permission,
    deploy_queue,
    deploy_rule,
    deploy_stream,
    deploy_url,
)
from flare.projects.stack_run import StackRun

Deployer = Callable[[StackRun, str, dict[str, Any]], Deployed | None]
DEPLOYERS: dict[str, Deployer] = {
    "AWS::Lambda::Function": deploy_function,
    "AWS::Lambda::Version": deploy_version,
    "AWS::Lambda::Alias": deploy_alias,
    "AWS::Lambda::EventSourceMapping": deploy_mapping,
    "AWS::Lambda::LayerVersion": deploy_layer,
    "AWS::Lambda::Url": deploy_url,
    "AWS::Lambda::Permission": deploy_permission,
    "AWS::SQS::Queue": deploy_queue,
    "AWS::Kinesis::Stream": deploy_stream,
    "AWS::Events::Rule": deploy_rule,
    "AWS::Scheduler::Schedule": deploy_rule,
}
# Types a SAM template brings along that Flare has no use for: skipped, never refused.
SKIPPED_PREFIXES = (
    "AWS::IAM::",
    "AWS::ApiGateway::",
    "AWS::ApiGatewayV2::",
    "AWS::CloudFormation::WaitCondition",
)


def deploy(run: StackRun, echo: Callable[[str], None]) -> list[Change]:
    """Deploy (or, with ``run.execute`` false, only plan) every resource of ``run.template``;
    ``echo`` each row of the plan as it is decided. Returns the plan.

    Raises TemplateRefused before any write for an unsupported type or a condition; later (a
    reference to something Flare does not know) after the resources before it were deployed."""
    resources = run.template.resources
    support.check(resources)
    intrinsics = Intrinsics({**run.template.parameters, **_pseudo_parameters(run)})
    echo(HEADER)
    for logical_id in order(resources):
        resource = resources[logical_id]
        if support.skipped(resource["Type"]):
            intrinsics.record(logical_id, _skipped_attributes(run, logical_id, resource))
            continue
        properties = cloudformation_types(intrinsics.resolve(resource.get("Properties") or {}))
        deployed = DEPLOYERS[resource["Type"]](run, logical_id, properties)
        if deployed is None:
            intrinsics.record(logical_id, {"Ref": logical_id})
            continue
        change, attributes = deployed
        intrinsics.record(logical_id, attributes)
        run.changes.append(change)
        echo(row(change))
    for change in prune(run):
        run.changes.append(change)
        echo(row(change))
    return run.changes


def _pseudo_parameters(run: StackRun) -> dict[str, Any]:
    return {
        "AWS::Region": run.region,
        "AWS::AccountId": run.account,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": run.stack_name or run.template.directory.name,
        "AWS::NoValue": None,
    }


def _skipped_attributes(run: StackRun, logical_id: str, resource: dict[str, Any]) -> dict[str, Any]:
    """What a skipped resource answers to ``Ref`` / ``GetAtt``: an IAM role its ARN in this
    account (its policies are not applied: see ``flare roles``), anything else its logical id."""
    if resource["Type"] == "AWS::IAM::Role":
        name = (resource.get("Properties") or {}).get("RoleName") or run.name(logical_id)
        arn = f"arn:aws:iam::{run.account}:role/{name}"
        return {"Ref": name, "Arn": arn, "RoleId": name}
    return {"Ref": logical_id, "Arn": logical_id, "RootResourceId": logical_id, "ApiEndpoint": logical_id}
