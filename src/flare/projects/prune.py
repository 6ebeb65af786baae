"""What a template no longer names is removed, as CloudFormation removes it from a stack.

Flare keeps no stacks, so ownership is a tag: every function and queue a template creates carries
``OWNER_TAG`` = the stack's name (``StackRun.owner``). After the template's resources are
deployed, the functions and queues tagged with this stack that the template no longer names are
deleted; so are the event source mappings, schedules and function URLs of the stack's functions
that no resource asked for. Nothing untagged is ever removed (a function made by ``flare deploy
NAME PATH`` or boto3 is not the stack's). Streams have no tags in Flare and are never removed.
"""

from __future__ import annotations

from collections.abc import Iterator

from flare.projects.lambda_resources import read_or_none
from flare.projects.plan import Action, Change
from flare.projects.stack_run import OWNER_TAG, StackRun, split_function


def prune(run: StackRun) -> list[Change]:
    """Remove (when executing; else only report) what the template no longer wants, dependents
    first. Returns the plan's rows."""
    gone = list(_functions_gone(run))
    owned = set(run.functions) | set(gone)
    changes = [*_mappings(run, owned), *_schedules(run, owned), *_urls(run)]
    for name in gone:
        if run.execute:
            run.lam.delete_function(FunctionName=name)
        changes.append(Change(Action.REMOVE, name, "AWS::Lambda::Function"))
    for url, name in _queues_gone(run):
        if run.execute:
            run.sqs.delete_queue(QueueUrl=url)
        changes.append(Change(Action.REMOVE, name, "AWS::SQS::Queue"))
    return changes


def _functions_gone(run: StackRun) -> Iterator[str]:
    for page in run.lam.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function["FunctionName"] in run.functions:
                continue
            tags = run.lam.list_tags(Resource=function["FunctionArn"]).get("Tags") or {}
            if tags.get(OWNER_TAG) == run.owner:
                yield str(function["FunctionName"])


def _queues_gone(run: StackRun) -> Iterator[tuple[str, str]]:
    for url in run.sqs.list_queues().get("QueueUrls") or []:
        name = str(url).rsplit("/", 1)[-1]
        if name in run.queues:
            continue
        tags = run.sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
        if tags.get(OWNER_TAG) == run.owner:
            yield str(url), name


def _mappings(run: StackRun, owned: set[str]) -> Iterator[Change]:
    for page in run.lam.get_paginator("list_event_source_mappings").paginate():
        for mapping in page["EventSourceMappings"]:
            name, _ = split_function(str(mapping.get("FunctionArn", "")))
            if name in owned and mapping["UUID"] not in run.kept_mappings:
                if run.execute:
                    run.lam.delete_event_source_mapping(UUID=mapping["UUID"])
                yield Change(Action.REMOVE, mapping["UUID"], "AWS::Lambda::EventSourceMapping")


def _schedules(run: StackRun, owned: set[str]) -> Iterator[Change]:
    for schedule in run.schedules():
        if schedule["FunctionName"] in owned and schedule["Id"] not in run.kept_schedules:
            if run.execute:
                run.schedule_call("DELETE", f"/flare/v1/schedules/{schedule['Id']}", None)
            yield Change(Action.REMOVE, schedule["Id"], "AWS::Events::Rule")


def _urls(run: StackRun) -> Iterator[Change]:
    for name in run.functions:
        if read_or_none(run.lam.get_function_configuration, FunctionName=name) is None:
            continue  # planned, not created
        for config in run.lam.list_function_url_configs(FunctionName=name).get("FunctionUrlConfigs") or []:
            qualifier = split_function(config["FunctionArn"])[1]
            if (name, qualifier) not in run.kept_urls:
                if run.execute:
                    where = {"Qualifier": qualifier} if qualifier else {}
                    run.lam.delete_function_url_config(FunctionName=name, **where)
                yield Change(Action.REMOVE, config["FunctionUrl"], "AWS::Lambda::Url")
