"""Which CloudFormation resources and properties ``flare deploy --template`` deploys. Pure.

Checked for the whole (translated) template before anything is written, so a template Flare
cannot deploy changes nothing. docs/sam-templates.md is the same list for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flare.errors import TemplateRefused

# resource type => the properties Flare applies (any other is refused)
SUPPORTED: dict[str, frozenset[str]] = {
    "AWS::Lambda::Function": frozenset(
        {"Code", "FunctionName", "Handler", "Runtime", "MemorySize", "Timeout", "Environment", "Layers",
         "SnapStart", "Description", "Role", "Architectures", "EphemeralStorage", "Tags",
         "ReservedConcurrentExecutions", "PackageType"}
    ),
    "AWS::Lambda::Version": frozenset({"FunctionName", "Description"}),
    "AWS::Lambda::Alias": frozenset(
        {"Name", "FunctionName", "FunctionVersion", "Description", "ProvisionedConcurrencyConfig"}
    ),
    "AWS::Lambda::EventSourceMapping": frozenset(
        {"EventSourceArn", "FunctionName", "BatchSize", "Enabled", "MaximumBatchingWindowInSeconds",
         "FunctionResponseTypes", "StartingPosition", "StartingPositionTimestamp", "ParallelizationFactor",
         "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError",
         "ScalingConfig", "FilterCriteria", "DestinationConfig", "TumblingWindowInSeconds"}
    ),
    "AWS::Lambda::LayerVersion": frozenset(
        {"Content", "LayerName", "CompatibleRuntimes", "CompatibleArchitectures", "Description",
         "LicenseInfo"}
    ),
    "AWS::Lambda::Url": frozenset({"TargetFunctionArn", "Qualifier", "AuthType", "Cors", "InvokeMode"}),
    "AWS::Lambda::Permission": frozenset(
        {"Action", "FunctionName", "Principal", "SourceArn", "SourceAccount", "FunctionUrlAuthType",
         "EventSourceToken", "PrincipalOrgID"}
    ),
    "AWS::SQS::Queue": frozenset(
        {"QueueName", "FifoQueue", "ContentBasedDeduplication", "DelaySeconds", "MaximumMessageSize",
         "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "RedrivePolicy",
         "RedriveAllowPolicy", "DeduplicationScope", "FifoThroughputLimit", "Tags"}
    ),
    "AWS::Kinesis::Stream": frozenset({"Name", "ShardCount", "Tags"}),
    "AWS::Events::Rule": frozenset(
        {"ScheduleExpression", "EventPattern", "State", "Targets", "Name", "Description"}
    ),
    "AWS::Scheduler::Schedule": frozenset(
        {"ScheduleExpression", "ScheduleExpressionTimezone", "State", "Target", "Name", "Description",
         "FlexibleTimeWindow"}
    ),
}  # fmt: skip
SCHEDULE_TARGET_PROPERTIES = frozenset({"Arn", "Id", "Input", "RoleArn"})
# Types a SAM template brings along that Flare has no use for: skipped, never refused.
SKIPPED_PREFIXES = (
    "AWS::IAM::",
    "AWS::ApiGateway::",
    "AWS::ApiGatewayV2::",
    "AWS::CloudFormation::WaitCondition",
)


def skipped(resource_type: str) -> bool:
    return resource_type.startswith(SKIPPED_PREFIXES)


def check(resources: Mapping[str, Mapping[str, Any]]) -> None:
    """Raises TemplateRefused for the first resource Flare cannot deploy: an unsupported type,
    a property Flare would not apply, or a ``Condition``."""
    for logical_id, resource in resources.items():
        kind = str(resource["Type"])
        if skipped(kind):
            continue
        if kind not in SUPPORTED:
            known = ", ".join(sorted(SUPPORTED))
            raise TemplateRefused(
                f"{logical_id}: resource type {kind} is not supported (Flare deploys {known})"
            )
        if "Condition" in resource:
            raise TemplateRefused(f"{logical_id}: conditions are not supported")
        properties = resource.get("Properties") or {}
        for key in properties:
            if key not in SUPPORTED[kind]:
                raise TemplateRefused(f"{logical_id}: property {key} of {kind} is not supported")
        if properties.get("PackageType", "Zip") != "Zip":
            raise TemplateRefused(f"{logical_id}: container images are not supported (PackageType: Image)")
        if kind in ("AWS::Events::Rule", "AWS::Scheduler::Schedule"):
            _check_schedule(logical_id, properties)


def _check_schedule(logical_id: str, properties: Mapping[str, Any]) -> None:
    if "ScheduleExpression" not in properties:
        raise TemplateRefused(
            f"{logical_id}: only schedules are supported (rules with an EventPattern are not)"
        )
    timezone = properties.get("ScheduleExpressionTimezone", "UTC")
    if timezone not in ("UTC", "Etc/UTC"):
        raise TemplateRefused(
            f"{logical_id}: schedules run in UTC, not ScheduleExpressionTimezone {timezone}"
        )
    targets = properties.get("Targets") or [properties.get("Target") or {}]
    for target in targets if isinstance(targets, list) else []:
        unsupported = sorted(set(target) - SCHEDULE_TARGET_PROPERTIES)
        if unsupported:
            raise TemplateRefused(f"{logical_id}: schedule target property {unsupported[0]} is not supported")
