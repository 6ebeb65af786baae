"""``flare deploy --template``: deploy a template's resources in dependency order, idempotently.

Each resource, after everything it references, has its intrinsic functions resolved, is compared
with what Flare holds and is created or updated only where it differs; the plan's row is printed
as it is decided. Then what the template no longer wants is removed: the event source mappings,
schedules and function URLs of the template's functions that no resource asked for. Resources
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
    read_or_none,
)
from flare.projects.plan import Action, Change, order, row
from flare.projects.source_resources import (
    deploy_permission,
    deploy_queue,
    deploy_rule,
    deploy_stream,
    deploy_url,
)
from flare.projects.stack_run import StackRun, split_function

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
    for logical_id in order(resources):
        resource = resources[logical_id]
        if support.skipped(resource["Type"]):
            intrinsics.record(logical_id, _skipped_attributes(run, logical_id, resource))
            continue
        properties = intrinsics.resolve(resource.get("Properties") or {})
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


def prune(run: StackRun) -> list[Change]:
    """Remove the mappings, schedules and URLs of the template's functions that the template no
    longer wants (only report them when not executing). Returns their rows."""
    changes: list[Change] = []
    for page in run.lam.get_paginator("list_event_source_mappings").paginate():
        for mapping in page["EventSourceMappings"]:
            name, _ = split_function(str(mapping.get("FunctionArn", "")))
            if name in run.functions and mapping["UUID"] not in run.kept_mappings:
                if run.execute:
                    run.lam.delete_event_source_mapping(UUID=mapping["UUID"])
                changes.append(Change(Action.REMOVE, mapping["UUID"], "AWS::Lambda::EventSourceMapping"))
    for schedule in run.schedules():
        if schedule["FunctionName"] in run.functions and schedule["Id"] not in run.kept_schedules:
            if run.execute:
                run.schedule_call("DELETE", f"/flare/v1/schedules/{schedule['Id']}", None)
            changes.append(Change(Action.REMOVE, schedule["Id"], "AWS::Events::Rule"))
    for name in run.functions:
        answer = run.lam.list_function_url_configs(FunctionName=name) if _exists(run, name) else {}
        for config in answer.get("FunctionUrlConfigs") or []:
            qualifier = split_function(config["FunctionArn"])[1]
            if (name, qualifier) not in run.kept_urls:
                if run.execute:
                    run.lam.delete_function_url_config(
                        FunctionName=name, **({"Qualifier": qualifier} if qualifier else {})
                    )
                changes.append(Change(Action.REMOVE, config["FunctionUrl"], "AWS::Lambda::Url"))
    return changes


def _exists(run: StackRun, name: str) -> bool:
    return read_or_none(run.lam.get_function_configuration, FunctionName=name) is not None
