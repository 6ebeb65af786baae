"""The ``/etc`` an environment sees: Lambda's small set, not the host's.

Lambda's ``/etc`` names root and the sandbox user (``sbx_user1051``, uid 993, gid 990), resolves
``localhost``, holds the CA certificates and little else. Flare builds that tree once per engine
start, under ``<data>/sandbox/etc/<network>/``, and every sandboxed environment mounts it
read-only at ``/etc`` (``isolation.fixed_mounts``) instead of the host's ``/etc``:

- ``passwd`` / ``group``: root, nobody, and ``sbx_user1051`` for Lambda's uid 993 *and* for the
  uids Flare's environments run as (``isolation.named_uids``: every on-demand environment's,
  lowest first, then the first SnapStart restores'), so that ``getpass.getuser()`` answers
  ``sbx_user1051`` there (a lookup by uid finds its own line early: uids are handed out
  lowest-free-first). ``getpwnam("sbx_user1051")`` answers uid 993, as on Lambda, not the
  environment's own uid;
- ``hosts`` (localhost, IPv4 and IPv6, as Amazon Linux writes it), ``nsswitch.conf`` (files, then
  DNS for hosts), ``resolv.conf`` (a copy of the host's, for the default network; none in the
  ``isolated`` tree, whose network has no route to a resolver);
- the CA certificates: the host's bundle (with any CA its operator added) at
  ``ssl/certs/ca-certificates.crt``, where ``ssl.get_default_verify_paths()`` points, and at
  ``pki/tls/certs/ca-bundle.crt``, Amazon Linux's name for it; ``ssl/openssl.cnf``. Like
  Lambda's, the tree holds the bundle only, not OpenSSL's hashed directory of single CAs;
- what the interpreters and host tools under the bound ``/usr`` need to start: ``ld.so.cache``,
  ``ld.so.conf(.d)``, ``alternatives/`` (symlinks ``/usr/bin`` tools go through), ``localtime``
  (UTC, as Lambda's ``TZ=:UTC``), ``os-release`` (the host's: ``/usr`` is the host's),
  ``protocols`` and ``services``;
- the configuration the host's JDKs read through symlinks into ``/etc`` (Debian's OpenJDK keeps
  its ``conf/``, ``jvm.cfg`` and security files in ``java-NN-openjdk/``, its CA store in
  ``ssl/certs/java/cacerts``): each ``java-*`` directory whole, and that store. Without them
  such a JDK fails as its security classes load ("Error loading java.security file").

Nothing else of the host's ``/etc`` (its users, ``machine-id``, package-manager and tool
configuration, keys) is visible. Without namespaces (``--no-sandbox``, or not root) an
environment sees the host's paths, ``/etc`` included. Files are root's, 0644 in 0755
directories.

Each start reads what a tree would hold (a few hundred small entries) and rebuilds it only when
that differs from the last build (its digest is kept beside it, ``<network>.digest``): writing
the ~400 symlinks of ``alternatives/`` costs ~50 ms on some filesystems, reading them ~2 ms. A
tree is built under a temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SANDBOX_USER = "sbx_user1051"  # Lambda's name for uid 993
NETWORKS = ("default", "isolated")
HOST_ETC = Path("/etc")
# copied from the host's /etc when there: files (followed), and the entries of flat directories
HOST_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "os-release",
    "protocols",
    "services",
    "ssl/openssl.cnf",
    "ssl/certs/java/cacerts",
)
JDK_DIRS = "java-*"  # copied whole (nested), for the JDKs under /usr/lib/jvm
HOST_DIRS = ("ld.so.conf.d", "alternatives")
CA_BUNDLE = "ssl/certs/ca-certificates.crt"
AMAZON_CA_BUNDLE = "pki/tls/certs/ca-bundle.crt"
LOCALTIME_TARGET = "/usr/share/zoneinfo/UTC"

HOSTS = (
    "127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n"
    "::1         localhost localhost.localdomain localhost6 localhost6.localdomain6\n"
    "127.0.0.1   sandbox.localdomain sandbox\n"
)
NSSWITCH = (
    "passwd:     files\n"
    "group:      files\n"
    "shadow:     files\n"
    "hosts:      files dns\n"
    "networks:   files\n"
    "protocols:  files\n"
    "services:   files\n"
)


@dataclass(frozen=True)
class Link:
    """A symlink's target."""

    target: str


Entry = bytes | Link  # a file's content, or a symlink
Tree = dict[str, Entry]  # relative path -> entry; directories are implied


@dataclass(frozen=True)
class EtcTrees:
    """The built trees, one per network mode."""

    root: Path

    def for_network(self, network: str) -> Path:
        """The tree of ``network`` (``isolated`` or anything else: ``default``)."""
        return self.root / ("isolated" if network == "isolated" else "default")


def passwd_text(sandbox_uid: int, sandbox_gid: int, env_uids: Iterable[int]) -> str:
    """``/etc/passwd``: root, Lambda's sandbox user, every environment uid under the same
    name, then nobody. Pure."""
    user = f"{SANDBOX_USER}:x:{{uid}}:{sandbox_gid}::/home/{SANDBOX_USER}:/sbin/nologin\n"
    lines = ["root:x:0:0:root:/root:/bin/bash\n", user.format(uid=sandbox_uid)]
    lines += [user.format(uid=uid) for uid in env_uids]
    lines.append("nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\n")
    return "".join(lines)


def group_text(sandbox_gid: int) -> str:
    """``/etc/group``: root, the sandbox user's own group, nobody. Pure."""
    return f"root:x:0:\n{SANDBOX_USER}:x:{sandbox_gid}:\nnobody:x:65534:\n"


def digest_of(tree: Tree) -> str:
    """A digest of every path and entry of ``tree``. Pure."""
    hasher = hashlib.sha256()
    for path in sorted(tree):
        entry = tree[path]
        kind, data = (b"L", entry.target.encode()) if isinstance(entry, Link) else (b"F", entry)
        hasher.update(b"%s\0%s\0%d\0" % (path.encode(), kind, len(data)) + data)
    return hasher.hexdigest()


def tree_for(network: str, host_etc: Path, passwd: str, group: str) -> Tree:
    """What ``network``'s tree holds, read from ``host_etc`` (what it lacks is left out)."""
    tree: Tree = {
        "passwd": passwd.encode(),
        "group": group.encode(),
        "hosts": HOSTS.encode(),
        "nsswitch.conf": NSSWITCH.encode(),
    }
    wanted = [*HOST_FILES, CA_BUNDLE] + (["resolv.conf"] if network != "isolated" else [])
    for name in wanted:
        if (host_etc / name).is_file():
            tree[name] = (host_etc / name).read_bytes()
    for name in HOST_DIRS:
        if (host_etc / name).is_dir():
            tree.update(_flat_entries(host_etc / name, name))
    for jdk_dir in sorted(host_etc.glob(JDK_DIRS)):
        if jdk_dir.is_dir() and not jdk_dir.is_symlink():
            tree.update(_nested_entries(jdk_dir, jdk_dir.name))
    if CA_BUNDLE in tree:
        tree[AMAZON_CA_BUNDLE] = Link(f"/etc/{CA_BUNDLE}")
    if os.path.exists(LOCALTIME_TARGET):
        tree["localtime"] = Link(LOCALTIME_TARGET)
    return tree


def _flat_entries(directory: Path, prefix: str) -> Tree:
    """The symlinks and files directly in ``directory``, under ``prefix``."""
    found: Tree = {}
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_symlink():
                found[f"{prefix}/{entry.name}"] = Link(os.readlink(entry.path))
            elif entry.is_file():
                found[f"{prefix}/{entry.name}"] = Path(entry.path).read_bytes()
    return found


def _nested_entries(directory: Path, prefix: str) -> Tree:
    """The symlinks and files under ``directory`` at any depth, under ``prefix``."""
    found: Tree = {}
    for top, dirs, files in os.walk(directory):
        relative = os.path.relpath(top, directory)
        at = prefix if relative == "." else f"{prefix}/{relative}"
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(top, d)))]:
            path = os.path.join(top, name)
            if os.path.islink(path):
                found[f"{at}/{name}"] = Link(os.readlink(path))
            elif os.path.isfile(path):
                found[f"{at}/{name}"] = Path(path).read_bytes()
    return found


def build_etc_trees(
    data_dir: Path, sandbox_uid: int, sandbox_gid: int, env_uids: Iterable[int], host_etc: Path = HOST_ETC
) -> EtcTrees:
    """Bring both trees under ``data_dir/sandbox/etc`` up to date with ``host_etc``: each is
    rebuilt when what it would hold changed since it was built. Raises OSError when one cannot
    be written."""
    trees = EtcTrees(data_dir / "sandbox" / "etc")
    trees.root.mkdir(parents=True, exist_ok=True)
    passwd, group = passwd_text(sandbox_uid, sandbox_gid, env_uids), group_text(sandbox_gid)
    for network in NETWORKS:
        tree = tree_for(network, host_etc, passwd, group)
        final = trees.for_network(network)
        stamp = final.with_name(f"{final.name}.digest")
        digest = digest_of(tree)
        if final.is_dir() and stamp.is_file() and stamp.read_text() == digest:
            continue
        building = trees.root / f".building-{uuid.uuid4().hex}"
        try:
            _write_tree(building, tree)
            _replace(building, final)
            stamp.write_text(digest)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return trees


def _write_tree(top: Path, tree: Tree) -> None:
    """Write ``tree`` under the new directory ``top``: directories 0755, files 0644 (whatever
    the umask), symlinks as they are."""
    top.mkdir(mode=0o755)
    os.chmod(top, 0o755)
    for path in sorted(tree):
        entry, target = tree[path], top / path
        for parent in reversed(target.relative_to(top).parents[:-1]):
            if not (top / parent).is_dir():
                (top / parent).mkdir()
                os.chmod(top / parent, 0o755)
        if isinstance(entry, Link):
            os.symlink(entry.target, target)
        else:
            target.write_bytes(entry)
            os.chmod(target, 0o644)


def _replace(built: Path, final: Path) -> None:
    """Put ``built`` at ``final``, the old tree (if any) moved aside and removed."""
    old = final.with_name(f".old-{uuid.uuid4().hex}")
    if final.exists():
        final.rename(old)
    built.rename(final)
    shutil.rmtree(old, ignore_errors=True)
