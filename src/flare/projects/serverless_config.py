"""A Serverless Framework ``serverless.yml`` as the SAM template it stands for. Pure.

``functions:`` become ``AWS::Serverless::Function`` resources named as the framework names them
(logical id ``<Name>LambdaFunction``, function ``<service>-<stage>-<name>``, the service's
directory as their code, the framework's defaults of 1024 MB and 6 s), their ``events`` SAM events
(``sqs`` → SQS, ``stream`` → Kinesis, ``schedule`` → Schedule, ``httpApi`` → HttpApi, ``http`` →
Api), ``provisionedConcurrency`` an alias named ``provisioned`` with it, ``reservedConcurrency``
the function's reserved concurrency; ``resources.Resources`` is added as it is (plain
CloudFormation). Variables ``${self:...}``, ``${opt:...}``, ``${sls:stage}``, ``${env:...}`` are
replaced, with a ``, fallback`` when given; any other variable source is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flare.errors import TemplateRefused

DEFAULT_STAGE = "dev"
DEFAULT_MEMORY_MB = 1024  # the framework's defaults, not Lambda's
DEFAULT_TIMEOUT_S = 6
_VARIABLE = re.compile(r"\$\{([^{}]+)\}")


def to_sam(
    document: Mapping[str, Any], options: Mapping[str, str], environ: Mapping[str, str]
) -> dict[str, Any]:
    """The SAM template ``document`` (a parsed serverless.yml) stands for.

    ``options`` are the command line's ``--opt`` values (``stage``...). Raises TemplateRefused for a
    provider other than aws, an unknown variable source, or an event type Flare does not offer."""
    resolved = resolve_variables(document, options, environ)
    provider = resolved.get("provider") or {}
    if provider.get("name", "aws") != "aws":
        raise TemplateRefused(f"provider {provider.get('name')!r}: only aws is supported")
    service = _service(resolved)
    stage = _stage(resolved, options)
    resources: dict[str, Any] = {}
    for name, function in (resolved.get("functions") or {}).items():
        resources[logical_id(name)] = _function(service, stage, str(name), function or {}, provider)
    extra = (resolved.get("resources") or {}).get("Resources") or {}
    for key, resource in extra.items():
        if key in resources:
            raise TemplateRefused(f"resources.Resources.{key} has the logical id of a function")
        resources[key] = resource
    return {"Transform": "AWS::Serverless-2016-10-31", "Resources": resources}


def stack_name(document: Mapping[str, Any], options: Mapping[str, str], environ: Mapping[str, str]) -> str:
    """``<service>-<stage>``, as the framework names its stack."""
    resolved = resolve_variables(document, options, environ)
    return f"{_service(resolved)}-{_stage(resolved, options)}"


def _service(document: Mapping[str, Any]) -> str:
    service = document.get("service")
    name = service.get("name") if isinstance(service, dict) else service
    if not isinstance(name, str) or not name:
        raise TemplateRefused("serverless.yml has no service name")
    return name


def _stage(document: Mapping[str, Any], options: Mapping[str, str]) -> str:
    return str(options.get("stage") or (document.get("provider") or {}).get("stage") or DEFAULT_STAGE)


def logical_id(function_name: str) -> str:
    """The framework's logical id of a function: ``hello-world`` → ``HelloDashworldLambdaFunction``."""
    normalized = function_name.replace("-", "Dash").replace("_", "Underscore")
    return normalized[:1].upper() + normalized[1:] + "LambdaFunction"


def _function(
    service: str, stage: str, name: str, spec: Mapping[str, Any], provider: Mapping[str, Any]
) -> dict[str, Any]:
    runtime = spec.get("runtime") or provider.get("runtime")
    if not runtime:
        raise TemplateRefused(f"function {name}: no runtime (give provider.runtime or the function's)")
    properties: dict[str, Any] = {
        "FunctionName": spec.get("name") or f"{service}-{stage}-{name}",
        "CodeUri": ".",
        "Handler": spec.get("handler"),
        "Runtime": runtime,
        "MemorySize": spec.get("memorySize") or provider.get("memorySize") or DEFAULT_MEMORY_MB,
        "Timeout": spec.get("timeout") or provider.get("timeout") or DEFAULT_TIMEOUT_S,
    }
    variables = {**(provider.get("environment") or {}), **(spec.get("environment") or {})}
    if variables:
        properties["Environment"] = {"Variables": variables}
    if spec.get("layers") or provider.get("layers"):
        properties["Layers"] = spec.get("layers") or provider.get("layers")
    if spec.get("reservedConcurrency") is not None:
        properties["ReservedConcurrentExecutions"] = spec["reservedConcurrency"]
    if spec.get("provisionedConcurrency"):
        properties["AutoPublishAlias"] = "provisioned"
        properties["ProvisionedConcurrencyConfig"] = {
            "ProvisionedConcurrentExecutions": spec["provisionedConcurrency"]
        }
    events: dict[str, Any] = {}
    for sam_event in (sam for event in spec.get("events") or [] for sam in _events(name, event)):
        events[f"{sam_event['Type']}{len(events) + 1}"] = sam_event
    if events:
        properties["Events"] = events
    return {"Type": "AWS::Serverless::Function", "Properties": properties}


def _events(function: str, event: Any) -> list[dict[str, Any]]:
    if not isinstance(event, dict) or len(event) != 1:
        raise TemplateRefused(f"function {function}: an event must be one mapping such as sqs: ARN")
    ((kind, value),) = event.items()
    if kind == "sqs":
        return [_sqs(value)]
    if kind == "stream":
        return [_stream(function, value)]
    if kind == "schedule":
        return _schedules(value)
    if kind in ("httpApi", "http"):
        return [_http(kind, value)]
    raise TemplateRefused(
        f"function {function}: event type {kind} is not supported (sqs, stream, schedule, httpApi, http)"
    )


def _sqs(value: Any) -> dict[str, Any]:
    spec = value if isinstance(value, dict) else {"arn": value}
    properties: dict[str, Any] = {"Queue": spec["arn"], "BatchSize": spec.get("batchSize", 10)}
    if "maximumBatchingWindow" in spec:
        properties["MaximumBatchingWindowInSeconds"] = spec["maximumBatchingWindow"]
    if spec.get("functionResponseType"):
        properties["FunctionResponseTypes"] = [spec["functionResponseType"]]
    if spec.get("enabled") is False:
        properties["Enabled"] = False
    return {"Type": "SQS", "Properties": properties}


def _stream(function: str, value: Any) -> dict[str, Any]:
    spec = value if isinstance(value, dict) else {"arn": value}
    arn = spec.get("arn")
    if spec.get("type") == "dynamodb" or (isinstance(arn, str) and ":dynamodb:" in arn):
        raise TemplateRefused(f"function {function}: DynamoDB streams are not supported, only Kinesis")
    properties: dict[str, Any] = {
        "Stream": arn,
        "StartingPosition": spec.get("startingPosition", "TRIM_HORIZON"),
        "BatchSize": spec.get("batchSize", 100),
    }
    if spec.get("enabled") is False:
        properties["Enabled"] = False
    return {"Type": "Kinesis", "Properties": properties}


def _schedules(value: Any) -> list[dict[str, Any]]:
    spec = value if isinstance(value, dict) else {"rate": value}
    rates = spec.get("rate")
    events = []
    for rate in rates if isinstance(rates, list) else [rates]:
        properties: dict[str, Any] = {"Schedule": rate, "Enabled": spec.get("enabled", True)}
        if "input" in spec:
            payload = spec["input"]
            properties["Input"] = payload if isinstance(payload, str) else json.dumps(payload)
        events.append({"Type": "Schedule", "Properties": properties})
    return events


def _http(kind: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        method, _, path = value.partition(" ") if value != "*" else ("ANY", "", "/{proxy+}")
    else:
        method, path = str(value.get("method", "ANY")), str(value.get("path", "/{proxy+}"))
    method = "ANY" if method == "*" else method.lower()
    properties = {"Path": path or "/{proxy+}", "Method": method}
    return {"Type": "HttpApi" if kind == "httpApi" else "Api", "Properties": properties}


def resolve_variables(
    value: Any, options: Mapping[str, str], environ: Mapping[str, str], root: Any = None
) -> Any:
    """``value`` with the framework's ``${source:address, fallback}`` variables replaced."""
    root = value if root is None else root
    if isinstance(value, dict):
        return {key: resolve_variables(item, options, environ, root) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_variables(item, options, environ, root) for item in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    while isinstance(value, str) and _VARIABLE.search(value):  # innermost first: ${self:a.${opt:b}}
        whole = _VARIABLE.fullmatch(value)
        if whole:  # a value that is one variable keeps the type of what it names
            value = _variable(whole.group(1), options, environ, root)
        else:
            value = _VARIABLE.sub(lambda match: str(_variable(match.group(1), options, environ, root)), value)
    return value


def _variable(text: str, options: Mapping[str, str], environ: Mapping[str, str], root: Any) -> Any:
    reference, _, fallback = text.partition(",")
    source, _, address = reference.strip().partition(":")
    found: Any = None
    if source == "self":
        found = root
        for part in address.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        found = resolve_variables(found, options, environ, root)
    elif source == "opt":
        found = options.get(address)
    elif source == "env":
        found = environ.get(address)
    elif source == "sls" and address == "stage":
        found = _stage(root, options)
    elif not fallback:
        raise TemplateRefused(
            f"variable ${{{text}}}: only self, opt, env and sls:stage variables are supported"
        )
    if found is None and fallback:
        return _literal(fallback.strip(), options, environ, root)
    if found is None:
        raise TemplateRefused(f"variable ${{{text}}} has no value")
    return found


def _literal(text: str, options: Mapping[str, str], environ: Mapping[str, str], root: Any) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.isdigit():
        return int(text)
    return _variable(text, options, environ, root)
