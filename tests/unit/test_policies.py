"""FunctionPolicies over a real registry: what the IAM evaluator reads, and what goes with what."""

from __future__ import annotations

from pathlib import Path

import pytest

from flare.control import permissions
from flare.control.permissions import Caller
from flare.control.policies import FunctionPolicies
from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, ResourceNotFound
from flare.scope import Scope
from flare.store.policies import PolicyStore
from tests.unit.test_registry import create_body, database_of, open_registry

SCOPE = Scope("000000000000", "us-east-1")

FN = "arn:aws:lambda:us-east-1:000000000000:function:fn"
INVOKE = "lambda:InvokeFunction"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return open_registry(tmp_path)


@pytest.fixture
def policies(tmp_path: Path, registry: Registry) -> FunctionPolicies:
    found = FunctionPolicies(PolicyStore(database_of(registry), SCOPE), registry, "us-east-1", "000000000000")
    registry.add_version_listener(found.function_changed)
    registry.add_alias_listener(found.alias_deleted)
    found.load()
    return found


def grant(
    policies: FunctionPolicies, name: str, sid: str, principal: str, qualifier: str | None = None
) -> None:
    body = {"StatementId": sid, "Action": INVOKE, "Principal": principal}
    policies.add_permission(name, qualifier, body)


def test_statements_are_what_the_evaluator_reads(registry: Registry, policies: FunctionPolicies) -> None:
    registry.create_function(create_body())
    assert policies.statements("fn", None) == []
    grant(policies, "fn", "partner", "123456789012")
    statements = policies.statements("fn", None)
    partner = Caller(arn="arn:aws:iam::123456789012:role/app")
    stranger = Caller(arn="arn:aws:iam::999999999999:role/app")
    assert permissions.allows(statements, partner, INVOKE, FN)
    assert not permissions.allows(statements, stranger, INVOKE, FN)
    statements[0]["Principal"] = "*"
    assert not permissions.allows(policies.statements("fn", None), stranger, INVOKE, FN)


def test_latest_is_refused_before_the_function_is_looked_up(policies: FunctionPolicies) -> None:
    with pytest.raises(InvalidParameterValue, match=r"adding policies for \$LATEST"):
        grant(policies, "no-such-function", "s", "*", "$LATEST")


def test_policies_go_with_their_version_alias_and_function(
    tmp_path: Path, registry: Registry, policies: FunctionPolicies
) -> None:
    registry.create_function(create_body())
    version = registry.publish_version("fn", {})["Version"]
    registry.create_alias("fn", {"Name": "live", "FunctionVersion": version})
    for qualifier in (None, version, "live"):
        grant(policies, "fn", "s", "*", qualifier)
    registry.delete_alias("fn", "live")
    assert policies.statements("fn", "live") == []
    assert policies.statements("fn", version) != []
    reopened = FunctionPolicies(
        PolicyStore(database_of(registry), SCOPE), registry, "us-east-1", "000000000000"
    )
    reopened.load()
    assert reopened.statements("fn", "live") == [] and reopened.statements("fn", version) != []
    registry.delete_function("fn", version)
    assert policies.statements("fn", version) == []
    registry.delete_function("fn", None)
    assert policies.statements("fn", None) == []
    with pytest.raises(ResourceNotFound):
        policies.get_policy("fn", None)
    reopened.load()
    assert reopened.statements("fn", None) == []
