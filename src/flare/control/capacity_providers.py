"""Lambda Managed Instances (capacity providers, function scaling configs): not supported by Flare.

Capacity providers run functions on EC2 instances of the account's VPC; Flare runs every
function on its own machine, and will place functions across nodes with its multi-node work
later. Until then each operation answers as AWS answers for a Flare that has no capacity
providers and cannot create one, with a message that says so:

* ``ListCapacityProviders``: 200 with no capacity providers;
* ``Get``/``Update``/``DeleteCapacityProvider``, ``ListFunctionVersionsByCapacityProvider``: 404
  ``ResourceNotFoundException`` "Capacity provider not found: <arn>", AWS's own answer for a
  name that does not exist;
* ``CreateCapacityProvider``: 400 ``InvalidParameterValueException`` (a request Flare cannot
  honour; CreateFunction's ``CapacityProviderConfig`` is refused the same way);
* ``Get``/``PutFunctionScalingConfig``: the function's ``ResourceNotFoundException`` when it or
  the version does not exist, else 400 ``InvalidParameterValueException``: no Flare function
  runs on a capacity provider, so none has a scaling config.
"""

from __future__ import annotations

from typing import Any

from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, ResourceNotFound

NOT_SUPPORTED = "Flare does not support Lambda Managed Instances (capacity providers)."


class CapacityProviders:
    """The capacity provider and function scaling config operations. See the module docstring."""

    def __init__(self, registry: Registry, region: str, account_id: str) -> None:
        self._registry = registry
        self._region = region
        self._account_id = account_id

    def __repr__(self) -> str:
        return "<CapacityProviders none>"

    def arn(self, name: str) -> str:
        """The ARN of capacity provider ``name`` (a name or an ARN already)."""
        if name.startswith("arn:"):
            return name
        return f"arn:aws:lambda:{self._region}:{self._account_id}:capacity-provider:{name}"

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """CreateCapacityProvider: always InvalidParameterValue."""
        raise InvalidParameterValue(f"{NOT_SUPPORTED} Capacity providers cannot be created.")

    def missing(self, name: str) -> ResourceNotFound:
        """The answer to Get/Update/Delete/ListFunctionVersionsBy of capacity provider ``name``."""
        return ResourceNotFound(f"Capacity provider not found: {self.arn(name)}. {NOT_SUPPORTED}")

    def list(self) -> dict[str, Any]:
        """ListCapacityProviders: there are none."""
        return {"CapacityProviders": []}

    def scaling_config(self, function_name: str, qualifier: str | None) -> InvalidParameterValue:
        """The answer to Get/PutFunctionScalingConfig. Raises ResourceNotFound for a function or
        version that does not exist; else returns the error to raise."""
        name, version = self._registry.locate(function_name, qualifier)
        shown = name if version is None else f"{name}:{version}"
        return InvalidParameterValue(
            f"{NOT_SUPPORTED} Function {shown} does not run on a capacity provider, so it has no function "
            "scaling config."
        )
