"""What deploying a template changes: pure decisions, no I/O.

A ``Change`` is one row of the plan ``flare deploy --template`` prints (as ``sam deploy
--no-execute-changeset`` does): the action, the resource and which of its properties differ.
``order`` puts resources after everything they reference; the ``*_fields`` functions project a
template's properties and Flare's answers onto the same comparable shape (defaults filled in, so
a property removed from the template is a change back to Lambda's default).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flare.errors import TemplateRefused
from flare.projects.intrinsic import references


class Action(enum.Enum):
    ADD = "Add"
    MODIFY = "Modify"
    REMOVE = "Remove"
    NO_CHANGE = "NoChange"


@dataclass(frozen=True)
class Change:
    """One row of the plan: ``details`` names the properties that differ (for MODIFY)."""

    action: Action
    logical_id: str
    resource_type: str
    details: tuple[str, ...] = ()


def decide(desired: Mapping[str, Any], current: Mapping[str, Any] | None) -> tuple[Action, tuple[str, ...]]:
    """ADD when nothing exists, else MODIFY naming the keys whose values differ, else NO_CHANGE."""
    if current is None:
        return Action.ADD, ()
    changed = tuple(key for key in desired if _comparable(desired[key]) != _comparable(current.get(key)))
    return (Action.MODIFY, changed) if changed else (Action.NO_CHANGE, ())


def _comparable(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Logical ids, each after every resource it references or ``DependsOn`` (ties in template
    order). Raises TemplateRefused for a cycle."""
    needs: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn") or []
        named = {
            *references(resource.get("Properties") or {}),
            *([depends] if isinstance(depends, str) else depends),
        }
        needs[logical_id] = {name for name in named if name in resources and name != logical_id}
    ordered: list[str] = []
    done: set[str] = set()
    while len(ordered) < len(resources):
        ready = [name for name in resources if name not in done and needs[name] <= done]
        if not ready:
            raise TemplateRefused(f"circular references between {sorted(set(resources) - done)}")
        ordered += ready
        done.update(ready)
    return ordered


# properties CloudFormation reads as integers or booleans, whatever scalar the template gives
# (a parameter's value is always a string)
INTEGER_PROPERTIES = frozenset(
    {"MemorySize", "Timeout", "ReservedConcurrentExecutions", "Size", "BatchSize", "ShardCount",
     "MaximumBatchingWindowInSeconds", "ProvisionedConcurrentExecutions", "ParallelizationFactor",
     "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds", "MaximumConcurrency"}
)  # fmt: skip
BOOLEAN_PROPERTIES = frozenset({"Enabled", "BisectBatchOnFunctionError"})


def cloudformation_types(properties: Mapping[str, Any]) -> dict[str, Any]:
    """``properties`` with CloudFormation's coercions: integer and boolean properties from
    strings (``"1024"``, ``"false"``), environment variables to strings (``true`` → ``"true"``)."""
    typed: dict[str, Any] = {}
    for key, value in properties.items():
        if key in INTEGER_PROPERTIES and isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        elif key in BOOLEAN_PROPERTIES and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        elif key == "Variables" and isinstance(value, dict):
            value = {name: _text(item) for name, item in value.items()}
        elif isinstance(value, dict):
            value = cloudformation_types(value)
        typed[key] = value
    return typed


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


# Lambda's defaults, for properties a template leaves out.
FUNCTION_DEFAULTS: dict[str, Any] = {
    "MemorySize": 128,
    "Timeout": 3,
    "Description": "",
    "Environment": {},
    "Layers": [],
    "SnapStart": "None",
    "Architectures": ["x86_64"],
    "EphemeralStorage": 512,
}


def function_fields(properties: Mapping[str, Any]) -> dict[str, Any]:
    """A template's ``AWS::Lambda::Function`` properties (resolved) as comparable fields."""
    fields = {key: properties.get(key, default) for key, default in FUNCTION_DEFAULTS.items()}
    fields["Handler"] = properties.get("Handler")
    fields["Runtime"] = properties.get("Runtime")
    fields["Role"] = properties.get("Role")
    fields["Environment"] = dict((properties.get("Environment") or {}).get("Variables") or {})
    fields["SnapStart"] = (properties.get("SnapStart") or {}).get("ApplyOn", "None")
    fields["EphemeralStorage"] = (properties.get("EphemeralStorage") or {}).get("Size", 512)
    return fields


def current_function_fields(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """GetFunctionConfiguration's answer as the fields ``function_fields`` makes."""
    return {
        "MemorySize": configuration.get("MemorySize"),
        "Timeout": configuration.get("Timeout"),
        "Description": configuration.get("Description", ""),
        "Environment": dict((configuration.get("Environment") or {}).get("Variables") or {}),
        "Layers": [layer["Arn"] for layer in configuration.get("Layers") or []],
        "SnapStart": (configuration.get("SnapStart") or {}).get("ApplyOn", "None"),
        "Architectures": configuration.get("Architectures") or ["x86_64"],
        "EphemeralStorage": (configuration.get("EphemeralStorage") or {}).get("Size", 512),
        "Handler": configuration.get("Handler"),
        "Runtime": configuration.get("Runtime"),
        "Role": configuration.get("Role"),
    }


def configuration_request(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``function_fields`` as CreateFunction / UpdateFunctionConfiguration parameters."""
    request = {
        key: value
        for key, value in fields.items()
        if key not in ("Environment", "SnapStart", "EphemeralStorage")
    }
    request["Environment"] = {"Variables": dict(fields["Environment"])}
    request["SnapStart"] = {"ApplyOn": fields["SnapStart"]}
    request["EphemeralStorage"] = {"Size": fields["EphemeralStorage"]}
    return request


ESM_DEFAULTS: dict[str, Any] = {
    "Enabled": True,
    "MaximumBatchingWindowInSeconds": 0,
    "FunctionResponseTypes": [],
}
# properties a mapping takes only when it is created
ESM_CREATE_ONLY = frozenset(
    {"EventSourceArn", "FunctionName", "StartingPosition", "StartingPositionTimestamp"}
)


def mapping_fields(properties: Mapping[str, Any]) -> dict[str, Any]:
    """A template's ``AWS::Lambda::EventSourceMapping`` properties that an update can change,
    defaults filled in (BatchSize: 10 for a queue, 100 for a stream)."""
    fields = {key: value for key, value in properties.items() if key not in ESM_CREATE_ONLY}
    for key, default in ESM_DEFAULTS.items():
        fields.setdefault(key, default)
    source = str(properties.get("EventSourceArn", ""))
    fields.setdefault("BatchSize", 10 if ":sqs:" in source else 100)
    return fields


def queue_attributes(properties: Mapping[str, Any]) -> dict[str, str]:
    """An ``AWS::SQS::Queue``'s properties as SQS attributes (strings; policies as JSON)."""
    attributes: dict[str, str] = {}
    for key, value in properties.items():
        if key in ("QueueName", "Tags"):
            continue
        if isinstance(value, dict | list):
            attributes[key] = json.dumps(value)
        elif isinstance(value, bool):
            attributes[key] = "true" if value else "false"
        else:
            attributes[key] = str(value)
    return attributes


def schedule_key(
    function_name: str, qualifier: str | None, expression: str, payload: str | None
) -> tuple[str, ...]:
    """What identifies one of Flare's schedules: it has no name, so a changed rule is a new one."""
    return (function_name, qualifier or "", expression, payload or "")


def summary(changes: Iterable[Change]) -> str:
    """The plan's last line: counts per action, or that nothing changes."""
    counts = {action: 0 for action in Action}
    for change in changes:
        counts[change.action] += 1
    if not counts[Action.ADD] + counts[Action.MODIFY] + counts[Action.REMOVE]:
        return "No changes to deploy: the stack is up to date."
    return (
        f"{counts[Action.ADD]} to add, {counts[Action.MODIFY]} to modify, {counts[Action.REMOVE]} to remove."
    )


def row(change: Change) -> str:
    """One line of the plan, aligned like ``sam deploy``'s change set table (under ``HEADER``)."""
    details = f"  ({', '.join(change.details)})" if change.details else ""
    return f"{change.action.value:<9} {change.logical_id:<36} {change.resource_type}{details}"


HEADER = f"{'Operation':<9} {'LogicalResourceId':<36} ResourceType  (properties that differ)"
