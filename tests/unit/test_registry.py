"""The registry: create/read/list/update/delete, the resolve cache, persistence, listeners."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flare.clock import ManualClock, TimerHandle
from flare.control.registry import Registry, format_last_modified
from flare.errors import (
    InvalidParameterValue,
    InvalidRequestContent,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from flare.scope import Scope
from flare.store.blobs import BlobStore
from flare.store.database import Database
from flare.store.functions import SCHEMA_VERSION, FunctionStore

SCOPE = Scope("000000000000", "us-east-1")

ROLE = "arn:aws:iam::000000000000:role/flare"
NOT_FOUND = "Function not found: arn:aws:lambda:us-east-1:000000000000:function:"


def make_zip(source: str = "def handler(event, context):\n    return event\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def create_body(name: str = "fn", zip_bytes: bytes | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Code": {"ZipFile": base64.b64encode(zip_bytes or make_zip()).decode()},
    }
    body.update(fields)
    return body


class SettlingClock(ManualClock):
    """A manual clock on which a timer due now fires at once: a registry on it settles each
    creation and update right after answering (tests of the pending window use ManualClock)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        handle = super().call_later(delay, callback)
        if delay <= 0:
            self.advance(0)
        return handle


def locate_code(digest: str) -> str:
    return f"code:{digest}"


def database_of(registry: Registry) -> Database:
    """The SQLite database a registry opened by ``open_registry`` keeps its rows in."""
    store = registry.store
    assert isinstance(store, FunctionStore)
    return store.db


def open_registry(root: Path, clock: ManualClock | None = None) -> Registry:
    registry = Registry(
        FunctionStore(Database(root / "flare.db", SCOPE), SCOPE),
        BlobStore(root),
        "us-east-1",
        "000000000000",
        clock or SettlingClock(),
    )
    registry.load()
    return registry


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return open_registry(tmp_path)


def test_create_returns_aws_configuration_with_computed_fields(tmp_path: Path) -> None:
    clock = ManualClock(wall_start=1_571_410_380.0)
    data = make_zip()
    config = open_registry(tmp_path, clock).create_function(create_body(zip_bytes=data))
    assert config["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert config["CodeSize"] == len(data)
    assert config["LastModified"] == "2019-10-18T14:53:00.000+0000"
    assert config["Version"] == "$LATEST"
    assert (config["State"], config["StateReason"], config["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    assert "LastUpdateStatus" not in config
    assert config["PackageType"] == "Zip"
    assert len(config["RevisionId"]) == 36


def test_a_new_function_is_pending_until_the_clock_turns_then_active(tmp_path: Path) -> None:
    clock = ManualClock()
    registry = open_registry(tmp_path, clock)
    registry.create_function(create_body())
    assert registry.get_configuration("fn", None)["State"] == "Pending"
    with pytest.raises(ResourceConflict, match="An update is in progress for resource: arn:aws:lambda:"):
        registry.update_configuration("fn", {"Timeout": 5})
    clock.advance(0)
    settled = registry.get_configuration("fn", None)
    assert (settled["State"], settled["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReason" not in settled and "StateReasonCode" not in settled
    assert registry.resolve("fn", None).state == "Active"


def test_an_update_answers_in_progress_and_refuses_another_until_it_settles(tmp_path: Path) -> None:
    clock = ManualClock()
    registry = open_registry(tmp_path, clock)
    registry.create_function(create_body())
    clock.advance(0)
    answer = registry.update_configuration("fn", {"Timeout": 5})
    assert (answer["State"], answer["LastUpdateStatus"]) == ("Active", "InProgress")
    assert (answer["LastUpdateStatusReason"], answer["LastUpdateStatusReasonCode"]) == (
        "The function is being created.",
        "Creating",
    )
    with pytest.raises(ResourceConflict, match="An update is in progress"):
        registry.update_code("fn", {"ZipFile": base64.b64encode(make_zip("v = 2\n")).decode()})
    clock.advance(0)
    assert registry.get_configuration("fn", None)["LastUpdateStatus"] == "Successful"
    assert registry.update_configuration("fn", {"Timeout": 6})["Timeout"] == 6


def test_a_creation_the_engine_did_not_settle_settles_when_it_loads(tmp_path: Path) -> None:
    registry = open_registry(tmp_path, ManualClock())
    registry.create_function(create_body())
    reopened = open_registry(tmp_path, ManualClock())
    assert reopened.get_configuration("fn", None)["State"] == "Active"


def test_configurations_are_shown_as_aws_shows_them(registry: Registry) -> None:
    created = registry.create_function(create_body())
    assert "Layers" not in created
    assert created["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith(
        "arn:aws:lambda:us-east-1::runtime:"
    )
    assert len(created["RuntimeVersionConfig"]["RuntimeVersionArn"].rsplit(":", 1)[1]) == 64
    assert list(created)[:4] == ["FunctionName", "FunctionArn", "Runtime", "Role"]
    listed = registry.list_functions(None, None, None)["Functions"][0]
    assert not {"State", "LastUpdateStatus", "RuntimeVersionConfig"} & set(listed)


def test_last_modified_has_milliseconds_and_utc_offset() -> None:
    assert format_last_modified(0.25) == "1970-01-01T00:00:00.250+0000"


def test_duplicate_create_is_a_conflict(registry: Registry) -> None:
    registry.create_function(create_body())
    with pytest.raises(ResourceConflict, match=r"^Function already exist: fn$"):
        registry.create_function(create_body())


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ({"S3Bucket": "b", "S3Key": "k"}, InvalidParameterValue),
        ({"ImageUri": "123.dkr.ecr/x:1"}, InvalidParameterValue),
        ({}, InvalidParameterValue),
        ({"ZipFile": "!!not base64!!"}, InvalidRequestContent),
        ({"ZipFile": base64.b64encode(b"not a zip").decode()}, InvalidParameterValue),
    ],
)
def test_create_rejects_code_flare_cannot_use(registry: Registry, code: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        registry.create_function(create_body(Code=code))
    with pytest.raises(ResourceNotFound):
        registry.get_configuration("fn", None)


def test_resolve_serves_the_unpacked_code(registry: Registry) -> None:
    registry.create_function(create_body(MemorySize=512, Environment={"Variables": {"K1": "v"}}))
    version = registry.resolve("fn", None)
    assert (version.code_dir / "app.py").exists()
    assert (version.memory_mb, version.environment, version.version) == (512, {"K1": "v"}, "$LATEST")
    assert registry.resolve("fn", "$LATEST") is version
    assert registry.resolve("arn:aws:lambda:us-east-1:000000000000:function:fn", None) is version
    assert registry.resolve("fn:$LATEST", None) is version


@pytest.mark.parametrize(
    ("name", "qualifier", "message"),
    [
        ("nope", None, NOT_FOUND + "nope"),
        ("fn", "7", NOT_FOUND + "fn:7"),
        ("fn:live", None, NOT_FOUND + "fn:live"),
    ],
)
def test_every_read_of_a_missing_function_says_function_not_found(
    registry: Registry, name: str, qualifier: str | None, message: str
) -> None:
    registry.create_function(create_body())

    def get_function(name: str, qualifier: str | None) -> object:
        return registry.get_function(name, qualifier, locate_code)

    for read in (registry.resolve, registry.get_configuration, get_function):
        with pytest.raises(ResourceNotFound) as caught:
            read(name, qualifier)
        assert caught.value.message == message


def test_update_code_changes_sha_revision_and_resolved_code(registry: Registry) -> None:
    before = registry.create_function(create_body())
    after = registry.update_code("fn", {"ZipFile": base64.b64encode(make_zip("v = 2\n")).decode()})
    assert after["CodeSha256"] != before["CodeSha256"]
    assert after["RevisionId"] != before["RevisionId"]
    assert (registry.resolve("fn", None).code_dir / "app.py").read_text() == "v = 2\n"


def test_dry_run_update_code_stores_nothing(registry: Registry) -> None:
    before = registry.create_function(create_body())
    answer = registry.update_code(
        "fn", {"ZipFile": base64.b64encode(make_zip("v = 3\n")).decode(), "DryRun": True}
    )
    assert answer["CodeSha256"] != before["CodeSha256"]
    assert registry.get_configuration("fn", None)["CodeSha256"] == before["CodeSha256"]
    assert registry.get_configuration("fn", None)["RevisionId"] == before["RevisionId"]


def test_update_configuration_merges_and_replaces_environment_whole(registry: Registry) -> None:
    registry.create_function(create_body(MemorySize=256, Environment={"Variables": {"A1": "1", "B1": "2"}}))
    config = registry.update_configuration("fn", {"Timeout": 60, "Environment": {"Variables": {"C1": "3"}}})
    assert (config["Timeout"], config["MemorySize"]) == (60, 256)
    assert config["Environment"] == {"Variables": {"C1": "3"}}
    assert registry.resolve("fn", None).timeout_s == 60


@pytest.mark.parametrize("update", ["code", "configuration"])
def test_stale_revision_id_is_a_precondition_failure(registry: Registry, update: str) -> None:
    registry.create_function(create_body())
    body: dict[str, Any] = {"RevisionId": "stale", "ZipFile": base64.b64encode(make_zip()).decode()}
    change = registry.update_code if update == "code" else registry.update_configuration
    with pytest.raises(PreconditionFailed, match="does not match the latest Revision Id"):
        change("fn", body)


def test_current_revision_id_allows_the_update(registry: Registry) -> None:
    revision = registry.create_function(create_body())["RevisionId"]
    assert registry.update_configuration("fn", {"RevisionId": revision, "Timeout": 9})["Timeout"] == 9


def test_listeners_hear_updates_and_deletes_but_not_creates(registry: Registry) -> None:
    heard: list[str] = []
    registry.add_listener(heard.append)
    registry.create_function(create_body())
    registry.update_configuration("fn", {"Timeout": 5})
    registry.update_code("fn", {"ZipFile": base64.b64encode(make_zip("x=1")).decode()})
    registry.delete_function("fn", None)
    assert heard == ["fn", "fn", "fn"]


def test_create_listeners_hear_each_new_function_once(registry: Registry) -> None:
    created: list[tuple[str, str, str]] = []
    registry.add_create_listener(lambda v: created.append((v.name, v.version, v.runtime)))
    registry.create_function(create_body())
    registry.update_configuration("fn", {"Timeout": 5})
    assert created == [("fn", "$LATEST", create_body()["Runtime"])]


def test_delete_removes_function_from_every_read(registry: Registry) -> None:
    registry.create_function(create_body())
    registry.delete_function("fn", None)
    with pytest.raises(ResourceNotFound):
        registry.resolve("fn", None)
    assert registry.list_functions(None, None, None) == {"Functions": []}
    with pytest.raises(ResourceNotFound, match=f"^{NOT_FOUND}fn$"):
        registry.delete_function("fn", None)


def test_latest_cannot_be_deleted_by_qualifier(registry: Registry) -> None:
    registry.create_function(create_body())
    with pytest.raises(InvalidParameterValue, match=r"\$LATEST version cannot be deleted"):
        registry.delete_function("fn", "$LATEST")


def test_list_pages_in_name_order_with_opaque_markers(registry: Registry) -> None:
    for name in ["e", "c", "a", "d", "b"]:
        registry.create_function(create_body(name))
    seen: list[str] = []
    marker = None
    while True:
        page = registry.list_functions(marker, 2, None)
        seen += [config["FunctionName"] for config in page["Functions"]]
        marker = page.get("NextMarker")
        if marker is None:
            break
    assert seen == ["a", "b", "c", "d", "e"]


def test_list_returns_at_most_50_even_when_more_are_asked(registry: Registry) -> None:
    for index in range(52):
        registry.create_function(create_body(f"f{index:02d}"))
    page = registry.list_functions(None, 1000, "ALL")
    assert len(page["Functions"]) == 50 and "NextMarker" in page
    assert len(registry.list_functions(page["NextMarker"], 1000, "ALL")["Functions"]) == 2


def test_list_rejects_a_marker_it_did_not_make(registry: Registry) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid marker: garbage"):
        registry.list_functions("garbage", None, None)


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    first = open_registry(tmp_path)
    created = first.create_function(create_body(Tags={"team": "core"}))
    first.update_configuration("fn", {"Description": "kept"})
    updated = first.get_configuration("fn", None)
    second = open_registry(tmp_path)
    assert second.get_configuration("fn", None) == updated
    assert second.get_function("fn", None, locate_code)["Tags"] == {"team": "core"}
    assert second.resolve("fn", None).code_sha256 == created["CodeSha256"]
    assert (second.resolve("fn", None).code_dir / "app.py").exists()


def test_get_function_locates_the_stored_zip(registry: Registry, tmp_path: Path) -> None:
    data = make_zip()
    registry.create_function(create_body(zip_bytes=data))
    code = registry.get_function("fn", None, locate_code)["Code"]
    assert code["RepositoryType"] == "S3"
    assert BlobStore(tmp_path).path(code["Location"].removeprefix("code:")).read_bytes() == data


def test_database_records_its_schema_version(tmp_path: Path) -> None:
    assert FunctionStore(Database(tmp_path / "x.db", SCOPE), SCOPE).schema_version() == SCHEMA_VERSION


def test_returned_configurations_are_copies(registry: Registry) -> None:
    config = registry.create_function(create_body(Environment={"Variables": {"K1": "v"}}))
    config["Environment"]["Variables"]["K1"] = "mutated"
    assert registry.get_configuration("fn", None)["Environment"] == {"Variables": {"K1": "v"}}
