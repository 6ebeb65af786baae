"""Aliases: name and routing checks, ``pick_version`` from a table, and the registry's alias
operations (create/get/update/delete/list, resolve through an alias, persistence)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from flare.control.aliases import check_routing, pick_version
from flare.control.registry import Registry
from flare.errors import InvalidParameterValue, PreconditionFailed, ResourceConflict, ResourceNotFound
from tests.unit.test_registry import create_body, locate_code, make_zip, open_registry

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """A function ``fn`` with published versions 1 and 2 (different code)."""
    registry = open_registry(tmp_path)
    registry.create_function(create_body(Publish=True))
    registry.update_code("fn", {"ZipFile": base64.b64encode(make_zip("v = 2\n")).decode(), "Publish": True})
    return registry


@pytest.mark.parametrize(
    ("primary", "weights", "draw", "expected"),
    [
        ("1", {}, 0.0, "1"),
        ("1", {}, 0.999, "1"),
        ("1", {"2": 0.0}, 0.0, "1"),
        ("1", {"2": 0.0}, 0.999, "1"),
        ("1", {"2": 0.5}, 0.0, "2"),
        ("1", {"2": 0.5}, 0.4999, "2"),
        ("1", {"2": 0.5}, 0.5, "1"),
        ("1", {"2": 0.5}, 0.999, "1"),
        ("1", {"2": 0.1}, 0.05, "2"),
        ("1", {"2": 0.1}, 0.1, "1"),
        ("1", {"2": 1.0}, 0.0, "2"),
        ("1", {"2": 1.0}, 0.999999, "2"),
        ("$LATEST", {}, 0.3, "$LATEST"),
    ],
)
def test_pick_version_sends_a_share_w_of_draws_to_the_additional_version(
    primary: str, weights: dict[str, float], draw: float, expected: str
) -> None:
    assert pick_version(primary, weights, draw) == expected


@pytest.mark.parametrize(
    ("routing", "primary", "message"),
    [
        ({"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}}, "1", "cannot be greater than 1"),
        ({"AdditionalVersionWeights": {"1": 0.5}}, "1", "Function version 1 is already included"),
        ({"AdditionalVersionWeights": {"2": 0.5}}, "$LATEST", r"\$LATEST is not supported for an alias"),
    ],
)
def test_bad_routing_is_invalid_parameter_value(routing: dict[str, Any], primary: str, message: str) -> None:
    with pytest.raises(InvalidParameterValue, match=message):
        check_routing(routing, primary)


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        (None, {}),
        ({}, {}),
        ({"AdditionalVersionWeights": {}}, {}),
        ({"AdditionalVersionWeights": {"2": 0}}, {"2": 0.0}),
        ({"AdditionalVersionWeights": {"2": 1}}, {"2": 1.0}),
        ({"AdditionalVersionWeights": {"2": 0.25}}, {"2": 0.25}),
    ],
)
def test_good_routing_is_normalised_to_float_weights(
    routing: dict[str, Any] | None, expected: dict[str, float]
) -> None:
    assert check_routing(routing, "1") == expected


def test_create_alias_answers_aws_alias_configuration(registry: Registry) -> None:
    alias = registry.create_alias("fn", {"Name": "live", "FunctionVersion": "1", "Description": "prod"})
    assert alias["AliasArn"] == f"{ARN}:live"
    assert (alias["Name"], alias["FunctionVersion"], alias["Description"]) == ("live", "1", "prod")
    assert "RoutingConfig" not in alias
    assert len(alias["RevisionId"]) == 36
    assert registry.get_alias("fn", "live") == alias
    assert registry.get_alias(ARN, "live") == alias


def test_duplicate_alias_is_a_conflict_naming_its_arn(registry: Registry) -> None:
    registry.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    with pytest.raises(ResourceConflict, match=f"^Alias already exists: {ARN}:live$"):
        registry.create_alias("fn", {"Name": "live", "FunctionVersion": "2"})


@pytest.mark.parametrize(
    ("function", "body", "error", "message"),
    [
        ("nope", {"Name": "live", "FunctionVersion": "1"}, ResourceNotFound, f"{ARN[:-2]}nope$"),
        ("fn", {"Name": "live", "FunctionVersion": "9"}, ResourceNotFound, f"Function not found: {ARN}:9$"),
        (
            "fn",
            {
                "Name": "live",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"7": 0.5}},
            },
            ResourceNotFound,
            f"Function not found: {ARN}:7$",
        ),
    ],
)
def test_create_alias_rejects_what_aws_rejects(
    registry: Registry, function: str, body: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        registry.create_alias(function, body)
    assert registry.list_aliases("fn", None, None, None) == {"Aliases": []}


def test_unknown_alias_is_404_cannot_find_alias_arn(registry: Registry) -> None:
    for call in (
        lambda: registry.get_alias("fn", "ghost"),
        lambda: registry.update_alias("fn", "ghost", {"FunctionVersion": "1"}),
        lambda: registry.delete_alias("fn", "ghost"),
    ):
        with pytest.raises(ResourceNotFound, match=f"^Cannot find alias arn: {ARN}:ghost$"):
            call()


def test_update_alias_changes_given_fields_and_revision(registry: Registry) -> None:
    created = registry.create_alias("fn", {"Name": "live", "FunctionVersion": "1", "Description": "d"})
    updated = registry.update_alias("fn", "live", {"FunctionVersion": "2"})
    assert (updated["FunctionVersion"], updated["Description"]) == ("2", "d")
    assert updated["RevisionId"] != created["RevisionId"]
    weighted = registry.update_alias(
        "fn", "live", {"RoutingConfig": {"AdditionalVersionWeights": {"1": 0.3}}}
    )
    assert weighted["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.3}}
    cleared = registry.update_alias("fn", "live", {"RoutingConfig": {"AdditionalVersionWeights": {}}})
    assert "RoutingConfig" not in cleared


def test_update_alias_with_stale_revision_is_precondition_failed(registry: Registry) -> None:
    revision = registry.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})["RevisionId"]
    registry.update_alias("fn", "live", {"FunctionVersion": "2", "RevisionId": revision})
    with pytest.raises(PreconditionFailed):
        registry.update_alias("fn", "live", {"FunctionVersion": "1", "RevisionId": revision})
    assert registry.get_alias("fn", "live")["FunctionVersion"] == "2"


def test_update_alias_cannot_make_primary_equal_the_weighted_version(registry: Registry) -> None:
    registry.create_alias(
        "fn",
        {"Name": "live", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}},
    )
    with pytest.raises(InvalidParameterValue, match="already included in routing configuration"):
        registry.update_alias("fn", "live", {"FunctionVersion": "2"})


def test_resolve_through_an_alias_runs_its_version(registry: Registry) -> None:
    registry.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    assert registry.resolve("fn", "live").version == "1"
    assert registry.resolve("fn:live", None).version == "1"
    assert registry.resolve(f"{ARN}:live", None).version == "1"
    version, invoked = registry.resolve_invocation("fn:live", None)
    assert (version.version, invoked) == ("1", f"{ARN}:live")
    assert registry.resolve_invocation("fn", None)[1] == ARN
    registry.update_alias("fn", "live", {"FunctionVersion": "2"})
    assert registry.resolve("fn", "live").version == "2"


def test_weighted_alias_resolves_to_both_versions(registry: Registry) -> None:
    registry.create_alias(
        "fn",
        {"Name": "canary", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}},
    )
    seen = {registry.resolve("fn", "canary").version for _ in range(200)}
    assert seen == {"1", "2"}


def test_configuration_through_an_alias_is_its_version_with_the_alias_arn(registry: Registry) -> None:
    registry.create_alias("fn", {"Name": "live", "FunctionVersion": "2"})
    config = registry.get_configuration("fn", "live")
    assert (config["Version"], config["FunctionArn"]) == ("2", f"{ARN}:live")
    assert registry.get_function("fn:live", None, locate_code)["Configuration"] == config


def test_list_aliases_filters_by_version_and_pages(registry: Registry) -> None:
    for name, version in [("c", "1"), ("a", "2"), ("b", "1"), ("d", "$LATEST")]:
        registry.create_alias("fn", {"Name": name, "FunctionVersion": version})
    every = registry.list_aliases("fn", None, None, None)["Aliases"]
    assert [alias["Name"] for alias in every] == ["a", "b", "c", "d"]
    on_one = registry.list_aliases("fn", "1", None, None)["Aliases"]
    assert [alias["Name"] for alias in on_one] == ["b", "c"]
    first = registry.list_aliases("fn", None, None, 3)
    assert [alias["Name"] for alias in first["Aliases"]] == ["a", "b", "c"]
    rest = registry.list_aliases("fn", None, first["NextMarker"], 3)
    assert [alias["Name"] for alias in rest["Aliases"]] == ["d"] and "NextMarker" not in rest


def test_deleting_a_version_an_alias_routes_to_is_a_conflict(registry: Registry) -> None:
    registry.create_alias("fn", {"Name": "live", "FunctionVersion": "2"})
    registry.create_alias(
        "fn",
        {"Name": "canary", "FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.0}}},
    )
    message = r"^Unable to delete version because the following aliases reference it: \[canary\]$"
    with pytest.raises(ResourceConflict, match=message):
        registry.delete_function("fn", "1")
    registry.delete_alias("fn", "canary")
    registry.delete_function("fn", "1")
    with pytest.raises(ResourceConflict, match=r"\[live\]"):
        registry.delete_function("fn:2", None)


def test_delete_function_by_alias_qualifier_is_refused(registry: Registry) -> None:
    registry.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    with pytest.raises(InvalidParameterValue, match="use DeleteAlias"):
        registry.delete_function("fn", "live")


def test_deleting_the_function_deletes_its_aliases(tmp_path: Path, registry: Registry) -> None:
    registry.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    registry.delete_function("fn", None)
    registry.create_function(create_body())
    assert registry.list_aliases("fn", None, None, None) == {"Aliases": []}
    with pytest.raises(ResourceNotFound):
        registry.resolve("fn", "live")
    assert open_registry(tmp_path).list_aliases("fn", None, None, None) == {"Aliases": []}


def test_aliases_survive_a_restart(tmp_path: Path, registry: Registry) -> None:
    created = registry.create_alias(
        "fn",
        {"Name": "canary", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.0}}},
    )
    again = open_registry(tmp_path)
    assert again.get_alias("fn", "canary") == created
    assert again.resolve("fn", "canary").version == "2"


def test_alias_changes_notify_no_listener(registry: Registry) -> None:
    heard: list[tuple[str, str | None]] = []
    registry.add_version_listener(lambda name, version: heard.append((name, version)))
    registry.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    registry.update_alias("fn", "live", {"FunctionVersion": "2"})
    registry.delete_alias("fn", "live")
    assert heard == []
