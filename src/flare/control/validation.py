"""Checking and normalising CreateFunction / UpdateFunctionConfiguration bodies.

The output is a ``FunctionConfiguration`` dict with AWS's field names, holding the settings a
client chose (or their defaults); the registry adds the computed fields (ARN, code hash, revision,
state, timestamps). Create starts from the defaults and update from the stored configuration, and
both apply only the fields given, so a field is checked the same way on both paths. ``Layers``
are not checked here: they must name stored layer versions, which the registry asks
``control/layers.py`` about.

Types, patterns, lengths, ranges and enums are botocore's model's, checked at the edge
(``specs/constraints.py``) before anything here runs. What stays here is what AWS checks after
the model: limits narrower than the model's (``MemorySize`` up to 10240, ``Timeout`` up to 900,
``/tmp`` up to 10240 MB for functions without a capacity provider), reserved environment
variables and their 4 KB, runtimes Flare cannot run, SnapStart's runtimes, tenant isolation
(``TenancyConfig``: set at creation only, never with SnapStart; ``control/tenancy.py``), and
settings Flare does not support. All functions here are pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from flare.control import runtime_lifecycle, tenancy
from flare.control.arns import parse_function_name
from flare.control.debug_settings import debug_settings
from flare.errors import InvalidParameterValue, ValidationFailed
from flare.specs.models import enum_of

SUPPORTED_RUNTIMES = (
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "provided.al2023",
    "provided.al2",
    "provided",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
)
RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)  # fmt: skip
ENV_LIMIT_BYTES = 4096
REVISION_MESSAGE = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
MAX_MEMORY_MB = 10240
MAX_TIMEOUT_S = 900
MAX_EPHEMERAL_MB = 10240

Config = dict[str, Any]


def _above(value: int, field: str, limit: int) -> ValidationFailed:
    return ValidationFailed(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"Member must have value less than or equal to {limit}"
    )


def check_runtime(value: str, today: date, creating: bool) -> str:
    """``value`` when AWS takes it ``today`` (for a new function if ``creating``, else for an
    update) and Flare can run it; else InvalidParameterValue, in AWS's words where AWS refuses:
    a name that is none of Lambda's runtimes (Lambda checks ``Runtime`` itself, not through the
    model, since it may also be an ARN; its message lists the runtimes still accepted), one
    past its deprecation's block date (``runtime_lifecycle``); and naming what Flare runs for one
    of Lambda's that Flare cannot run."""
    known = enum_of("lambda", "Runtime")
    if value not in known:
        accepted = [runtime for runtime in known if not runtime_lifecycle.blocked(runtime, today, True)]
        raise InvalidParameterValue(
            f"Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum value "
            f"set: [{', '.join(accepted)}] or be a valid ARN"
        )
    refusal = runtime_lifecycle.refusal(value, today, creating)
    if refusal is not None:
        raise refusal
    if value in SUPPORTED_RUNTIMES:
        return value
    raise InvalidParameterValue(
        f"The runtime parameter of {value} is not supported by Flare yet. "
        f"Flare runs: {', '.join(SUPPORTED_RUNTIMES)}."
    )


def check_memory(value: int) -> int:
    """At most 10240 MB: the model allows 32768 for Lambda Managed Instances only, and AWS words
    the narrower limit its own way."""
    if value > MAX_MEMORY_MB:
        raise ValidationFailed(
            f"'MemorySize' value failed to satisfy constraint: Member must have value less than or "
            f"equal to {MAX_MEMORY_MB}"
        )
    return value


def check_timeout(value: int) -> int:
    """At most 900 s (the model's 5400 is for Lambda Managed Instances)."""
    if value > MAX_TIMEOUT_S:
        raise _above(value, "timeout", MAX_TIMEOUT_S)
    return value


def check_environment(value: dict[str, Any]) -> dict[str, Any]:
    """``{"Variables": {...}}`` with unreserved keys totalling at most 4 KB."""
    variables: dict[str, str] = value.get("Variables") or {}
    reserved = sorted(RESERVED_ENV_KEYS.intersection(variables))
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported for "
            f"modification. Reserved keys used in this request: {','.join(reserved)}"
        )
    size = sum(len(key.encode()) + len(item.encode()) for key, item in variables.items())
    try:
        debug_settings(variables)
    except ValueError as error:
        raise InvalidParameterValue(
            f"Lambda was unable to configure your environment variables: {error}"
        ) from None
    if size > ENV_LIMIT_BYTES:
        measured = json.dumps(variables, separators=(",", ":"))
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )
    return {"Variables": dict(variables)}


def _ephemeral(value: dict[str, Any]) -> dict[str, int]:
    size: int = value["Size"]
    if size > MAX_EPHEMERAL_MB:
        raise _above(size, "ephemeralStorage.size", MAX_EPHEMERAL_MB)
    return {"Size": size}


def _snap_start(value: dict[str, Any]) -> dict[str, str]:
    return {"ApplyOn": value.get("ApplyOn", "None"), "OptimizationStatus": "Off"}


def _dead_letter(value: dict[str, Any]) -> dict[str, str]:
    target = value.get("TargetArn")
    return {"TargetArn": target} if target else {}


DEFAULT_RETENTION_DAYS = 14  # Lambda's, when DurableConfig leaves RetentionPeriodInDays out


def _durable(value: dict[str, Any]) -> dict[str, Any]:
    """DurableConfig: ``ExecutionTimeout`` is required (the model checks both ranges);
    ``RetentionPeriodInDays`` defaults to 14 days; ``KMSKeyArn`` is kept as given."""
    if value.get("ExecutionTimeout") is None:
        raise InvalidParameterValue("DurableConfig.ExecutionTimeout is required.")
    durable: dict[str, Any] = {
        "RetentionPeriodInDays": value.get("RetentionPeriodInDays") or DEFAULT_RETENTION_DAYS,
        "ExecutionTimeout": value["ExecutionTimeout"],
    }
    if value.get("KMSKeyArn"):
        durable["KMSKeyArn"] = value["KMSKeyArn"]
    return durable


def _unsupported(field: str) -> Callable[[Any], Any]:
    def check(value: object) -> object:
        if value:
            raise InvalidParameterValue(f"Flare does not support {field} yet.")
        return value

    return check


def _given(value: Any) -> Any:
    return value


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "Handler": _given,
    "Role": _given,
    "Description": _given,
    "MemorySize": check_memory,
    "Timeout": check_timeout,
    "Environment": check_environment,
    "Architectures": list,
    "EphemeralStorage": _ephemeral,
    "TracingConfig": dict,
    "SnapStart": _snap_start,
    "DeadLetterConfig": _dead_letter,
    "KMSKeyArn": _given,
    "VpcConfig": _unsupported("VpcConfig"),
    "FileSystemConfigs": _unsupported("FileSystemConfigs"),
    "ImageConfig": _unsupported("ImageConfig (Flare runs Zip packages only)"),
    "CapacityProviderConfig": _unsupported("CapacityProviderConfig"),
    "DurableConfig": _durable,
    "RuntimeConfig": _unsupported("RuntimeConfig"),
    "AcceleratorConfig": _unsupported("AcceleratorConfig"),
    "PublishTo": _unsupported("PublishTo"),
}
_DROPPED_WHEN_EMPTY = ("DeadLetterConfig", "VpcConfig", "FileSystemConfigs", "ImageConfig", "KMSKeyArn")


def _logging(given: dict[str, Any], previous: dict[str, Any]) -> dict[str, str]:
    """``previous`` LoggingConfig with what ``given`` sets; the log levels exist only with
    the JSON format (INFO unless chosen)."""
    merged = {**previous, **{key: item for key, item in given.items() if item is not None}}
    if merged.get("LogFormat", "Text") == "JSON":
        merged.setdefault("ApplicationLogLevel", "INFO")
        merged.setdefault("SystemLogLevel", "INFO")
    else:
        merged["LogFormat"] = "Text"
        merged.pop("ApplicationLogLevel", None)
        merged.pop("SystemLogLevel", None)
    return merged


def _apply(config: Config, body: dict[str, Any], today: date, creating: bool) -> Config:
    """``config`` with every configurable field present in ``body`` checked and replaced; the
    runtime, given or kept, must be one AWS accepts ``today`` for a create or an update."""
    result = dict(config)
    if body.get("Runtime") is not None or not creating:
        result["Runtime"] = check_runtime(body.get("Runtime") or config["Runtime"], today, creating)
    for field, check in _CHECKS.items():
        if body.get(field) is None:
            continue
        value = check(body[field])
        if field in _DROPPED_WHEN_EMPTY and not value:
            result.pop(field, None)
        else:
            result[field] = value
    if body.get("LoggingConfig") is not None:
        result["LoggingConfig"] = _logging(body["LoggingConfig"], result["LoggingConfig"])
    _check_snap_start_runtime(result)
    return result


JAVA_SNAP_START = (
    "a JVM's snapshot needs CRaC, which neither Flare nor this host's JDKs provide (flare doctor)"
)
SNAP_START_RUNTIMES = ("python3.12", "python3.13", "python3.14", "provided.al2023", "provided.al2")


def _check_snap_start_runtime(config: Config) -> None:
    """SnapStart on Python needs python3.12 or later; Java's is refused (``JAVA_SNAP_START``:
    Lambda snapshots the whole microVM, Flare could snapshot a JVM only through CRaC), .NET is
    not run by Flare.

    Lambda offers SnapStart on managed runtimes only. Flare also accepts ``provided.al2023`` and
    ``provided.al2``, for functions whose ``bootstrap`` runs ``awslambdaric`` (the runtime
    client AWS's Python runtimes are built on): their snapshot is taken at the client's
    ``restore/next`` (``sandbox/snapshot.py``); any other client fails the publish, saying so."""
    applies = config.get("SnapStart", {}).get("ApplyOn") == "PublishedVersions"
    runtime = str(config.get("Runtime"))
    if applies and runtime.startswith("java"):
        raise InvalidParameterValue(
            f"{runtime} is not supported for SnapStart enabled functions by Flare: {JAVA_SNAP_START}. "
            f"Supported runtimes: {', '.join(SNAP_START_RUNTIMES)}."
        )
    if applies and config.get("Runtime") not in SNAP_START_RUNTIMES:
        raise InvalidParameterValue(
            f"{config.get('Runtime')} is not supported for SnapStart enabled functions. "
            f"Supported runtimes: {', '.join(SNAP_START_RUNTIMES)}."
        )


def defaults(name: str) -> Config:
    """The configuration AWS gives a function when the client sets nothing optional."""
    return {
        "FunctionName": name,
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "TracingConfig": {"Mode": "PassThrough"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
        "Layers": [],
        "PackageType": "Zip",
    }


def normalise_create(body: dict[str, Any], today: date) -> Config:
    """The configuration a CreateFunction ``body`` asks for, with defaults filled in.

    FunctionName (bare name or unqualified ARN), Role and Code are required by the model; the
    Zip package type also needs Runtime and Handler. ``PackageType: Image`` is rejected: Flare
    runs Zip packages only. Raises InvalidParameterValue, ValidationFailed.
    """
    name, qualifier = parse_function_name(body["FunctionName"], None)
    if qualifier is not None:
        raise InvalidParameterValue("A function name with a qualifier cannot be created.")
    package_type = body.get("PackageType") or "Zip"
    if package_type != "Zip":
        raise InvalidParameterValue(
            f"Flare runs Zip packages only; PackageType {package_type} is not supported."
        )
    if not body.get("Runtime") or not body.get("Handler"):
        raise InvalidParameterValue(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
        )
    config = defaults(name)
    tenancy_config = tenancy.tenancy_config(body)
    if tenancy_config is not None:
        config["TenancyConfig"] = tenancy_config
    config = _apply(config, body, today, creating=True)
    tenancy.check_configuration(config)
    return config


def merge_update(current: Config, body: dict[str, Any], today: date) -> Config:
    """``current`` with the fields an UpdateFunctionConfiguration ``body`` gives, checked
    (UpdateFunctionCode passes only its ``Architectures``: the kept runtime is checked too).

    Fields the body leaves out keep their value; ``Environment`` is replaced whole when given;
    ``TenancyConfig`` never changes; ``DurableConfig`` may change only on a function created
    durable (AWS: durable execution is enabled at creation only). Raises InvalidParameterValue
    and leaves ``current`` untouched.
    """
    tenancy.check_update(current, body)
    if body.get("DurableConfig") is not None and current.get("DurableConfig") is None:
        raise InvalidParameterValue(
            "Durable execution can be enabled only when a function is created, not on an existing function."
        )
    config = _apply(current, body, today, creating=False)
    tenancy.check_configuration(config)
    return config
