"""Aliases and layer permissions changed by two nodes at once keep AWS's rules: two nodes'
controllers on one real ``redis-server``, the second never told of the first's changes (as
between a change and its notice) or interleaved between its read and its write.

Without compare-and-set, the second node's CreateAlias silently replaced the first's, its
UpdateAlias passed a RevisionId check against its stale cache and undid the first node's
change, and of two permissions granted at once one was lost.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from flare.clock import ManualClock
from flare.cluster.link import ClusterLink
from flare.cluster.redis_blobs import SharedBlobStore
from flare.cluster.redis_functions import FunctionScripts, RedisFunctionStore
from flare.cluster.redis_layers import RedisLayerStore
from flare.control.layers import Layers
from flare.control.registry import Registry
from flare.errors import PreconditionFailed, ResourceConflict, ResourceNotFound
from flare.scope import Scope
from flare.store.database import Database
from flare.store.layers import LayerVersionRow
from flare.store.opt_trees import OptTrees
from tests.redis_server import available
from tests.unit.test_registry import SettlingClock, create_body, make_zip

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed")

SCOPE = Scope("000000000000", "us-east-1")


def node(link: ClusterLink, root: Path) -> Registry:
    """One node's registry on the shared store (no change notices: it hears nothing)."""
    root.mkdir()
    store = RedisFunctionStore(
        link, SCOPE, FunctionScripts.register(link.sync), Database(root / "f.db", SCOPE)
    )
    registry = Registry(store, SharedBlobStore(root, link.sync), "us-east-1", "000000000000", SettlingClock())
    registry.load()
    return registry


@pytest.fixture
def nodes(link: ClusterLink, tmp_path: Path) -> tuple[Registry, Registry]:
    """Nodes a and b, both knowing function ``fn`` with versions 1 and 2."""
    a = node(link, tmp_path / "a")
    a.create_function(create_body(Publish=True))
    a.update_code("fn", {"ZipFile": base64.b64encode(make_zip("v = 2\n")).decode(), "Publish": True})
    return a, node(link, tmp_path / "b")


def test_an_alias_made_on_another_node_meanwhile_is_a_conflict(nodes: tuple[Registry, Registry]) -> None:
    a, b = nodes
    a.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    with pytest.raises(ResourceConflict, match="Alias already exists"):
        b.create_alias("fn", {"Name": "live", "FunctionVersion": "2"})
    assert a.get_alias("fn", "live")["FunctionVersion"] == "1"
    assert b.get_alias("fn", "live")["FunctionVersion"] == "1"  # b read it back


def test_a_revision_id_that_moved_on_another_node_is_refused(nodes: tuple[Registry, Registry]) -> None:
    a, b = nodes
    made = a.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    b.refresh("fn")
    a.update_alias("fn", "live", {"FunctionVersion": "2"})
    with pytest.raises(PreconditionFailed):
        b.update_alias("fn", "live", {"Description": "b", "RevisionId": made["RevisionId"]})
    assert a.get_alias("fn", "live")["Description"] == ""


def test_an_update_without_revision_id_builds_on_what_another_node_stored(
    nodes: tuple[Registry, Registry],
) -> None:
    a, b = nodes
    a.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    b.refresh("fn")
    a.update_alias("fn", "live", {"FunctionVersion": "2"})
    updated = b.update_alias("fn", "live", {"Description": "from b"})
    assert (updated["FunctionVersion"], updated["Description"]) == ("2", "from b")


def test_an_alias_of_a_function_deleted_on_another_node_is_not_made(
    nodes: tuple[Registry, Registry], link: ClusterLink
) -> None:
    a, b = nodes
    a.delete_function("fn", None)
    with pytest.raises(ResourceNotFound):
        b.create_alias("fn", {"Name": "live", "FunctionVersion": "1"})
    assert list(link.sync.scan_iter(match="*:aliases:*")) == []


# -- layer version permissions ------------------------------------------------------------------

LAYER_ARN = "arn:aws:lambda:us-east-1:000000000000:layer:lib"


class Interleaved(RedisLayerStore):
    """A node's layer store that runs ``between`` once, right after its first read: another
    node's change lands between this node's read and its write."""

    between: Callable[[], object] | None = None

    def get(self, name: str, version: int) -> LayerVersionRow | None:
        row = super().get(name, version)
        hook, self.between = self.between, None
        if hook is not None:
            hook()
        return row


def layer_node(store: RedisLayerStore, root: Path, link: ClusterLink) -> Layers:
    root.mkdir()
    blobs = SharedBlobStore(root, link.sync)
    return Layers(store, blobs, OptTrees(root, blobs), "us-east-1", "000000000000", ManualClock())


def grant(sid: str) -> dict[str, str]:
    return {"StatementId": sid, "Action": "lambda:GetLayerVersion", "Principal": "*"}


@pytest.fixture
def layer_nodes(link: ClusterLink, tmp_path: Path) -> tuple[Layers, Layers, Interleaved]:
    """Nodes a and b sharing version 1 of layer ``lib``; b's store interleaves."""
    shared = RedisLayerStore(link, SCOPE)
    shared.publish(
        "lib", lambda n: LayerVersionRow("lib", n, {"LayerVersionArn": f"{LAYER_ARN}:{n}"}, "z", 1)
    )
    b_store = Interleaved(link, SCOPE)
    a = layer_node(RedisLayerStore(link, SCOPE), tmp_path / "a", link)
    return a, layer_node(b_store, tmp_path / "b", link), b_store


def test_two_nodes_granting_at_once_both_land(layer_nodes: tuple[Layers, Layers, Interleaved]) -> None:
    a, b, b_store = layer_nodes
    b_store.between = lambda: a.add_permission("lib", 1, grant("from-a"), None)
    b.add_permission("lib", 1, grant("from-b"), None)
    policy = json.loads(a.get_policy("lib", 1)["Policy"])
    assert sorted(statement["Sid"] for statement in policy["Statement"]) == ["from-a", "from-b"]


def test_a_grant_naming_the_revision_another_node_just_moved_is_refused(
    layer_nodes: tuple[Layers, Layers, Interleaved],
) -> None:
    a, b, b_store = layer_nodes
    first = a.add_permission("lib", 1, grant("first"), None)["RevisionId"]
    b_store.between = lambda: a.add_permission("lib", 1, grant("between"), first)
    with pytest.raises(PreconditionFailed):
        b.add_permission("lib", 1, grant("late"), first)
    policy = json.loads(a.get_policy("lib", 1)["Policy"])
    assert [statement["Sid"] for statement in policy["Statement"]] == ["first", "between"]
