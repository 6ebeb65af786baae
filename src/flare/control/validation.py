"""Checking and normalising CreateFunction / UpdateFunctionConfiguration bodies.

The output is a ``FunctionConfiguration`` dict with AWS's field names, holding the settings a
client chose (or their defaults); the registry adds the computed fields (ARN, code hash, revision,
state, timestamps). Each configurable field has one checker in ``_CHECKS``; create starts from
the defaults and update from the stored configuration, and both apply only the fields given, so a
field is validated the same way on both paths. Every rejection is ``InvalidParameterValue`` with
AWS's wording where it is known. ``Layers`` are not checked here: they must name stored layer
versions, which the registry asks ``control/layers.py`` about. All functions here are pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flare.control.arns import parse_function_name
from flare.errors import InvalidParameterValue

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
)
AWS_RUNTIMES = (
    "nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x",
    "nodejs16.x", "java8", "java8.al2", "java11", "python2.7", "python3.6", "python3.7", "python3.8",
    "python3.9", "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6",
    "dotnet8", "nodejs4.3-edge", "go1.x", "ruby2.5", "ruby2.7", "provided", "provided.al2",
    "nodejs18.x", "python3.10", "java17", "ruby3.2", "ruby3.3", "ruby3.4", "python3.11", "nodejs20.x",
    "provided.al2023", "python3.12", "java21", "python3.13", "nodejs22.x", "nodejs24.x", "python3.14",
    "java25", "dotnet10", "ruby4.0",
)  # fmt: skip
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
ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
_ROLE = re.compile(ROLE_PATTERN)
_ENV_KEY = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")
_HANDLER = re.compile(r"[^\s]+")
_UNSUPPORTED_FAMILIES = ("nodejs", "java", "dotnet", "ruby", "go1")
_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")

Config = dict[str, Any]


def _constraint(value: object, field: str, rule: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    )


def _int_in(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _constraint(value, field, "Member must be an integer")
    if value < low:
        raise _constraint(value, field, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise _constraint(value, field, f"Member must have value less than or equal to {high}")
    return value


def _string(value: object, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise _constraint(value, field, "Member must be a string")
    if len(value) > max_length:
        raise _constraint(value, field, f"Member must have length less than or equal to {max_length}")
    return value


def _object(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _constraint(value, field, "Member must be a structure")
    return value


def _enum(value: object, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _constraint(value, field, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    return str(value)


def check_description(value: object) -> str:
    """A function or version description: a string of at most 256 characters."""
    return _string(value, "description", 256)


def check_runtime(value: object) -> str:
    """A runtime Flare can run; other AWS runtimes and unknown names are rejected differently."""
    if isinstance(value, str) and value in SUPPORTED_RUNTIMES:
        return value
    if isinstance(value, str) and value.startswith(_UNSUPPORTED_FAMILIES) and value in AWS_RUNTIMES:
        raise InvalidParameterValue(
            f"The runtime parameter of {value} is not supported by Flare yet. "
            f"Flare runs: {', '.join(SUPPORTED_RUNTIMES)}."
        )
    raise InvalidParameterValue(
        f"Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
        f"[{', '.join(AWS_RUNTIMES)}] or be a valid ARN"
    )


def check_handler(value: object) -> str:
    handler = _string(value, "handler", 128)
    if not _HANDLER.fullmatch(handler):
        raise _constraint(handler, "handler", r"Member must satisfy regular expression pattern: [^\s]+")
    return handler


def check_role(value: object) -> str:
    role = _string(value, "role", 2048)
    if not _ROLE.fullmatch(role):
        raise _constraint(role, "role", f"Member must satisfy regular expression pattern: {ROLE_PATTERN}")
    return role


def check_environment(value: object) -> dict[str, Any]:
    """``{"Variables": {...}}`` with valid, unreserved keys totalling at most 4 KB."""
    variables = _object(_object(value, "environment").get("Variables") or {}, "environment.variables")
    reserved = sorted(RESERVED_ENV_KEYS.intersection(variables))
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported for "
            f"modification. Reserved keys used in this request: {','.join(reserved)}"
        )
    for key, item in variables.items():
        if not _ENV_KEY.fullmatch(key):
            rule = "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+"
            raise _constraint(key, "environment.variables", rule)
        if not isinstance(item, str):
            raise _constraint(item, f"environment.variables.{key}", "Member must be a string")
    size = sum(len(key.encode()) + len(item.encode()) for key, item in variables.items())
    if size > ENV_LIMIT_BYTES:
        measured = json.dumps(variables, separators=(",", ":"))
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )
    return {"Variables": dict(variables)}


def _architectures(value: object) -> list[str]:
    if not isinstance(value, list) or len(value) != 1:
        raise _constraint(value, "architectures", "Member must have length less than or equal to 1")
    return [_enum(value[0], "architectures", ("x86_64", "arm64"))]


def _ephemeral(value: object) -> dict[str, int]:
    return {
        "Size": _int_in(_object(value, "ephemeralStorage").get("Size"), "ephemeralStorage.size", 512, 10240)
    }


def _tracing(value: object) -> dict[str, str]:
    return {
        "Mode": _enum(
            _object(value, "tracingConfig").get("Mode"), "tracingConfig.mode", ("Active", "PassThrough")
        )
    }


def _snap_start(value: object) -> dict[str, str]:
    apply_on = _enum(
        _object(value, "snapStart").get("ApplyOn"), "snapStart.applyOn", ("PublishedVersions", "None")
    )
    return {"ApplyOn": apply_on, "OptimizationStatus": "Off"}


def _dead_letter(value: object) -> dict[str, str]:
    target = _object(value, "deadLetterConfig").get("TargetArn")
    return {"TargetArn": _string(target, "deadLetterConfig.targetArn", 256)} if target else {}


def _unsupported(field: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if value:
            raise InvalidParameterValue(f"Flare does not support {field} yet.")
        return value

    return check


_CHECKS: dict[str, Callable[[object], object]] = {
    "Runtime": check_runtime,
    "Handler": check_handler,
    "Role": check_role,
    "Description": check_description,
    "MemorySize": lambda value: _int_in(value, "memorySize", 128, 10240),
    "Timeout": lambda value: _int_in(value, "timeout", 1, 900),
    "Environment": check_environment,
    "Architectures": _architectures,
    "EphemeralStorage": _ephemeral,
    "TracingConfig": _tracing,
    "SnapStart": _snap_start,
    "DeadLetterConfig": _dead_letter,
    "KMSKeyArn": lambda value: _string(value, "kMSKeyArn", 2048),
    "VpcConfig": _unsupported("VpcConfig"),
    "FileSystemConfigs": _unsupported("FileSystemConfigs"),
    "ImageConfig": _unsupported("ImageConfig (Flare runs Zip packages only)"),
    "CodeSigningConfigArn": _unsupported("CodeSigningConfigArn"),
    "CapacityProviderConfig": _unsupported("CapacityProviderConfig"),
}
_DROPPED_WHEN_EMPTY = ("DeadLetterConfig", "VpcConfig", "FileSystemConfigs", "ImageConfig", "KMSKeyArn")


def _logging(value: object, previous: dict[str, Any]) -> dict[str, str]:
    given = _object(value, "loggingConfig")
    merged = {**previous, **{key: item for key, item in given.items() if item is not None}}
    merged["LogFormat"] = _enum(merged.get("LogFormat", "Text"), "loggingConfig.logFormat", ("Text", "JSON"))
    if merged["LogFormat"] == "JSON":
        merged["ApplicationLogLevel"] = _enum(
            merged.get("ApplicationLogLevel", "INFO"), "loggingConfig.applicationLogLevel", _LOG_LEVELS
        )
        merged["SystemLogLevel"] = _enum(
            merged.get("SystemLogLevel", "INFO"), "loggingConfig.systemLogLevel", ("DEBUG", "INFO", "WARN")
        )
    else:
        merged.pop("ApplicationLogLevel", None)
        merged.pop("SystemLogLevel", None)
    merged["LogGroup"] = _string(merged["LogGroup"], "loggingConfig.logGroup", 512)
    return merged


def _apply(config: Config, body: dict[str, Any]) -> Config:
    """``config`` with every configurable field present in ``body`` checked and replaced."""
    result = dict(config)
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


SNAP_START_RUNTIMES = ("python3.12", "python3.13", "python3.14", "provided.al2023", "provided.al2")


def _check_snap_start_runtime(config: Config) -> None:
    """SnapStart on Python needs python3.12 or later (Java and .NET are not run by Flare).

    Lambda offers SnapStart on managed runtimes only. Flare also accepts ``provided.al2023`` and
    ``provided.al2``, for functions whose ``bootstrap`` runs ``awslambdaric`` (the runtime
    client AWS's Python runtimes are built on): their snapshot is taken at the client's
    ``restore/next`` (``sandbox/snapshot.py``); any other client fails the publish, saying so."""
    applies = config.get("SnapStart", {}).get("ApplyOn") == "PublishedVersions"
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


def check_tags(value: object) -> dict[str, str]:
    tags = _object(value, "tags")
    if not all(isinstance(key, str) and isinstance(item, str) for key, item in tags.items()):
        raise InvalidParameterValue("Tags must map strings to strings.")
    return dict(tags)


def normalise_create(body: dict[str, Any]) -> Config:
    """The configuration a CreateFunction ``body`` asks for, with defaults filled in.

    Requires FunctionName (bare name or unqualified ARN) and Role; for the Zip package type also
    Runtime and Handler. ``PackageType: Image`` is rejected: Flare runs Zip packages only.
    Raises InvalidParameterValue.
    """
    raw_name = body.get("FunctionName")
    if not isinstance(raw_name, str):
        raise InvalidParameterValue("FunctionName is required.")
    name, qualifier = parse_function_name(raw_name, None)
    if qualifier is not None:
        raise InvalidParameterValue("A function name with a qualifier cannot be created.")
    package_type = body.get("PackageType") or "Zip"
    if package_type != "Zip":
        raise InvalidParameterValue(
            f"Flare runs Zip packages only; PackageType {package_type} is not supported."
        )
    if not body.get("Role"):
        raise InvalidParameterValue("Role is required.")
    if not body.get("Runtime") or not body.get("Handler"):
        raise InvalidParameterValue(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
        )
    return _apply(defaults(name), body)


def merge_update(current: Config, body: dict[str, Any]) -> Config:
    """``current`` with the fields an UpdateFunctionConfiguration ``body`` gives, checked.

    Fields the body leaves out keep their value; ``Environment`` is replaced whole when given.
    Raises InvalidParameterValue and leaves ``current`` untouched.
    """
    return _apply(current, body)
