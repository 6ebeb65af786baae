"""Aliases changed by two nodes at once: two registries on one real ``redis-server``, the second
never told of the first's changes (as between a change and its notice), keep AWS's rules.

Without compare-and-set on the alias, the second node's CreateAlias silently replaced the
first's, and its UpdateAlias passed a RevisionId check against its stale cache and undid the
first node's change.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from flare.cluster.link import ClusterLink
from flare.cluster.redis_blobs import SharedBlobStore
from flare.cluster.redis_functions import FunctionScripts, RedisFunctionStore
from flare.control.registry import Registry
from flare.errors import PreconditionFailed, ResourceConflict, ResourceNotFound
from flare.scope import Scope
from flare.store.database import Database
from tests.redis_server import RedisServer, available
from tests.unit.test_registry import SettlingClock, create_body, make_zip

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed")

SCOPE = Scope("000000000000", "us-east-1")


@pytest.fixture
def link(redis_server: RedisServer) -> Iterator[ClusterLink]:
    made = ClusterLink(redis_server.url, "node-a")
    made.sync.flushdb()
    yield made
    made.sync.close()


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
