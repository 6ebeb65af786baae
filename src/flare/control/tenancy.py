"""Tenant isolation mode: ``TenancyConfig: {TenantIsolationMode: PER_TENANT}``, decided purely.

A function created with ``PER_TENANT`` serves each tenant (``X-Amz-Tenant-Id`` on Invoke) from
execution environments of that tenant's own: an environment serves only the tenant it first
served, and the pool keys environments by tenant (``FunctionVersion.for_tenant``). What Lambda
documents, and what this module decides:

* the mode is chosen at CreateFunction only and never changes (UpdateFunctionConfiguration has
  no such member; a raw request that tries is refused); published versions keep it;
* every invoke of an isolated function names a tenant, and no invoke of any other function
  does (both ``InvalidParameterValueException``);
* the mode cannot be combined with SnapStart, provisioned concurrency, function URLs or event
  source mappings (those pass no tenant), nor with Flare's keep-warm schedules; the
  configuration side of each is refused here, ``InvalidParameterValueException`` with a message
  naming the feature (an async invocation a destination makes passes no tenant either, and is
  refused like any other);
* concurrency is counted as for any function (one per invocation in flight, against the
  function's reservation or the account), and on top of it a function may have at most 2,500
  tenant environments, busy or idle, for every 1,000 concurrent executions it may run: a new
  tenant environment past that is throttled (429 ``TooManyRequestsException``).

AWS documents the errors by name, not their exact messages; the messages here are Flare's.
All functions here are pure.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from flare.errors import InvalidParameterValue, TooManyRequests

PER_TENANT = "PER_TENANT"
ENVIRONMENTS_PER_1000 = 2500
THROTTLE_REASON = "FunctionInvocationRateLimitExceeded"

MISSING_TENANT = (
    "The function has tenant isolation mode PER_TENANT: every invocation must specify a tenant "
    "ID (X-Amz-Tenant-Id)."
)
UNEXPECTED_TENANT = "A tenant ID was specified, but tenant isolation mode is not enabled for this function."
IMMUTABLE = "TenancyConfig cannot be changed: tenant isolation mode is set when a function is created."


class Feature(enum.Enum):
    """What a tenant-isolated function cannot have, with the refusal's wording."""

    SNAP_START = "SnapStart"
    PROVISIONED_CONCURRENCY = "Provisioned Concurrency"
    FUNCTION_URL = "Function URLs"
    EVENT_SOURCE_MAPPING = "Event source mappings"
    SCHEDULE = "Keep-warm schedules"  # Flare's own: its invokes, like EventBridge's, pass no tenant

    @property
    def refusal(self) -> str:
        return f"{self.value} cannot be used with a function that has tenant isolation mode PER_TENANT."


def isolated(config: Mapping[str, Any]) -> bool:
    """Whether a stored ``FunctionConfiguration`` has tenant isolation mode ``PER_TENANT``."""
    return (config.get("TenancyConfig") or {}).get("TenantIsolationMode") == PER_TENANT


def refuse(feature: Feature, tenant_isolated: bool) -> None:
    """Raise InvalidParameterValue when ``feature`` is asked of a tenant-isolated function."""
    if tenant_isolated:
        raise InvalidParameterValue(feature.refusal)


def check_function_url(config: Mapping[str, Any]) -> None:
    """CreateFunctionUrlConfig on the function whose configuration is ``config`` (as
    ``Registry.get_configuration`` answers it): raises InvalidParameterValue when it is
    tenant-isolated. For the function URL side to call before it stores anything."""
    refuse(Feature.FUNCTION_URL, isolated(config))


def tenancy_config(body: Mapping[str, Any]) -> dict[str, str] | None:
    """The ``TenancyConfig`` a CreateFunction ``body`` asks for, as stored and shown (None: the
    function is not isolated). The model has already checked the member's shape and enum."""
    given = body.get("TenancyConfig")
    if not given:
        return None
    return {"TenantIsolationMode": given["TenantIsolationMode"]}


def check_configuration(config: Mapping[str, Any]) -> None:
    """A configuration about to be stored (created or updated): SnapStart on published versions
    cannot be combined with tenant isolation. Raises InvalidParameterValue."""
    snap_start = (config.get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions"
    refuse(Feature.SNAP_START, snap_start and isolated(config))


def check_update(current: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    """An UpdateFunctionConfiguration ``body`` may not change ``current``'s ``TenancyConfig``
    (the model has no such member, so nothing has checked its shape; a raw request may still
    send one): anything but the stored value is refused. Raises InvalidParameterValue."""
    if "TenancyConfig" in body and body["TenancyConfig"] != current.get("TenancyConfig"):
        raise InvalidParameterValue(IMMUTABLE)


def check_invocation(tenant_isolated: bool, tenant_id: str | None) -> None:
    """An invocation of a function (isolated or not) with ``tenant_id`` (None: no
    ``X-Amz-Tenant-Id``). Raises InvalidParameterValue when one is missing or unwanted."""
    if tenant_isolated and tenant_id is None:
        raise InvalidParameterValue(MISSING_TENANT)
    if not tenant_isolated and tenant_id is not None:
        raise InvalidParameterValue(UNEXPECTED_TENANT)


def environment_limit(concurrency: int) -> int:
    """How many tenant environments (busy or idle) a function that may run ``concurrency``
    invocations at once may have: 2,500 for every 1,000."""
    return max(0, concurrency) * ENVIRONMENTS_PER_1000 // 1000


def check_new_environment(live: int, concurrency: int) -> None:
    """A tenant-isolated function with ``live`` tenant environments needs one more. Raises
    TooManyRequests when that would pass ``environment_limit(concurrency)``."""
    if live >= environment_limit(concurrency):
        raise TooManyRequests(THROTTLE_REASON)
