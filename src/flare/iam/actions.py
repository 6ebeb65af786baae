"""What IAM authorizes each API request as: the action, the resource ARNs and the condition keys,
as AWS's Service Authorization Reference lists them. All pure.

Lambda (every operation of botocore's ``lambda`` model, ``for_lambda``): the action is
``lambda:<Operation>`` except ``Invoke``, ``InvokeWithResponseStream`` and ``InvokeAsync``
(``lambda:InvokeFunction``) and ``GetLayerVersionByArn`` (``lambda:GetLayerVersion``). The resource
is what the request names, in this order:

* ``*`` for ``CreateEventSourceMapping``, ``ListEventSourceMappings`` and ``ListLayerVersions``
  (resource-less actions, whatever they carry) and for any operation naming nothing below
  (``ListFunctions``, ``GetAccountSettings``, ``CreateCodeSigningConfig``...);
* a durable execution's, a tagged resource's or a resource policy's ARN as given
  (``DurableExecutionArn``, ``Resource``, ``ResourceArn``);
* an event source mapping's ARN from its ``UUID`` (``...:event-source-mapping:UUID``);
* a layer version's ARN (``LayerName`` + ``VersionNumber``, or ``GetLayerVersionByArn``'s
  ``Arn``), a layer's for ``PublishLayerVersion``;
* a capacity provider's ARN from ``CapacityProviderName``;
* the function's ARN from ``FunctionName``, qualified when the request names a version or alias
  (``Qualifier`` or ``name:qualifier``), in the account and region an ARN names, else the
  caller's (so ``arn:aws:lambda:*:*:function:f`` does not cover ``f:prod``: write ``f*``, as on
  AWS); ``PutFunctionCodeSigningConfig`` also needs its code signing config's ARN;
* a code signing config's ARN from ``CodeSigningConfigArn``.

Condition keys, where the request carries them: ``lambda:FunctionArn`` (event source mapping and
function URL operations), ``lambda:Principal``, ``lambda:FunctionUrlAuthType``, ``lambda:Layer``,
``lambda:CodeSigningConfigArn``, ``lambda:SubnetIds``, ``lambda:SecurityGroupIds``,
``aws:TagKeys`` and ``aws:RequestTag/<key>``.

The embedded JSON services (``for_target``): ``sqs:<Op>`` on the queue's ARN (from ``QueueUrl``
or ``QueueName``; the batch operations are their single actions, ``sqs:SendMessage``...),
``ListQueues`` on ``*``; ``kinesis:<Op>`` on ``StreamARN``, ``ConsumerARN`` or the stream named by
``StreamName``, else ``*``; ``logs:<Op>`` on the log stream's ARN for the per-stream operations
(``CreateLogStream``, ``PutLogEvents``, ``GetLogEvents``, ``DeleteLogStream``), else on the log
group's (``logGroupName`` or ``logGroupIdentifier``; each of ``logGroupIdentifiers``), else ``*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flare.control import arns, layer_arns
from flare.scope import Scope
from flare.specs.models import service_model

ContextValue = str | list[str]
STAR = "*"
_LAMBDA_ACTIONS = {
    "Invoke": "InvokeFunction",
    "InvokeWithResponseStream": "InvokeFunction",
    "InvokeAsync": "InvokeFunction",
    "GetLayerVersionByArn": "GetLayerVersion",
}
_RESOURCE_LESS = frozenset({"CreateEventSourceMapping", "ListEventSourceMappings", "ListLayerVersions"})
_FUNCTION_ARN_KEY = frozenset(
    {
        "CreateEventSourceMapping",
        "UpdateEventSourceMapping",
        "CreateFunctionUrlConfig",
        "GetFunctionUrlConfig",
        "UpdateFunctionUrlConfig",
        "DeleteFunctionUrlConfig",
    }
)
_SQS_BATCHES = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_LOG_STREAM_OPERATIONS = frozenset({"CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents"})
TARGET_SERVICES = {"AmazonSQS": "sqs", "Kinesis_20131202": "kinesis", "Logs_20140328": "logs"}
"""``X-Amz-Target`` prefixes of the embedded JSON services, and their IAM service prefixes."""


@dataclass(frozen=True, slots=True)
class Authorization:
    """What one request must be allowed: ``action`` on every one of ``resources``, with the
    request's condition keys ``context``."""

    action: str
    resources: tuple[str, ...]
    context: dict[str, ContextValue] = field(default_factory=dict)


@cache
def operations(service: str) -> tuple[str, ...]:
    """Every operation of botocore's ``service`` model."""
    return tuple(service_model(service).operation_names)


def lambda_action(operation: str) -> str:
    """The IAM action a Lambda operation is authorized as."""
    return f"lambda:{_LAMBDA_ACTIONS.get(operation, operation)}"


# -- Lambda -------------------------------------------------------------------------------------


def _function(params: Mapping[str, Any], scope: Scope, qualified: bool = True) -> str:
    """The ARN of the function ``FunctionName`` names (see the module docstring)."""
    given = str(params["FunctionName"])
    qualifier = params.get("Qualifier")
    name, parsed = arns.parse_function_name(given, qualifier if isinstance(qualifier, str) else None)
    account, region = arns.scope_named(given)
    return arns.function_arn(
        region or scope.region, account or scope.account, name, parsed if qualified else None
    )


def _lambda_arn(scope: Scope, kind: str, name: str) -> str:
    return f"arn:aws:lambda:{scope.region}:{scope.account}:{kind}:{name}"


def _layer_version(params: Mapping[str, Any], scope: Scope) -> str:
    layer = layer_arns.parse_layer_name(str(params["LayerName"]), scope.region, scope.account)
    return layer_arns.layer_version_arn(layer.region, layer.account, layer.name, int(params["VersionNumber"]))


def _lambda_resources(operation: str, params: Mapping[str, Any], scope: Scope) -> tuple[str, ...]:
    if operation in _RESOURCE_LESS:
        return (STAR,)
    for member in ("DurableExecutionArn", "Resource", "ResourceArn"):
        if isinstance(params.get(member), str):
            return (params[member],)
    if "UUID" in params:
        return (_lambda_arn(scope, "event-source-mapping", str(params["UUID"])),)
    if "LayerName" in params and "VersionNumber" in params:
        return (_layer_version(params, scope),)
    if isinstance(params.get("Arn"), str):
        return (params["Arn"],)
    if "LayerName" in params:
        layer = layer_arns.parse_layer_name(str(params["LayerName"]), scope.region, scope.account)
        return (layer_arns.layer_arn(layer.region, layer.account, layer.name),)
    if "CapacityProviderName" in params:
        return (_lambda_arn(scope, "capacity-provider", str(params["CapacityProviderName"])),)
    if "FunctionName" in params:
        found = (_function(params, scope),)
        if operation == "PutFunctionCodeSigningConfig" and "CodeSigningConfigArn" in params:
            return (*found, str(params["CodeSigningConfigArn"]))
        return found
    if isinstance(params.get("CodeSigningConfigArn"), str):
        return (params["CodeSigningConfigArn"],)
    return (STAR,)


def _tags(params: Mapping[str, Any]) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    tags = params.get("Tags")
    if isinstance(tags, dict) and tags:
        context["aws:TagKeys"] = [str(key) for key in tags]
        context.update({f"aws:RequestTag/{key}": str(value) for key, value in tags.items()})
    keys = params.get("TagKeys")
    if isinstance(keys, list) and keys:
        context["aws:TagKeys"] = [str(key) for key in keys]
    return context


def _lambda_context(operation: str, params: Mapping[str, Any], scope: Scope) -> dict[str, ContextValue]:
    context = _tags(params)
    if operation in _FUNCTION_ARN_KEY and "FunctionName" in params:
        context["lambda:FunctionArn"] = _function(params, scope, qualified=False)
    if operation == "AddPermission" and isinstance(params.get("Principal"), str):
        context["lambda:Principal"] = params["Principal"]
    auth_type = params.get("FunctionUrlAuthType", params.get("AuthType"))
    if isinstance(auth_type, str):
        context["lambda:FunctionUrlAuthType"] = auth_type
    layers = params.get("Layers")
    if isinstance(layers, list):
        context["lambda:Layer"] = [str(layer) for layer in layers]
    if isinstance(params.get("CodeSigningConfigArn"), str) and "FunctionName" in params:
        context["lambda:CodeSigningConfigArn"] = params["CodeSigningConfigArn"]
    vpc = params.get("VpcConfig")
    if isinstance(vpc, dict):
        for member, key in (
            ("SubnetIds", "lambda:SubnetIds"),
            ("SecurityGroupIds", "lambda:SecurityGroupIds"),
        ):
            if isinstance(vpc.get(member), list):
                context[key] = [str(item) for item in vpc[member]]
    return context


def for_lambda(operation: str, params: Mapping[str, Any], scope: Scope) -> Authorization:
    """What a Lambda ``operation`` with input ``params`` (checked against the model) made in
    ``scope`` is authorized as. Raises ValidationFailed / InvalidParameterValue for a name or
    ARN its operation would refuse anyway."""
    return Authorization(
        lambda_action(operation),
        _lambda_resources(operation, params, scope),
        _lambda_context(operation, params, scope),
    )


# -- SQS, Kinesis, CloudWatch Logs --------------------------------------------------------------


def _queue(body: Mapping[str, Any], scope: Scope) -> str | None:
    url = body.get("QueueUrl")
    if isinstance(url, str):
        parts = url.rstrip("/").rsplit("/", 2)
        account = parts[-2] if len(parts) == 3 and len(parts[-2]) == 12 and parts[-2].isdigit() else None
        return f"arn:aws:sqs:{scope.region}:{account or scope.account}:{parts[-1]}"
    name = body.get("QueueName")
    if isinstance(name, str):
        owner = body.get("QueueOwnerAWSAccountId")
        return f"arn:aws:sqs:{scope.region}:{owner if isinstance(owner, str) else scope.account}:{name}"
    return None


def _stream(body: Mapping[str, Any], scope: Scope) -> str | None:
    for member in ("ConsumerARN", "StreamARN"):
        if isinstance(body.get(member), str):
            return str(body[member])
    name = body.get("StreamName")
    return f"arn:aws:kinesis:{scope.region}:{scope.account}:stream/{name}" if isinstance(name, str) else None


def _log_group_arn(identifier: str, scope: Scope) -> str:
    if identifier.startswith("arn:"):
        return identifier.removesuffix(":*")
    return f"arn:aws:logs:{scope.region}:{scope.account}:log-group:{identifier}"


def _log_resources(operation: str, body: Mapping[str, Any], scope: Scope) -> tuple[str, ...]:
    group = body.get("logGroupName", body.get("logGroupIdentifier"))
    if isinstance(group, str):
        arn = _log_group_arn(group, scope)
        stream = body.get("logStreamName")
        if operation in _LOG_STREAM_OPERATIONS and isinstance(stream, str):
            return (f"{arn}:log-stream:{stream}",)
        return (arn,)
    groups = body.get("logGroupIdentifiers")
    if isinstance(groups, list) and groups:
        return tuple(_log_group_arn(str(item), scope) for item in groups)
    return (STAR,)


def for_target(prefix: str, operation: str, body: Mapping[str, Any], scope: Scope) -> Authorization | None:
    """What a JSON-protocol request (``X-Amz-Target: <prefix>.<operation>``) made in ``scope``
    is authorized as; None for a prefix that is none of the embedded services."""
    service = TARGET_SERVICES.get(prefix)
    if service == "sqs":
        queue = _queue(body, scope)
        return Authorization(f"sqs:{_SQS_BATCHES.get(operation, operation)}", (queue or STAR,))
    if service == "kinesis":
        return Authorization(f"kinesis:{operation}", (_stream(body, scope) or STAR,))
    if service == "logs":
        return Authorization(f"logs:{operation}", _log_resources(operation, body, scope))
    return None
