"""What AWS shows of a stored function configuration, operation by operation.

The registry keeps each version's ``FunctionConfiguration`` with AWS's field names; this module
turns it into the body an operation answers:

* fields in the order of the model's ``FunctionConfiguration`` shape (the order AWS writes them);
* ``Layers`` left out while empty, as AWS leaves it out;
* ``RuntimeVersionConfig`` added: the ARN of the runtime version that runs the function,
  ``arn:aws:lambda:<region>::runtime:<64 hex>`` as on AWS. Flare's runtime version of a runtime
  is a digest of the runtime's name and Flare's own version, so it changes when Flare's runtime
  does (AWS changes it when it patches the runtime);
* ListFunctions and ListVersionsByFunction show a subset: AWS leaves out ``State``,
  ``StateReason``, ``StateReasonCode``, ``LastUpdateStatus``, ``LastUpdateStatusReason``,
  ``LastUpdateStatusReasonCode`` and ``RuntimeVersionConfig`` there (its ListFunctions
  reference says so: GetFunction has them).

Every answer is a deep copy: callers may change it. All functions here are pure.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Mapping
from typing import Any

from botocore.model import StructureShape

from flare import __version__
from flare.specs.models import service_model

LISTING_LEAVES_OUT = frozenset(
    {
        "State",
        "StateReason",
        "StateReasonCode",
        "LastUpdateStatus",
        "LastUpdateStatusReason",
        "LastUpdateStatusReasonCode",
        "RuntimeVersionConfig",
    }
)
_LEFT_OUT_WHEN_EMPTY = ("Layers",)


@functools.cache
def _order() -> dict[str, int]:
    shape = service_model("lambda").shape_for("FunctionConfiguration")
    assert isinstance(shape, StructureShape)
    return {name: index for index, name in enumerate(shape.members)}


def runtime_version_arn(region: str, runtime: str) -> str:
    """The ARN of the runtime version Flare runs ``runtime`` with, shaped as AWS's."""
    digest = hashlib.sha256(f"flare {__version__} {runtime}".encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def shown(config: Mapping[str, Any], region: str, listed: bool = False) -> dict[str, Any]:
    """The body AWS answers for ``config``: GetFunctionConfiguration's (and the other single
    function answers'), or with ``listed`` a ListFunctions / ListVersionsByFunction item."""
    view = {key: value for key, value in config.items() if not (key in _LEFT_OUT_WHEN_EMPTY and not value)}
    if config.get("Runtime"):
        view["RuntimeVersionConfig"] = {"RuntimeVersionArn": runtime_version_arn(region, config["Runtime"])}
    if listed:
        view = {key: value for key, value in view.items() if key not in LISTING_LEAVES_OUT}
    order = _order()
    return copy.deepcopy(dict(sorted(view.items(), key=lambda item: order.get(item[0], len(order)))))
