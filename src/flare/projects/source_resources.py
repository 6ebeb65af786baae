"""Deployers of what feeds or fronts functions: SQS queues and Kinesis streams (Flare's own SQS
and Kinesis APIs), schedules (``AWS::Events::Rule`` and ``AWS::Scheduler::Schedule`` become
Flare's ``/flare/v1/schedules``) and function URLs (``AWS::Lambda::Url``, and the one an
``HttpApi`` / ``Api`` event asks for: Flare has no API Gateway, a function URL serves it).

Same contract as ``lambda_resources``: read, decide with ``plan``, write only when executing.
"""

from __future__ import annotations

from typing import Any

from flare.errors import TemplateRefused
from flare.projects.intrinsic import UNKNOWN
from flare.projects.lambda_resources import Deployed, read_or_none
from flare.projects.plan import Action, Change, decide, queue_attributes, schedule_key
from flare.projects.stack_run import OWNER_TAG, StackRun, split_function

API_GATEWAY = "apigateway.amazonaws.com"


def deploy_queue(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed:
    """``AWS::SQS::Queue``: create, or set the attributes that differ. A queue changing between
    standard and FIFO is refused (CloudFormation replaces it)."""
    fifo = bool(properties.get("FifoQueue"))
    name = str(properties.get("QueueName") or run.name(logical_id) + (".fifo" if fifo else ""))
    desired = queue_attributes(properties)
    desired.pop("FifoQueue", None)
    run.queues.add(name)
    url = (read_or_none(run.sqs.get_queue_url, QueueName=name) or {}).get("QueueUrl")
    current = None
    if url is not None:
        attributes = run.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if (attributes.get("FifoQueue") == "true") != fifo:
            raise TemplateRefused(f"{logical_id}: queue {name} cannot change between standard and FIFO")
        current = attributes
    action, details = decide(desired, current)
    if run.execute and action is Action.ADD:
        created = {**desired, **({"FifoQueue": "true"} if fifo else {})}
        url = run.sqs.create_queue(QueueName=name, Attributes=created, tags={OWNER_TAG: run.owner})[
            "QueueUrl"
        ]
    elif run.execute and action is Action.MODIFY:
        run.sqs.set_queue_attributes(QueueUrl=url, Attributes={key: desired[key] for key in details})
    arn = f"arn:aws:sqs:{run.region}:{run.account}:{name}"
    attributes = {"Ref": url or UNKNOWN, "QueueUrl": url or UNKNOWN, "Arn": arn, "QueueName": name}
    return Change(action, logical_id, "AWS::SQS::Queue", details), attributes


def deploy_stream(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed:
    """``AWS::Kinesis::Stream``: create with its shard count. A changed shard count is refused
    (Flare's Kinesis does not reshard)."""
    name = str(properties.get("Name") or run.name(logical_id))
    desired = {"ShardCount": int(properties.get("ShardCount", 1))}
    found = read_or_none(run.kinesis.describe_stream_summary, StreamName=name)
    current = None if found is None else {"ShardCount": found["StreamDescriptionSummary"]["OpenShardCount"]}
    action, details = decide(desired, current)
    if run.execute and action is Action.ADD:
        run.kinesis.create_stream(StreamName=name, ShardCount=desired["ShardCount"])
        run.kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
    elif action is Action.MODIFY:
        raise TemplateRefused(f"{logical_id}: Flare's Kinesis cannot reshard stream {name}: delete it first")
    arn = f"arn:aws:kinesis:{run.region}:{run.account}:stream/{name}"
    return Change(action, logical_id, "AWS::Kinesis::Stream", details), {"Ref": name, "Arn": arn}


def deploy_rule(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed:
    """``AWS::Events::Rule`` (a schedule; event patterns are refused) or
    ``AWS::Scheduler::Schedule``: one Flare schedule per function target, kept when one with the
    same function, expression and input exists, else added."""
    targets = properties.get("Targets") or ([properties["Target"]] if "Target" in properties else [])
    enabled = properties.get("State", "ENABLED") == "ENABLED"
    actions = {
        _deploy_schedule(run, logical_id, str(properties["ScheduleExpression"]), target)
        for target in targets
        if enabled
    }
    action = Action.ADD if Action.ADD in actions else Action.NO_CHANGE
    resource_type = "AWS::Events::Rule" if "Targets" in properties else "AWS::Scheduler::Schedule"
    arn = f"arn:aws:events:{run.region}:{run.account}:rule/{run.name(logical_id)}"
    return Change(action, logical_id, resource_type), {"Ref": run.name(logical_id), "Arn": arn}


def _deploy_schedule(run: StackRun, logical_id: str, expression: str, target: dict[str, Any]) -> Action:
    arn = str(target.get("Arn"))
    if ":lambda:" not in arn or ":function:" not in arn:
        raise TemplateRefused(f"{logical_id}: a schedule's target must be a function, not {arn}")
    name, qualifier = split_function(arn)
    payload = target.get("Input")
    key = schedule_key(name, qualifier, expression, payload)
    for schedule in run.schedules():
        found = schedule_key(
            schedule["FunctionName"],
            schedule.get("Qualifier"),
            schedule["ScheduleExpression"],
            schedule.get("Input"),
        )
        if found == key:
            run.kept_schedules.add(schedule["Id"])
            return Action.NO_CHANGE
    if run.execute:
        body = {
            "FunctionName": arn,
            "ScheduleExpression": expression,
            **({"Input": payload} if payload else {}),
        }
        added = run.schedule_call("POST", "/flare/v1/schedules", body) or {}
        run.kept_schedules.add(str(added.get("Id")))
    return Action.ADD


def deploy_url(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed:
    """``AWS::Lambda::Url``: create, or update auth type, CORS and invoke mode."""
    name, qualifier = split_function(str(properties["TargetFunctionArn"]))
    qualifier = str(properties.get("Qualifier") or qualifier)
    desired = {
        "AuthType": properties.get("AuthType", "NONE"),
        "Cors": properties.get("Cors") or {},
        "InvokeMode": properties.get("InvokeMode", "BUFFERED"),
    }
    change, url = _deploy_url(run, logical_id, "AWS::Lambda::Url", name, qualifier, desired)
    return change, {"Ref": url, "FunctionUrl": url, "FunctionArn": run.function_arn(name)}


def deploy_permission(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed | None:
    """``AWS::Lambda::Permission``: for API Gateway (an ``HttpApi`` / ``Api`` event), the
    function's URL (auth NONE), once per function; any other permission is not needed by Flare
    (None: no row)."""
    if properties.get("Principal") != API_GATEWAY:
        return None
    name, qualifier = split_function(str(properties["FunctionName"]))
    if (name, qualifier) in run.kept_urls:
        return None
    desired = {"AuthType": "NONE", "Cors": {}, "InvokeMode": "BUFFERED"}
    change, url = _deploy_url(run, logical_id, "AWS::Lambda::Url (API event)", name, qualifier, desired)
    return change, {"Ref": url}


def _deploy_url(
    run: StackRun, logical_id: str, resource_type: str, name: str, qualifier: str, desired: dict[str, Any]
) -> tuple[Change, Any]:
    where = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    found = read_or_none(run.lam.get_function_url_config, **where)
    current = (
        None
        if found is None
        else {
            "AuthType": found.get("AuthType"),
            "Cors": found.get("Cors") or {},
            "InvokeMode": found.get("InvokeMode", "BUFFERED"),
        }
    )
    action, details = decide(desired, current)
    url = found["FunctionUrl"] if found is not None else UNKNOWN
    if run.execute and action is Action.ADD:
        url = run.lam.create_function_url_config(**where, **desired)["FunctionUrl"]
    elif run.execute and action is Action.MODIFY:
        run.lam.update_function_url_config(**where, **{key: desired[key] for key in details})
    run.kept_urls.add((name, qualifier))
    run.urls[run.functions.get(name, name) + (f":{qualifier}" if qualifier else "")] = str(url)
    return Change(action, logical_id, resource_type, details), url
