"""Code signing configs: the resource, the function bindings, and what they do to deployments.

A code signing config names the AWS Signer profiles whose signatures a function's code must
carry (``AllowedPublishers``) and what happens to code that does not pass
(``CodeSigningPolicies.UntrustedArtifactOnDeployment``: ``Warn``, the default, or ``Enforce``).
A function uses at most one, from CreateFunction's ``CodeSigningConfigArn`` or
PutFunctionCodeSigningConfig; a config in use cannot be deleted.

Flare stores and answers all of it as AWS does, but it cannot verify Signer signatures (a
signature comes from AWS Signer with the S3 object of the code; Flare takes the zip itself), so
to Flare all code is unsigned. That decides deployments as AWS decides them for unsigned code:
under ``Enforce``, CreateFunction and UpdateFunctionCode of a function using the config are
refused with ``CodeVerificationFailedException``; under ``Warn`` the code is deployed and a
warning is logged. Binding a config to a function checks nothing about the code already there,
as on AWS. This class is the registry's ``DeployGuard`` for that.

Contract: called from one thread (the event loop's), like the registry.
"""

from __future__ import annotations

import copy
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from flare.clock import Clock
from flare.control import page
from flare.control.arns import function_arn, parse_function_name
from flare.control.registry import Registry, format_last_modified
from flare.control.tags import ResourceArn, check_new
from flare.errors import (
    CodeSigningConfigNotFound,
    CodeVerificationFailed,
    InvalidParameterValue,
    ResourceConflict,
    ResourceNotFound,
)
from flare.store.code_signing import CodeSigningRow
from flare.store.storage import CodeSigningStorage

log = logging.getLogger("flare.code_signing")

WARN = "Warn"
ENFORCE = "Enforce"


def not_found(arn: str) -> ResourceNotFound:
    return ResourceNotFound(f"The Lambda code signing configuration {arn} can not be found.")


def verification_failed(function: str) -> CodeVerificationFailed:
    return CodeVerificationFailed(
        "Lambda cannot deploy the function. The function or layer might be signed using a signature "
        f"that the client is not configured to accept. Check the provided signature for {function}."
    )


def _publishers(value: object) -> dict[str, list[str]]:
    arns = value.get("SigningProfileVersionArns") if isinstance(value, dict) else None
    if not isinstance(arns, list) or not arns:
        raise InvalidParameterValue(
            "1 validation error detected: Value null at 'allowedPublishers.signingProfileVersionArns' "
            "failed to satisfy constraint: Member must not be null"
        )
    return {"SigningProfileVersionArns": [str(arn) for arn in arns]}


def _policies(value: object) -> dict[str, str]:
    given = value.get("UntrustedArtifactOnDeployment") if isinstance(value, dict) else None
    return {"UntrustedArtifactOnDeployment": str(given or WARN)}


class CodeSigning:
    """Every code signing config and which function uses which. See the module docstring."""

    def __init__(
        self, store: CodeSigningStorage, registry: Registry, clock: Clock, region: str, account_id: str
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._region = region
        self._account_id = account_id
        self._configs: dict[str, CodeSigningRow] = {}  # id => row, in creation order
        self._bindings: dict[str, str] = {}  # function name => config id

    def __repr__(self) -> str:
        return f"<CodeSigning configs={len(self._configs)} bound={len(self._bindings)}>"

    def load(self) -> None:
        """Fill the caches from the store. Call once at start."""
        self._configs = {row.id: row for row in self._store.configs()}
        self._bindings = self._store.bindings()

    # -- the configs ------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """CreateCodeSigningConfig's body. Raises InvalidParameterValue."""
        config_id = "csc-" + secrets.token_hex(9)[:17]
        arn = f"arn:aws:lambda:{self._region}:{self._account_id}:code-signing-config:{config_id}"
        config = {
            "CodeSigningConfigId": config_id,
            "CodeSigningConfigArn": arn,
            "Description": str(body.get("Description") or ""),
            "AllowedPublishers": _publishers(body.get("AllowedPublishers")),
            "CodeSigningPolicies": _policies(body.get("CodeSigningPolicies")),
            "LastModified": format_last_modified(self._clock.wall()),
        }
        row = CodeSigningRow(config_id, config, check_new({}, body.get("Tags") or {}))
        self._configs[config_id] = self._store.put_config(row)
        return {"CodeSigningConfig": copy.deepcopy(config)}

    def get(self, arn: str) -> dict[str, Any]:
        """GetCodeSigningConfig's body. Raises ResourceNotFound."""
        return {"CodeSigningConfig": copy.deepcopy(self._existing(arn).config)}

    def update(self, arn: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """UpdateCodeSigningConfig: the fields given change. Raises ResourceNotFound,
        InvalidParameterValue."""
        row = self._existing(arn)
        config = copy.deepcopy(row.config)
        if body.get("Description") is not None:
            config["Description"] = str(body["Description"])
        if body.get("AllowedPublishers") is not None:
            config["AllowedPublishers"] = _publishers(body["AllowedPublishers"])
        if body.get("CodeSigningPolicies") is not None:
            config["CodeSigningPolicies"] = _policies(body["CodeSigningPolicies"])
        config["LastModified"] = format_last_modified(self._clock.wall())
        self._configs[row.id] = self._store.put_config(CodeSigningRow(row.id, config, row.tags, row.seq))
        return {"CodeSigningConfig": copy.deepcopy(config)}

    def delete(self, arn: str) -> None:
        """DeleteCodeSigningConfig. Raises ResourceNotFound, ResourceConflict (in use)."""
        row = self._existing(arn)
        if row.id in self._bindings.values():
            raise ResourceConflict(
                f"The code signing configuration {arn} cannot be deleted because it is used by one or more "
                "functions."
            )
        self._store.delete_config(row.id)
        del self._configs[row.id]

    def list(self, marker: str | None, max_items: int | None) -> dict[str, Any]:
        """ListCodeSigningConfigs' body, oldest first; ``NextMarker`` is the last id shown."""
        ids = list(self._configs)
        if marker:
            ids = ids[ids.index(marker) + 1 :] if marker in ids else []
        shown = ids[: page.limit(max_items)]
        body: dict[str, Any] = {"CodeSigningConfigs": [copy.deepcopy(self._configs[i].config) for i in shown]}
        if len(ids) > len(shown):
            body["NextMarker"] = shown[-1]
        return body

    # -- which function uses which ----------------------------------------------------------

    def put_function(self, function_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PutFunctionCodeSigningConfig's body. Raises CodeSigningConfigNotFound,
        ResourceNotFound (function)."""
        row = self._named(body.get("CodeSigningConfigArn"))
        name = self._function(function_name)
        self._store.bind(name, row.id)
        self._bindings[name] = row.id
        return {"CodeSigningConfigArn": row.config["CodeSigningConfigArn"], "FunctionName": name}

    def get_function(self, function_name: str) -> dict[str, Any]:
        """GetFunctionCodeSigningConfig's body: ``{}`` when the function uses none.
        Raises ResourceNotFound."""
        name = self._function(function_name)
        config_id = self._bindings.get(name)
        if config_id is None:
            return {}
        return {
            "CodeSigningConfigArn": self._configs[config_id].config["CodeSigningConfigArn"],
            "FunctionName": name,
        }

    def delete_function(self, function_name: str) -> None:
        """DeleteFunctionCodeSigningConfig (nothing to delete is not an error). Raises
        ResourceNotFound."""
        self._unbind(self._function(function_name))

    def list_functions(self, arn: str, marker: str | None, max_items: int | None) -> dict[str, Any]:
        """ListFunctionsByCodeSigningConfig's body: unqualified ARNs by name; ``NextMarker`` is
        the last name shown. Raises ResourceNotFound."""
        row = self._existing(arn)
        names = sorted(name for name, config_id in self._bindings.items() if config_id == row.id)
        if marker:
            names = [name for name in names if name > marker]
        shown = names[: page.limit(max_items)]
        body: dict[str, Any] = {"FunctionArns": [self._function_arn(name) for name in shown]}
        if len(names) > len(shown):
            body["NextMarker"] = shown[-1]
        return body

    # -- DeployGuard and listeners ----------------------------------------------------------

    def check_create(self, name: str, body: Mapping[str, Any]) -> None:
        """CreateFunction with ``CodeSigningConfigArn``: the config must exist; under Enforce
        the (unsigned) code is refused."""
        if body.get("CodeSigningConfigArn") is not None:
            self._verify(name, self._named(body["CodeSigningConfigArn"]))

    def created(self, name: str, body: Mapping[str, Any]) -> None:
        if body.get("CodeSigningConfigArn") is not None:
            row = self._named(body["CodeSigningConfigArn"])
            self._store.bind(name, row.id)
            self._bindings[name] = row.id

    def check_code_update(self, name: str) -> None:
        config_id = self._bindings.get(name)
        if config_id is not None:
            self._verify(name, self._configs[config_id])

    def function_changed(self, name: str, version: str | None) -> None:
        """Version listener: a deleted function no longer uses its config."""
        if version is None:
            self._unbind(name)

    # -- TagBackend -------------------------------------------------------------------------

    def tags(self, resource: ResourceArn) -> dict[str, str]:
        return dict(self._existing(resource.arn).tags)

    def replace_tags(self, resource: ResourceArn, tags: Mapping[str, str]) -> None:
        row = self._existing(resource.arn)
        self._configs[row.id] = self._store.put_config(
            CodeSigningRow(row.id, row.config, dict(tags), row.seq)
        )

    # -- internals --------------------------------------------------------------------------

    def _existing(self, arn: str) -> CodeSigningRow:
        row = self._configs.get(arn.rsplit(":", 1)[-1])
        if row is None or row.config["CodeSigningConfigArn"] != arn:
            raise not_found(arn)
        return row

    def _named(self, arn: object) -> CodeSigningRow:
        """The config a function is to use; CodeSigningConfigNotFound when there is none."""
        try:
            return self._existing(str(arn))
        except ResourceNotFound:
            raise CodeSigningConfigNotFound(
                "The code signing configuration cannot be found. Check that the provided configuration is "
                f"not deleted: {arn}."
            ) from None

    def _function(self, function_name: str) -> str:
        name, _ = parse_function_name(function_name, None)
        if not self._registry.has_function(name):
            raise ResourceNotFound(f"Function not found: {self._function_arn(name)}")
        return name

    def _function_arn(self, name: str) -> str:
        return function_arn(self._region, self._account_id, name)

    def _verify(self, name: str, row: CodeSigningRow) -> None:
        if row.config["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"] == ENFORCE:
            raise verification_failed(self._function_arn(name))
        log.warning("deploying unsigned code to %s (code signing config %s: Warn)", name, row.id)

    def _unbind(self, name: str) -> None:
        if self._bindings.pop(name, None) is not None:
            self._store.unbind(name)
