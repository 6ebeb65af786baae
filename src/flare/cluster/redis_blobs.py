"""Code zips shared by a cluster's nodes: content-addressed, fetched by a node on first use.

A node stores what it is given locally (``BlobStore``: ``blobs/sha256/<hex>.zip`` and the
unpacked tree) and once in the cluster's shared store, under its SHA-256:

* by default Redis itself, ``flare:cluster:blob:{<sha256>}`` (a plain string, written with
  ``SET NX``: the first writer's bytes stay). Any node can fetch it even after the node that
  uploaded it died. The cost is Redis memory: every distinct code zip and layer zip in use,
  once (50 MB at most each; a 5 MB zip over 100 versions that share it is 5 MB);
* with ``--cluster-blob-dir DIR`` (a directory every node mounts: NFS, a shared volume), that
  directory instead: ``DIR/<sha256>.zip``, written to a temporary name and renamed. A zip the
  directory lacks is still looked for in Redis (put there by a node without the flag).

Deleting (``delete_unused``, run by each node at start-up with the digests every function and
layer version of the cluster uses): a zip in Redis that nothing uses is first marked,
``flare:cluster:blob-unused:{<sha256>}`` = the wall time it was first seen unused, and deleted
by a later sweep once it has stayed unused ``UNUSED_GRACE_S``; a ``put`` clears the mark in the
same ``MULTI`` (the hash tag puts both keys in one slot). So a zip uploaded by another node
whose function is not stored yet is never taken: its mark is younger than the grace. Zips in
the shared directory are not deleted (a file cannot be checked and removed in one step with
the mark); the directory's owner prunes it.

A node that lacks a zip (a function created on another node; a new node joining) fetches it
when it first needs it (``path``: the registry unpacks a version's code when it caches it) and
checks its bytes against the digest, which is the function's ``CodeSha256``: bytes that do not
hash to it are refused (``InvalidZipFile``, 502 on invoke, logged) and not kept, so a later try
fetches again. Fetching uses the node's synchronous client: it happens when another node's
change is heard or at start-up, not per invoke.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from flare.clock import Clock, SystemClock
from flare.cluster.link import ClusterLink
from flare.errors import InvalidZipFile
from flare.store.blobs import BlobStore

if TYPE_CHECKING:
    import redis

log = logging.getLogger("flare.cluster.blobs")


UNUSED_GRACE_S = 3600.0

# KEYS: unused mark, blob; ARGV: cutoff (wall seconds). Deletes both while the mark is as old.
_DELETE_IF_STILL_UNUSED = """
local since = redis.call('GET', KEYS[1])
if not since or tonumber(since) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
"""


def blob_key(digest: str) -> str:
    """The Redis key of the zip whose SHA-256 hex digest is ``digest``."""
    return ClusterLink.cluster_key("blob", "{" + digest + "}")


def unused_key(digest: str) -> str:
    """The key of the wall time ``digest`` was first seen unused (in the blob's slot)."""
    return ClusterLink.cluster_key("blob-unused", "{" + digest + "}")


def code_sha256(digest: str) -> str:
    """The ``CodeSha256`` (base64) of the hex ``digest``."""
    return base64.b64encode(bytes.fromhex(digest)).decode()


class SharedBlobStore(BlobStore):
    """A node's ``BlobStore`` under ``root`` whose zips are also in the cluster's shared store
    (Redis through ``client``, or ``shared_dir``); see the module docstring."""

    def __init__(
        self, root: Path, client: redis.Redis, shared_dir: Path | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(root)
        self._client = client
        self._shared_dir = shared_dir
        self._clock: Clock = clock or SystemClock()
        self._delete_if_still_unused = client.register_script(_DELETE_IF_STILL_UNUSED)
        if shared_dir is not None:
            shared_dir.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        where = self._shared_dir if self._shared_dir is not None else "redis"
        return f"<SharedBlobStore {self.root} shared in {where}>"

    def put(self, data: bytes) -> str:
        """Store ``data`` here and, once, in the shared store; its SHA-256 hex digest."""
        digest = super().put(data)
        if self._shared_dir is None:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.set(blob_key(digest), data, nx=True)
                pipe.delete(unused_key(digest))
                pipe.execute()
        elif not (self._shared_dir / f"{digest}.zip").exists():
            _write_atomically(self._shared_dir, f"{digest}.zip", data)
        return digest

    def path(self, digest: str) -> Path:
        """The local zip ``digest``, fetched from the shared store first when missing. Raises
        InvalidZipFile when the shared store has no such zip or its bytes hash otherwise."""
        local = super().path(digest)
        if not local.exists():
            super().put(self._fetch(digest))
        return local

    def delete_unused(self, keep: set[str]) -> list[str]:
        """This node's zips and trees not in ``keep`` (``BlobStore.delete_unused``), and the
        shared zips in Redis that ``keep`` has not named for ``UNUSED_GRACE_S`` (see the module
        docstring); ``keep`` must be every digest the cluster uses. Returns the local ones."""
        removed = super().delete_unused(keep)
        now = self._clock.wall()
        pattern = ClusterLink.cluster_key("blob", "*")
        stored = {_text(key).rpartition(":")[2].strip("{}") for key in self._client.scan_iter(match=pattern)}
        marked = ClusterLink.cluster_key("blob-unused", "*")
        for key in self._client.scan_iter(match=marked):
            if _text(key).rpartition(":")[2].strip("{}") in keep:
                self._client.delete(key)  # used again: the grace starts over if it goes
        for digest in sorted(stored - keep):
            self._client.set(unused_key(digest), repr(now), nx=True)
            keys = [unused_key(digest), blob_key(digest)]
            if self._delete_if_still_unused(keys=keys, args=[repr(now - UNUSED_GRACE_S)]):
                log.info("deleted shared code %s: unused for %.0f s or more", digest, UNUSED_GRACE_S)
        return removed

    def _fetch(self, digest: str) -> bytes:
        """The shared copy of ``digest``, checked: from the shared directory if it has it, else
        from Redis (where a node without ``--cluster-blob-dir`` put it)."""
        shared = self._shared_dir / f"{digest}.zip" if self._shared_dir is not None else None
        if shared is not None and shared.exists():
            data: bytes | None = shared.read_bytes()
        else:
            stored = self._client.get(blob_key(digest))
            data = stored.encode() if isinstance(stored, str) else stored
        if data is None:
            log.error("code %s is in no shared store this node reaches", digest)
            sha = code_sha256(digest)
            raise InvalidZipFile(f"Lambda could not find the deployment package (CodeSha256 {sha}).")
        found = hashlib.sha256(data).hexdigest()
        if found != digest:
            log.error("refused the shared copy of code %s: its bytes hash to %s", digest, found)
            raise InvalidZipFile(
                f"Lambda could not unzip the deployment package: its bytes do not match "
                f"CodeSha256 {code_sha256(digest)}."
            )
        return data


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _write_atomically(directory: Path, name: str, data: bytes) -> None:
    temporary = directory / f".{name}.{uuid.uuid4().hex}.tmp"
    with open(temporary, "wb") as sink:
        sink.write(data)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, directory / name)
