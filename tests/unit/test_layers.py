"""The layer resource against a real store: versions, what functions may list, what start-up
forgets, and the registry's use of it (Layers in configurations, /opt, the 250 MB total)."""

from __future__ import annotations

import base64
import io
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

from flare.clock import ManualClock
from flare.control import unused_code
from flare.control.layers import Layers
from flare.control.registry import Registry
from flare.errors import AccessDenied, InvalidParameterValue, ResourceNotFound
from flare.scope import Scope
from flare.store.blobs import MAX_UNZIPPED_BYTES, BlobStore
from flare.store.database import Database
from flare.store.functions import FunctionStore
from flare.store.layers import LayerStore
from flare.store.opt_trees import OptTrees
from tests.unit.test_registry import SettlingClock

REGION, ACCOUNT = "us-east-1", "000000000000"
SCOPE = Scope(ACCOUNT, REGION)
ROLE = "arn:aws:iam::000000000000:role/flare"


def make_zip(files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return base64.b64encode(buffer.getvalue()).decode()


def locate(digest: str) -> str:
    return f"http://flare/{digest}.zip"


def open_layers(root: Path) -> tuple[Layers, Registry]:
    return open_scopes(root, [SCOPE])[0]


def open_scopes(root: Path, scopes: list[Scope]) -> list[tuple[Layers, Registry]]:
    """What an engine (re)started on ``root`` with these accounts and regions builds, after its
    start-up sweep of unused code."""
    blobs, database = BlobStore(root), Database(root / "flare.db", scopes[0])
    opened = []
    by_account: dict[str, Layers] = {}
    for scope in scopes:
        db = FunctionStore(database, scope)
        trees = OptTrees(root, blobs)
        store = LayerStore(database, scope)
        layers = Layers(store, blobs, trees, scope.region, scope.account, ManualClock(), by_account.get)
        by_account[scope.account] = layers
        opened.append((layers, Registry(db, blobs, scope.region, scope.account, SettlingClock(), layers)))
    for _, registry in opened:  # every scope built before any loads, as the engine does
        registry.load()
    unused_code.delete_unused(
        blobs, OptTrees(root, blobs), [(registry, layers) for layers, registry in opened]
    )
    return opened


def publish(layers: Layers, name: str, files: dict[str, str] | None = None) -> str:
    answer = layers.publish(name, {"Content": {"ZipFile": make_zip(files or {"f": name})}}, locate)
    return str(answer["LayerVersionArn"])


def create(registry: Registry, name: str, layers: list[str]) -> dict[str, Any]:
    body = {
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Code": {"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return 1\n"})},
        "Layers": layers,
    }
    return registry.create_function(body)


def test_the_start_up_sweep_keeps_what_any_account_or_region_uses(tmp_path: Path) -> None:
    other = Scope("111122223333", REGION)
    _, (other_layers, other_registry) = open_scopes(tmp_path, [SCOPE, other])
    arns = [publish(other_layers, name, {f"python/{name}.py": "T = 1"}) for name in ("one", "two")]
    create(other_registry, "fn", arns)  # two layers: a merged tree of their own
    code_dir = other_registry.resolve("fn", None).code_dir
    opt_dir = other_registry.resolve("fn", None).opt_dir
    assert opt_dir is not None

    (_, other_registry), _ = open_scopes(tmp_path, [other, SCOPE])  # a restart

    assert (opt_dir / "python" / "two.py").exists() and code_dir.exists()
    assert other_registry.resolve("fn", None).opt_dir == opt_dir


def test_another_accounts_layer_version_needs_its_grant_and_stays_with_the_functions_listing_it(
    tmp_path: Path,
) -> None:
    other = Scope("111122223333", REGION)
    (layers, registry), (other_layers, _) = open_scopes(tmp_path, [SCOPE, other])
    arn = publish(other_layers, "theirs", {"python/t.py": "T = 1"})
    with pytest.raises(AccessDenied) as raised:
        create(registry, "fn", [arn])
    assert "not authorized to perform: lambda:GetLayerVersion on resource: " + arn in raised.value.message
    with pytest.raises(AccessDenied):
        layers.get_by_arn(arn, locate)
    grant = {"StatementId": "s", "Action": "lambda:GetLayerVersion", "Principal": ACCOUNT}
    other_layers.add_permission("theirs", 1, grant, None)
    assert layers.get_by_arn(arn, locate)["LayerVersionArn"] == arn
    create(registry, "fn", [arn])
    other_layers.delete("theirs", 1)

    (_, registry), (other_layers, _) = open_scopes(tmp_path, [SCOPE, other])  # a restart

    opt_dir = registry.resolve("fn", None).opt_dir
    assert opt_dir is not None and (opt_dir / "python" / "t.py").exists()
    registry.delete_function("fn", None)
    open_scopes(tmp_path, [SCOPE, other])
    assert LayerStore(Database(tmp_path / "flare.db", SCOPE), other).get("theirs", 1) is None


@pytest.fixture
def opened(tmp_path: Path) -> tuple[Layers, Registry]:
    return open_layers(tmp_path)


def test_published_version_carries_its_location_and_numbers(opened: tuple[Layers, Registry]) -> None:
    layers, _ = opened
    answer = layers.publish("l", {"Content": {"ZipFile": make_zip({"f": "x"})}, "LicenseInfo": "MIT"}, locate)
    assert answer["Version"] == 1
    assert answer["Content"]["Location"].startswith("http://flare/")
    assert answer["LicenseInfo"] == "MIT"
    assert "CompatibleRuntimes" not in answer
    assert layers.get("l", 1, locate) == answer


@pytest.mark.parametrize(
    ("arns", "message"),
    [
        (["{a}", "{b}", "{c}", "{d}", "{e}", "{f}"], "Cannot reference more than 5 layers."),
        (
            ["{a}", "{a}"],
            "Two different versions of the same layer are not allowed to be referenced in the same",
        ),
        (["{a}", "{a2}"], "{a} and {a2} are versions of the same layer."),
        (["{missing}"], "Layer version {missing} does not exist."),
        (["{other_region}"], "Layers are expected to be in region us-east-1."),
        (["not-an-arn"], "Invalid layer version ARN: not-an-arn"),
    ],
)
def test_function_layers_are_checked_as_aws_checks_them(
    opened: tuple[Layers, Registry], arns: list[str], message: str
) -> None:
    layers, _ = opened
    names = {key: publish(layers, key) for key in "abcdef"}
    names["a2"] = publish(layers, "a")
    names["missing"] = names["a"].rsplit(":", 1)[0] + ":7"
    names["other_account"] = names["a"].replace(ACCOUNT, "123456789012")
    names["other_region"] = names["a"].replace(REGION, "eu-west-1")

    with pytest.raises(InvalidParameterValue) as caught:
        layers.references([arn.format(**names) for arn in arns])

    assert message.format(**names) in caught.value.message


def test_another_accounts_layer_version_without_a_grant_is_access_denied(
    opened: tuple[Layers, Registry],
) -> None:
    layers, _ = opened
    other_account = publish(layers, "a").replace(ACCOUNT, "123456789012")
    with pytest.raises(AccessDenied) as caught:
        layers.references([other_account])
    assert caught.value.message == (
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: lambda:GetLayerVersion on "
        f"resource: {other_account} because no resource-based policy allows the lambda:GetLayerVersion action"
    )


def test_references_show_arn_and_code_size_in_order(opened: tuple[Layers, Registry]) -> None:
    layers, _ = opened
    first, second = publish(layers, "one"), publish(layers, "two", {"bigger": "x" * 100})
    sizes = {arn: layers.get_by_arn(arn, locate)["Content"]["CodeSize"] for arn in (first, second)}
    assert layers.references([second, first]) == [
        {"Arn": second, "CodeSize": sizes[second]},
        {"Arn": first, "CodeSize": sizes[first]},
    ]


def test_a_deleted_version_cannot_be_listed_anew(opened: tuple[Layers, Registry]) -> None:
    layers, _ = opened
    arn = publish(layers, "gone")
    layers.delete("gone", 1)
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        layers.references([arn])
    with pytest.raises(ResourceNotFound):
        layers.get("gone", 1, locate)


def test_a_function_sees_its_layers_merged_and_published_versions_keep_theirs(
    opened: tuple[Layers, Registry],
) -> None:
    layers, registry = opened
    old = publish(layers, "lib", {"python/m.py": "VALUE = 'old'"})
    new = publish(layers, "lib", {"python/m.py": "VALUE = 'new'"})
    extra = publish(layers, "extra", {"python/e.py": "E = 1"})
    config = create(registry, "fn", [old, extra])
    assert [layer["Arn"] for layer in config["Layers"]] == [old, extra]
    registry.publish_version("fn", {})
    registry.update_configuration("fn", {"Layers": [new]})

    published, latest = registry.resolve("fn", "1"), registry.resolve("fn", None)

    assert published.opt_dir is not None and latest.opt_dir is not None
    assert (published.opt_dir / "python" / "m.py").read_text() == "VALUE = 'old'"
    assert (published.opt_dir / "python" / "e.py").exists()
    assert (latest.opt_dir / "python" / "m.py").read_text() == "VALUE = 'new'"


def test_empty_layers_remove_the_field_and_the_opt_dir(opened: tuple[Layers, Registry]) -> None:
    layers, registry = opened
    create(registry, "fn", [publish(layers, "l")])
    assert "Layers" not in registry.update_configuration("fn", {"Layers": []})
    assert registry.resolve("fn", None).opt_dir is None


def test_code_and_layers_over_250_mb_together_are_refused(tmp_path: Path) -> None:
    layers, registry = open_layers(tmp_path)
    arn = publish(layers, "huge")
    with sqlite3.connect(tmp_path / "flare.db") as db:  # as if it unzipped to just under 250 MB
        db.execute("UPDATE layer_versions SET unzipped_size = ?", (MAX_UNZIPPED_BYTES - 10,))
    create(registry, "small", [])

    with pytest.raises(InvalidParameterValue) as caught:
        create(registry, "fn", [arn])
    with pytest.raises(InvalidParameterValue):
        registry.update_configuration("small", {"Layers": [arn]})

    code_size = len("def handler(e, c):\n    return 1\n")
    assert caught.value.message == (
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
        f"The actual size is {MAX_UNZIPPED_BYTES - 10 + code_size} bytes."
    )
    assert "Layers" not in registry.get_configuration("small", None)


def test_start_up_keeps_deleted_versions_in_use_and_forgets_the_rest(tmp_path: Path) -> None:
    layers, registry = open_layers(tmp_path)
    used = publish(layers, "used", {"python/u.py": "U = 1"})
    unused = publish(layers, "unused", {"python/x.py": "X = 1"})
    other = publish(layers, "other", {"python/o.py": "O = 1"})
    create(registry, "fn", [used, other])
    unused_digest = layers.get_by_arn(unused, locate)["Content"]["Location"].split("/")[-1][:-4]
    layers.delete("used", 1)
    layers.delete("unused", 1)

    layers, registry = open_layers(tmp_path)  # a restarted engine

    opt_dir = registry.resolve("fn", None).opt_dir
    assert opt_dir is not None and (opt_dir / "python" / "u.py").exists()
    assert not BlobStore(tmp_path).path(unused_digest).exists()
    assert LayerStore(Database(tmp_path / "flare.db", SCOPE), SCOPE).get("unused", 1) is None
    assert LayerStore(Database(tmp_path / "flare.db", SCOPE), SCOPE).get("used", 1) is not None
    registry.delete_function("fn", None)
    open_layers(tmp_path)
    assert LayerStore(Database(tmp_path / "flare.db", SCOPE), SCOPE).get("used", 1) is None
    assert [p.name for p in (tmp_path / "opt").iterdir()] == []


def test_a_bad_marker_is_an_invalid_parameter(opened: tuple[Layers, Registry]) -> None:
    layers, _ = opened
    with pytest.raises(InvalidParameterValue, match="Invalid marker"):
        layers.list_layers(None, None, "%%%not-base64", None)
