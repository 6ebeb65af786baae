"""Published versions: the pure snapshot rules and the registry's publish/list/delete/persist."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from flare.control.registry import Registry
from flare.control.versions import newest, same_content, snapshot
from flare.errors import InvalidParameterValue, PreconditionFailed, ResourceNotFound
from flare.scope import Scope
from flare.store.database import Database
from flare.store.functions import SCHEMA_VERSION, FunctionStore
from tests.unit.test_registry import create_body, make_zip, open_registry

SCOPE = Scope("000000000000", "us-east-1")

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


def code(source: str) -> dict[str, Any]:
    return {"ZipFile": base64.b64encode(make_zip(source)).decode()}


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    registry = open_registry(tmp_path)
    registry.create_function(create_body())
    return registry


@pytest.mark.parametrize(
    ("versions", "expected"),
    [([], None), (["$LATEST"], None), (["$LATEST", "1"], "1"), (["2", "$LATEST", "10", "9"], "10")],
)
def test_newest_is_the_highest_number(versions: list[str], expected: str | None) -> None:
    assert newest(versions) == expected


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({}, True),
        ({"RevisionId": "other", "LastModified": "x", "Description": "per version"}, True),
        ({"Timeout": 9}, False),
        ({"CodeSha256": "other"}, False),
        ({"Environment": {"Variables": {"K1": "v"}}}, False),
    ],
)
def test_same_content_ignores_only_bookkeeping(change: dict[str, Any], same: bool) -> None:
    latest = {
        "FunctionName": "fn",
        "Version": "$LATEST",
        "Timeout": 3,
        "CodeSha256": "abc",
        "RevisionId": "r",
    }
    published = snapshot(latest, "1", f"{ARN}:1", None)
    assert same_content({**latest, **change}, published) is same


def test_snapshot_qualifies_arn_and_overrides_description() -> None:
    latest = {"FunctionArn": ARN, "Version": "$LATEST", "Description": "fn", "Environment": {"Variables": {}}}
    published = snapshot(latest, "3", f"{ARN}:3", "third")
    assert (published["Version"], published["FunctionArn"], published["Description"]) == (
        "3",
        f"{ARN}:3",
        "third",
    )
    published["Environment"]["Variables"]["X"] = "y"
    assert latest["Environment"] == {"Variables": {}}


def test_publish_snapshots_latest_as_version_1(registry: Registry) -> None:
    latest = registry.get_configuration("fn", None)
    published = registry.publish_version("fn", {"Description": "first"})
    assert (published["Version"], published["FunctionArn"]) == ("1", f"{ARN}:1")
    assert published["Description"] == "first"
    assert published["CodeSha256"] == latest["CodeSha256"]
    assert published["RevisionId"] != latest["RevisionId"]
    assert registry.get_configuration("fn", "1") == published
    assert registry.resolve("fn", "1").version == "1"
    assert registry.resolve("fn:1", None).key == ("fn", "1", published["RevisionId"], None)


def test_publish_without_change_returns_the_same_version(registry: Registry) -> None:
    first = registry.publish_version("fn", {})
    assert registry.publish_version("fn", {}) == first
    assert registry.publish_version("fn", {"Description": "still the same"}) == first
    registry.update_configuration("fn", {"Timeout": 10})
    assert registry.publish_version("fn", {})["Version"] == "2"


def test_version_numbers_are_never_reused(tmp_path: Path, registry: Registry) -> None:
    registry.publish_version("fn", {})
    registry.update_code("fn", code("v = 2\n"))
    registry.publish_version("fn", {})
    registry.delete_function("fn", "2")
    registry.update_code("fn", code("v = 3\n"))
    assert registry.publish_version("fn", {})["Version"] == "3"
    registry.delete_function("fn", "3")
    registry.update_code("fn", code("v = 4\n"))
    assert open_registry(tmp_path).publish_version("fn", {})["Version"] == "4"


def test_a_recreated_function_numbers_from_1_again(registry: Registry) -> None:
    registry.publish_version("fn", {})
    registry.delete_function("fn", None)
    registry.create_function(create_body())
    assert registry.publish_version("fn", {})["Version"] == "1"


def test_publish_checks_code_sha256_and_revision_id(registry: Registry) -> None:
    latest = registry.get_configuration("fn", None)
    with pytest.raises(InvalidParameterValue, match=r"^CodeSHA256 \(nope\) is different from current"):
        registry.publish_version("fn", {"CodeSha256": "nope"})
    with pytest.raises(PreconditionFailed):
        registry.publish_version("fn", {"RevisionId": "stale"})
    body = {"CodeSha256": latest["CodeSha256"], "RevisionId": latest["RevisionId"]}
    assert registry.publish_version("fn", body)["Version"] == "1"


def test_publish_on_create_and_update_code_answers_with_the_version(tmp_path: Path) -> None:
    registry = open_registry(tmp_path)
    created = registry.create_function(create_body(Publish=True))
    assert (created["Version"], created["FunctionArn"]) == ("1", ARN)  # the function's ARN, as AWS answers
    assert registry.get_configuration("fn", "1")["FunctionArn"] == f"{ARN}:1"
    updated = registry.update_code("fn", {**code("v = 2\n"), "Publish": True})
    assert updated["Version"] == "2"
    assert registry.get_configuration("fn", None)["CodeSha256"] == updated["CodeSha256"]


def test_published_versions_are_immutable(registry: Registry) -> None:
    published = registry.publish_version("fn", {})
    registry.update_configuration("fn", {"Timeout": 30, "MemorySize": 512})
    registry.update_code("fn", code("v = 2\n"))
    assert registry.get_configuration("fn", "1") == published
    assert registry.resolve("fn", "1").timeout_s == 3
    with pytest.raises(InvalidParameterValue, match="published versions are immutable"):
        registry.update_configuration("fn:1", {"Timeout": 5})


def test_list_versions_puts_latest_first_then_ascending_pages(registry: Registry) -> None:
    for index in range(3):
        registry.update_code("fn", code(f"v = {index}\n"))
        registry.publish_version("fn", {})
    every = registry.list_versions("fn", None, None)
    assert [config["Version"] for config in every["Versions"]] == ["$LATEST", "1", "2", "3"]
    first = registry.list_versions("fn", None, 3)
    assert [config["Version"] for config in first["Versions"]] == ["$LATEST", "1", "2"]
    rest = registry.list_versions(ARN, first["NextMarker"], 3)
    assert [config["Version"] for config in rest["Versions"]] == ["3"] and "NextMarker" not in rest
    with pytest.raises(ResourceNotFound):
        registry.list_versions("nope", None, None)


def test_list_functions_all_includes_versions(registry: Registry) -> None:
    registry.publish_version("fn", {})
    assert [c["Version"] for c in registry.list_functions(None, None, "ALL")["Functions"]] == ["$LATEST", "1"]
    assert [c["Version"] for c in registry.list_functions(None, None, None)["Functions"]] == ["$LATEST"]


def test_deleting_one_version_keeps_the_others(registry: Registry) -> None:
    registry.publish_version("fn", {})
    registry.update_code("fn", code("v = 2\n"))
    registry.publish_version("fn", {})
    registry.delete_function("fn", "1")
    with pytest.raises(ResourceNotFound, match=f"^Function not found: {ARN}:1$"):
        registry.resolve("fn", "1")
    assert registry.resolve("fn", "2").version == "2"
    with pytest.raises(ResourceNotFound, match=f"{ARN}:1$"):
        registry.delete_function("fn", "1")


def test_listeners_hear_which_version_changed(registry: Registry) -> None:
    heard: list[tuple[str, str | None]] = []
    names: list[str] = []
    registry.add_version_listener(lambda name, version: heard.append((name, version)))
    registry.add_listener(names.append)
    registry.publish_version("fn", {})
    registry.update_configuration("fn", {"Timeout": 5})
    registry.publish_version("fn", {})
    registry.delete_function("fn", "1")
    registry.delete_function("fn", None)
    assert heard == [("fn", "$LATEST"), ("fn", "1"), ("fn", None)]
    assert names == ["fn", "fn", "fn"]


def test_versions_survive_a_restart(tmp_path: Path, registry: Registry) -> None:
    published = registry.publish_version("fn", {})
    again = open_registry(tmp_path)
    assert again.get_configuration("fn", "1") == published
    assert (again.resolve("fn", "1").code_dir / "app.py").exists()


def test_a_schema_1_database_is_migrated_with_counters_seeded(tmp_path: Path) -> None:
    path = tmp_path / "flare.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE functions (name TEXT NOT NULL, version TEXT NOT NULL, seq INTEGER NOT NULL, "
        "config TEXT NOT NULL, code_digest TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '{}', "
        "PRIMARY KEY (name, version)); PRAGMA user_version=1;"
    )
    conn.execute("INSERT INTO functions VALUES ('fn', '$LATEST', 1, ?, 'd', '{}')", (json.dumps({}),))
    conn.execute("INSERT INTO functions VALUES ('fn', '4', 2, ?, 'd', '{}')", (json.dumps({}),))
    conn.commit()
    conn.close()
    db = FunctionStore(Database(path, SCOPE), SCOPE)
    assert db.schema_version() == SCHEMA_VERSION == 3
    assert db.version_counters() == {"fn": 4}
    assert db.all_aliases() == []
