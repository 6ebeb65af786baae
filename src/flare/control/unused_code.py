"""Deleting code no one needs, once, for every account and region together.

Function and layer zips (and their unpacked trees) live in one content-addressed blob store
shared by every account and region, and so do the merged ``/opt`` trees of layer lists: what one
scope no longer needs another may still use. So the sweep runs once, at start-up, after every
scope has loaded and before any request can upload code (``BlobStore.delete_unused`` must not
race a ``put``): deleted layer versions no function lists are forgotten scope by scope, then the
blobs and merged trees that nothing left names are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable

from flare.control.layers import Layers
from flare.control.registry import Registry
from flare.store.blobs import BlobStore
from flare.store.opt_trees import OptTrees


def delete_unused(blobs: BlobStore, opt_trees: OptTrees, scopes: Iterable[tuple[Registry, Layers]]) -> None:
    """Sweep (see the module docstring); ``scopes`` are every loaded account and region."""
    listed = [(registry, layers, registry.layer_lists()) for registry, layers in scopes]
    every_list = [references for _, _, lists in listed for references in lists]
    for _, layers, _ in listed:  # a function may list another account's layer version
        layers.forget_unlisted(every_list)
    keys: set[str] = set()
    digests: set[str] = set()
    for registry, layers, lists in listed:
        keys |= layers.tree_keys(lists)
        digests |= registry.code_digests() | layers.code_digests()
    opt_trees.delete_unused(keys)
    blobs.delete_unused(digests)
