"""What the engine needs to know about one function version to run it.

The control plane keeps each version's configuration in AWS's own wire shape
(``FunctionConfiguration``: ``FunctionName``, ``MemorySize``, ...). ``FunctionVersion`` is the
typed, immutable view of it that the placement and sandbox layers read: they never see a dict
from the wire.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flare.control import tenancy

LATEST = "$LATEST"
# A function's network, chosen with this tag at CreateFunction: "isolated" (loopback only) or
# "default" (the host's network, as on Lambda); absent, the server's --network applies.
NETWORK_TAG = "flare:network"

VersionKey = tuple[str, str, str, str | None]
"""Which environments may serve a version: (name, version, revision id, tenant id or None)."""

TENANT_VIEWS_KEPT = 4096
"""Tenant views a version keeps for reuse (``for_tenant``); past that they are made afresh."""


@dataclass(frozen=True)
class FunctionVersion:
    """One runnable version of a function (``$LATEST`` or a published number).

    ``revision_id`` changes whenever code or configuration changes, so environments started for
    an older revision are never reused for a newer one.

    A function with tenant isolation (``tenant_isolated``) is run through one view per tenant
    (``for_tenant``): ``tenant_id`` is part of ``key``, so environments of one tenant never
    serve another. ``key`` is computed once, at construction (it is read on every invoke), and
    each version keeps the views it made (a copy costs ~6 µs; a lookup, nothing).
    """

    name: str
    version: str
    function_arn: str
    runtime: str
    handler: str
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    environment: dict[str, str]
    code_sha256: str
    code_dir: Path
    revision_id: str
    region: str
    account_id: str
    architecture: str = "x86_64"
    # the directory the function sees as /opt: its layers merged in order (None: no layers)
    opt_dir: Path | None = None
    network: str | None = None
    snap_start: bool = False
    state: str = "Active"
    log_group_name: str = ""  # LoggingConfig.LogGroup; empty: Lambda's default
    log_format: str = "Text"  # LoggingConfig.LogFormat: Text or JSON
    application_log_level: str | None = None  # LoggingConfig.ApplicationLogLevel (JSON only)
    system_log_level: str | None = None  # LoggingConfig.SystemLogLevel (JSON only)
    tenant_isolated: bool = False
    tenant_id: str | None = None
    role: str = ""  # the execution role's ARN (``Role``): whose credentials its environments get
    # DurableConfig.ExecutionTimeout: an invoke starts a durable execution (None: not durable)
    durable_timeout_s: int | None = None
    durable_retention_days: int = 14  # DurableConfig.RetentionPeriodInDays: ended executions kept
    key: VersionKey = field(init=False, repr=False, compare=False)
    # tenant id => this version as run for that tenant (see ``for_tenant``)
    _tenant_views: dict[str, FunctionVersion] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.name, self.version, self.revision_id, self.tenant_id))

    def for_tenant(self, tenant_id: str) -> FunctionVersion:
        """This version as run for ``tenant_id``: the same configuration, its own environments
        (the same object for the same tenant, while this version keeps it)."""
        view = self._tenant_views.get(tenant_id)
        if view is None:
            if len(self._tenant_views) >= TENANT_VIEWS_KEPT:
                self._tenant_views.clear()
            view = self._tenant_views[tenant_id] = dataclasses.replace(self, tenant_id=tenant_id)
        return view

    @property
    def qualified_arn(self) -> str:
        return f"{self.function_arn}:{self.version}"

    @property
    def log_group(self) -> str:
        """The log group its environments write to: ``LoggingConfig.LogGroup``, by default
        ``/aws/lambda/<name>``."""
        return self.log_group_name or f"/aws/lambda/{self.name}"

    @classmethod
    def from_configuration(
        cls,
        config: dict[str, Any],
        code_dir: Path,
        region: str,
        account_id: str,
        tags: dict[str, str] | None = None,
        opt_dir: Path | None = None,
    ) -> FunctionVersion:
        """Build from a stored ``FunctionConfiguration`` dict (AWS field names); ``opt_dir`` is
        where its ``Layers`` were merged."""
        version = config.get("Version", LATEST)
        arn = config["FunctionArn"]
        logging = config.get("LoggingConfig") or {}
        unqualified = arn if version == LATEST or not arn.endswith(f":{version}") else arn.rsplit(":", 1)[0]
        return cls(
            name=config["FunctionName"],
            version=version,
            function_arn=unqualified,
            runtime=config.get("Runtime", ""),
            handler=config.get("Handler", ""),
            memory_mb=int(config.get("MemorySize", 128)),
            timeout_s=int(config.get("Timeout", 3)),
            ephemeral_mb=int(config.get("EphemeralStorage", {}).get("Size", 512)),
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            code_sha256=config.get("CodeSha256", ""),
            code_dir=code_dir,
            revision_id=config.get("RevisionId", ""),
            region=region,
            account_id=account_id,
            architecture=(config.get("Architectures") or ["x86_64"])[0],
            opt_dir=opt_dir,
            network=(tags or {}).get(NETWORK_TAG),
            snap_start=version != LATEST
            and config.get("SnapStart", {}).get("ApplyOn") == "PublishedVersions",
            state=config.get("State", "Active"),
            log_group_name=logging.get("LogGroup", ""),
            log_format=logging.get("LogFormat", "Text"),
            application_log_level=logging.get("ApplicationLogLevel"),
            system_log_level=logging.get("SystemLogLevel"),
            tenant_isolated=tenancy.isolated(config),
            role=config.get("Role", ""),
            durable_timeout_s=(config.get("DurableConfig") or {}).get("ExecutionTimeout"),
            durable_retention_days=int(
                (config.get("DurableConfig") or {}).get("RetentionPeriodInDays") or 14
            ),
        )
