"""Deployers of ``AWS::Lambda::*`` resources through Flare's Lambda API (boto3).

Each deployer takes the run, a logical id and the resource's resolved properties; reads what
Flare has, decides with ``plan.decide``, writes only when the run executes and something
differs, and returns the plan's row and the attributes other resources may reference.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

from flare.build import manifest as manifests
from flare.build.package import built_line
from flare.cli.deploy import WAITER_CONFIG, load_code, not_skipped
from flare.cli.watch import BUILD_VARIABLE, HOT_RELOAD_BUCKET
from flare.control.tree_zip import ZIP_EPOCH
from flare.errors import TemplateRefused
from flare.projects.intrinsic import UNKNOWN
from flare.projects.plan import (
    Action,
    Change,
    configuration_request,
    current_function_fields,
    decide,
    function_fields,
    mapping_fields,
)
from flare.projects.stack_run import OWNER_TAG, StackRun, split_function

DEFAULT_ROLE_NAME = "flare"  # as ``flare deploy NAME PATH``'s default role
Deployed = tuple[Change, dict[str, Any]]


# the error codes of "no such resource" from Flare's Lambda, SQS and Kinesis APIs
NOT_FOUND = frozenset(
    {
        "ResourceNotFoundException",
        "ProvisionedConcurrencyConfigNotFoundException",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
    }
)


def _missing(exc: BaseException) -> bool:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "") in NOT_FOUND


def read_or_none(call: Any, **arguments: Any) -> dict[str, Any] | None:
    """``call(**arguments)``'s answer, or None when it answers that the resource is not found."""
    from botocore.exceptions import ClientError

    try:
        answer: dict[str, Any] = call(**arguments)
    except ClientError as exc:
        if not _missing(exc):
            raise
        return None
    return answer


def code_sha256(code: bytes) -> str:
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def function_code(run: StackRun, logical_id: str, properties: dict[str, Any]) -> bytes:
    """The zip a function's ``Code`` stands for: its local directory (built by ``run.builder``,
    when there is one, for the function's runtime and architecture; under ``run.watch`` the
    snapshot the server takes of it) or zip, or its inline ``ZipFile`` source as ``index.py`` /
    ``index.js`` (as CloudFormation names it)."""
    code = properties.get("Code")
    path = run.template.code_path(code)
    if path is not None and path.is_dir() and run.watch:
        return _watched_snapshot(run, path, properties)
    if path is not None and path.is_dir() and run.builder is not None:
        architecture = str((properties.get("Architectures") or ["x86_64"])[0])
        runtime = str(properties.get("Runtime", ""))
        return run.builder.package(path, not_skipped, runtime, architecture, logical_id)
    if path is not None:
        return load_code(path)
    if isinstance(code, dict) and isinstance(code.get("ZipFile"), str):
        name = "index.js" if str(properties.get("Runtime", "")).startswith("nodejs") else "index.py"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = 0o100644 << 16
            archive.writestr(info, code["ZipFile"])
        return buffer.getvalue()
    raise TemplateRefused(f"{logical_id}: give its code as a local path (CodeUri) or InlineCode")


def _watched_snapshot(run: StackRun, directory: Path, properties: dict[str, Any]) -> bytes:
    """What the server's snapshot of a bound ``directory`` will be (its globs, and the
    dependencies ``run.builder`` installs into the cache first), so an unchanged binding plans
    as no change."""
    from flare.control import hot_reload

    variables = (properties.get("Environment") or {}).get("Variables") or {}
    runtime = str(properties.get("Runtime", ""))
    target = hot_reload.build_target(
        runtime, str((properties.get("Architectures") or ["x86_64"])[0]), variables
    )
    installed = None
    if target is not None and run.builder is not None:
        found = manifests.find(directory, runtime)
        if found is not None:
            built = run.builder.cache.ensure(found, directory, runtime, target.architecture)
            run.builder.echo(built_line(directory.name, found.name, built))
            installed = built.path
    return hot_reload.snapshot(
        directory, hot_reload.globs_of(variables), hot_reload.HotReloadPolicy(), installed
    )


def watched_directory(run: StackRun, code: object) -> Path | None:
    """The directory a function's ``Code`` (a layer's ``Content``) is bound to under
    ``run.watch``; None when not watching or the code is not a local directory."""
    path = run.template.code_path(code)
    return path if run.watch and path is not None and path.is_dir() else None


def deploy_function(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed:
    """``AWS::Lambda::Function``: create, or update code, configuration and reserved concurrency
    (each only when it differs)."""
    name = str(properties.get("FunctionName") or run.name(logical_id))
    code = function_code(run, logical_id, properties)
    fields = function_fields(properties)
    fields["Role"] = fields["Role"] or f"arn:aws:iam::{run.account}:role/{DEFAULT_ROLE_NAME}"
    if run.builder is None and watched_directory(run, properties.get("Code")) is not None:
        fields["Environment"][BUILD_VARIABLE] = "false"  # --no-build: the server builds none either
    desired = {
        **fields,
        "CodeSha256": code_sha256(code),
        "ReservedConcurrentExecutions": properties.get("ReservedConcurrentExecutions"),
    }
    current = _current_function(read_or_none(run.lam.get_function, FunctionName=name))
    action, details = decide(desired, current)
    run.functions[name] = logical_id
    source = _code_source(run, properties.get("Code"), code)
    if action is not Action.NO_CHANGE:
        run.changed_functions.add(name)
        if run.execute:
            _write_function(run, name, source, fields, desired["ReservedConcurrentExecutions"], details)
    elif run.execute and "S3Bucket" in source:  # bound before, or not: bind (again) to be sure
        run.lam.update_function_code(FunctionName=name, **source)
        run.lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
    change = Change(action, logical_id, "AWS::Lambda::Function", details)
    return change, {"Ref": name, "Arn": run.function_arn(name)}


def _code_source(run: StackRun, code: object, data: bytes) -> dict[str, Any]:
    """The code fields of a create / update: the hot-reload binding of the watched directory
    (``watched_directory``), else ``ZipFile``."""
    directory = watched_directory(run, code)
    return {"ZipFile": data} if directory is None else _hot_source(directory)


def _current_function(answer: dict[str, Any] | None) -> dict[str, Any] | None:
    """GetFunction's answer as ``deploy_function``'s desired fields; None for no function."""
    if answer is None:
        return None
    concurrency = answer.get("Concurrency") or {}
    return {
        **current_function_fields(answer["Configuration"]),
        "CodeSha256": answer["Configuration"].get("CodeSha256"),
        "ReservedConcurrentExecutions": concurrency.get("ReservedConcurrentExecutions"),
    }


def _write_function(
    run: StackRun,
    name: str,
    source: dict[str, Any],
    fields: dict[str, Any],
    reserved: int | None,
    details: tuple[str, ...],
) -> None:
    """Create ``name`` (``details`` empty: it does not exist) or update what ``details`` names;
    ``source`` is its code (``_code_source``)."""
    request = configuration_request(fields)
    if not details:
        tags = {OWNER_TAG: run.owner}
        run.lam.create_function(FunctionName=name, Code=source, Publish=False, Tags=tags, **request)
        run.lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
    else:
        if "CodeSha256" in details or "Architectures" in details or "S3Bucket" in source:
            run.lam.update_function_code(FunctionName=name, Architectures=fields["Architectures"], **source)
            run.lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
        if set(details) & (set(fields) - {"Architectures"}):
            request.pop("Architectures")
            run.lam.update_function_configuration(FunctionName=name, **request)
            run.lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
    if reserved is not None and (not details or "ReservedConcurrentExecutions" in details):
        run.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    elif reserved is None and "ReservedConcurrentExecutions" in details:
        run.lam.delete_function_concurrency(FunctionName=name)


def deploy_version(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed:
    """``AWS::Lambda::Version``: publish when ``$LATEST`` differs from the newest version."""
    name, _ = split_function(str(properties["FunctionName"]))
    newest = None if name in run.changed_functions else _newest_version_if_current(run, name)
    resource = "AWS::Lambda::Version"
    if newest is not None:
        return Change(Action.NO_CHANGE, logical_id, resource), _version_attributes(run, name, newest)
    version: Any = UNKNOWN
    if run.execute:
        published = run.lam.publish_version(FunctionName=name, Description=properties.get("Description", ""))
        version = published["Version"]
    return Change(Action.ADD, logical_id, resource), _version_attributes(run, name, version)


def _version_attributes(run: StackRun, name: str, version: Any) -> dict[str, Any]:
    arn = UNKNOWN if version is UNKNOWN else f"{run.function_arn(name)}:{version}"
    return {"Ref": arn, "Version": version}


def _newest_version_if_current(run: StackRun, name: str) -> str | None:
    """The newest published version of ``name`` when it matches ``$LATEST``'s code and
    configuration; else None."""
    versions: list[dict[str, Any]] = []
    for page in run.lam.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        versions += page["Versions"]
    latest = next((v for v in versions if v["Version"] == "$LATEST"), None)
    published = [v for v in versions if v["Version"] != "$LATEST"]
    if latest is None or not published:
        return None
    newest = max(published, key=lambda v: int(v["Version"]))
    same = current_function_fields(newest) == current_function_fields(latest)
    return str(newest["Version"]) if same and newest["CodeSha256"] == latest["CodeSha256"] else None


def deploy_alias(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed:
    """``AWS::Lambda::Alias`` with its ``ProvisionedConcurrencyConfig``."""
    function, _ = split_function(str(properties["FunctionName"]))
    alias = str(properties["Name"])
    provisioned = (properties.get("ProvisionedConcurrencyConfig") or {}).get(
        "ProvisionedConcurrentExecutions"
    )
    desired = {
        "FunctionVersion": properties["FunctionVersion"],
        "Description": properties.get("Description", ""),
        "ProvisionedConcurrency": provisioned,
    }
    found = read_or_none(run.lam.get_alias, FunctionName=function, Name=alias)
    current: dict[str, Any] | None = None
    if found is not None:
        config = read_or_none(
            run.lam.get_provisioned_concurrency_config, FunctionName=function, Qualifier=alias
        )
        current = {
            "FunctionVersion": found["FunctionVersion"],
            "Description": found.get("Description", ""),
            "ProvisionedConcurrency": (config or {}).get("RequestedProvisionedConcurrentExecutions"),
        }
    action, details = decide(desired, current)
    if run.execute and action is not Action.NO_CHANGE:
        _write_alias(run, function, alias, desired, action)
    attributes = {
        "Ref": f"{run.function_arn(function)}:{alias}",
        "AliasArn": f"{run.function_arn(function)}:{alias}",
    }
    return Change(action, logical_id, "AWS::Lambda::Alias", details), attributes


def _write_alias(run: StackRun, function: str, alias: str, desired: dict[str, Any], action: Action) -> None:
    write = run.lam.create_alias if action is Action.ADD else run.lam.update_alias
    write(
        FunctionName=function,
        Name=alias,
        FunctionVersion=str(desired["FunctionVersion"]),
        Description=desired["Description"],
    )
    if desired["ProvisionedConcurrency"]:
        run.lam.put_provisioned_concurrency_config(
            FunctionName=function,
            Qualifier=alias,
            ProvisionedConcurrentExecutions=int(desired["ProvisionedConcurrency"]),
        )
    elif action is Action.MODIFY:
        read_or_none(run.lam.delete_provisioned_concurrency_config, FunctionName=function, Qualifier=alias)


def deploy_mapping(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed:
    """``AWS::Lambda::EventSourceMapping``, found by its source and (qualified) function."""
    source = str(properties["EventSourceArn"])
    name, qualifier = split_function(str(properties["FunctionName"]))
    target = run.function_arn(name) + (f":{qualifier}" if qualifier else "")
    fields = mapping_fields(properties)
    existing = next((m for m in _mappings(run, source) if m.get("FunctionArn") == target), None)
    current = None if existing is None else _current_mapping(existing, fields)
    action, details = decide(fields, current)
    uuid: Any = existing["UUID"] if existing is not None else UNKNOWN
    if run.execute and action is Action.ADD:
        uuid = run.lam.create_event_source_mapping(**properties)["UUID"]
    elif run.execute and action is Action.MODIFY:
        run.lam.update_event_source_mapping(UUID=uuid, **{key: fields[key] for key in details})
    if isinstance(uuid, str):
        run.kept_mappings.add(uuid)
    return Change(action, logical_id, "AWS::Lambda::EventSourceMapping", details), {"Ref": uuid}


def _mappings(run: StackRun, source: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in run.lam.get_paginator("list_event_source_mappings").paginate(EventSourceArn=source):
        found += page["EventSourceMappings"]
    return found


def _current_mapping(mapping: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    current = {key: mapping.get(key) for key in fields}
    current["Enabled"] = mapping.get("State") not in ("Disabled", "Disabling")
    current["FunctionResponseTypes"] = mapping.get("FunctionResponseTypes") or []
    return current


def deploy_layer(run: StackRun, logical_id: str, properties: dict[str, Any]) -> Deployed:
    """``AWS::Lambda::LayerVersion``: publish when the newest version's content or settings differ."""
    name = str(properties.get("LayerName") or run.name(logical_id))
    path = run.template.code_path(properties.get("Content"))
    if path is None:
        raise TemplateRefused(f"{logical_id}: give the layer's content as a local path (ContentUri)")
    watched = watched_directory(run, properties.get("Content"))
    content = load_code(path) if watched is None else b""  # the server snapshots a watched one
    desired = {
        # bound under watch: published again, as whether the newest version is bound is unknown
        "CodeSha256": code_sha256(content) if watched is None else f"hot reload of {watched}",
        "Description": properties.get("Description", ""),
        "CompatibleRuntimes": sorted(properties.get("CompatibleRuntimes") or []),
    }
    newest, current = _newest_layer(run, name)
    action, details = decide(desired, current)
    arn: Any = newest if newest is not None else UNKNOWN
    if action is not Action.NO_CHANGE:
        arn = UNKNOWN
        if run.execute:
            extra = {
                key: properties[key]
                for key in ("CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo")
                if key in properties
            }
            source = {"ZipFile": content} if watched is None else _hot_source(watched)
            arn = run.lam.publish_layer_version(LayerName=name, Content=source, **extra)["LayerVersionArn"]
    return Change(action, logical_id, "AWS::Lambda::LayerVersion", details), {
        "Ref": arn,
        "LayerVersionArn": arn,
    }


def _hot_source(directory: Path) -> dict[str, Any]:
    return {"S3Bucket": HOT_RELOAD_BUCKET, "S3Key": str(directory)}


def _newest_layer(run: StackRun, name: str) -> tuple[str | None, dict[str, Any] | None]:
    """The ARN of layer ``name``'s newest version and its comparable settings; Nones if none."""
    versions = (read_or_none(run.lam.list_layer_versions, LayerName=name) or {}).get("LayerVersions") or []
    newest = max(versions, key=lambda v: int(v["Version"]), default=None)
    if newest is None:
        return None, None
    found = run.lam.get_layer_version(LayerName=name, VersionNumber=newest["Version"])
    current = {
        "CodeSha256": found["Content"]["CodeSha256"],
        "Description": found.get("Description", ""),
        "CompatibleRuntimes": sorted(found.get("CompatibleRuntimes") or []),
    }
    return str(newest["LayerVersionArn"]), current
