"""The sandbox's /etc: its passwd and group, and the trees built from a host's /etc."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flare.sandbox.etc_tree import CA_BUNDLE, EtcTrees, build_etc_trees, group_text, passwd_text


def test_passwd_names_every_environment_uid_as_the_sandbox_user_after_root() -> None:
    lines = passwd_text(993, 990, range(20000, 20003)).splitlines()
    assert lines == [
        "root:x:0:0:root:/root:/bin/bash",
        "sbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin",
        "sbx_user1051:x:20000:990::/home/sbx_user1051:/sbin/nologin",
        "sbx_user1051:x:20001:990::/home/sbx_user1051:/sbin/nologin",
        "sbx_user1051:x:20002:990::/home/sbx_user1051:/sbin/nologin",
        "nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin",
    ]
    assert all(len(line.split(":")) == 7 for line in lines)


def test_group_names_the_sandbox_users_group() -> None:
    assert group_text(990).splitlines() == ["root:x:0:", "sbx_user1051:x:990:", "nobody:x:65534:"]


def _host_etc(tmp_path: Path) -> Path:
    host = tmp_path / "host-etc"
    (host / "ssl" / "certs").mkdir(parents=True)
    (host / "ssl" / "certs" / "ca-certificates.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    os.symlink("ca-certificates.crt", host / "ssl" / "certs" / "0123abcd.0")
    (host / "ssl" / "private").mkdir()
    (host / "ssl" / "private" / "key.pem").write_text("secret")
    (host / "resolv.conf").write_text("nameserver 192.0.2.53\n")
    (host / "ld.so.cache").write_bytes(b"cache")
    (host / "alternatives").mkdir()
    os.symlink("/usr/bin/mawk", host / "alternatives" / "awk")
    (host / "shadow").write_text("root:*:1::::::\n")
    (host / "machine-id").write_text("0" * 32)
    return host


def test_trees_hold_lambdas_set_and_nothing_else_of_the_host(tmp_path: Path) -> None:
    trees = build_etc_trees(tmp_path / "data", 993, 990, range(20000, 20002), _host_etc(tmp_path))
    default, isolated = trees.for_network("default"), trees.for_network("isolated")
    assert (default / "resolv.conf").read_text() == "nameserver 192.0.2.53\n"
    assert not (isolated / "resolv.conf").exists()
    for tree in (default, isolated):
        names = {str(path.relative_to(tree)) for path in tree.rglob("*")}
        assert not names & {
            "shadow",
            "machine-id",
            "ssl/private",
            "ssl/private/key.pem",
            "ssl/certs/0123abcd.0",
        }
        assert names >= {"passwd", "group", "hosts", "nsswitch.conf", "ld.so.cache", CA_BUNDLE}
        assert (tree / CA_BUNDLE).read_text() == "-----BEGIN CERTIFICATE-----\n"
        assert os.readlink(tree / "alternatives/awk") == "/usr/bin/mawk"
        assert os.readlink(tree / "pki/tls/certs/ca-bundle.crt") == "/etc/ssl/certs/ca-certificates.crt"
        assert "sbx_user1051:x:20001:990:" in (tree / "passwd").read_text()
        assert "127.0.0.1" in (tree / "hosts").read_text()


def test_trees_are_world_readable_and_writable_only_by_their_owner(tmp_path: Path) -> None:
    host = _host_etc(tmp_path)
    os.chmod(host / "ld.so.cache", 0o600)
    trees = build_etc_trees(tmp_path / "data", 993, 990, range(20000, 20001), host)
    for path in [trees.for_network("default"), *trees.for_network("default").rglob("*")]:
        if not path.is_symlink():
            assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), path


def test_a_new_start_rebuilds_a_tree_only_when_the_host_changed_it(tmp_path: Path) -> None:
    host = _host_etc(tmp_path)
    first = build_etc_trees(tmp_path / "data", 993, 990, range(20000, 20001), host)
    built = {network: first.for_network(network).stat().st_ino for network in ("default", "isolated")}
    (host / "resolv.conf").write_text("nameserver 192.0.2.54\n")
    trees = build_etc_trees(tmp_path / "data", 993, 990, range(20000, 20001), host)
    assert (trees.for_network("default") / "resolv.conf").read_text() == "nameserver 192.0.2.54\n"
    assert trees.for_network("default").stat().st_ino != built["default"]
    assert trees.for_network("isolated").stat().st_ino == built["isolated"]  # no resolv.conf there
    names = sorted(path.name for path in trees.root.iterdir())
    assert names == ["default", "default.digest", "isolated", "isolated.digest"]


def test_a_tree_without_its_digest_is_rebuilt(tmp_path: Path) -> None:
    host = _host_etc(tmp_path)
    trees = build_etc_trees(tmp_path / "data", 993, 990, range(20000, 20001), host)
    (trees.for_network("isolated") / "passwd").write_text("tampered")
    (trees.root / "isolated.digest").unlink()
    build_etc_trees(tmp_path / "data", 993, 990, range(20000, 20001), host)
    assert "sbx_user1051:x:20000:" in (trees.for_network("isolated") / "passwd").read_text()


@pytest.mark.parametrize(
    ("network", "tree"), [("default", "default"), ("isolated", "isolated"), ("", "default")]
)
def test_each_network_mode_has_its_tree(network: str, tree: str) -> None:
    assert EtcTrees(Path("/d")).for_network(network) == Path("/d") / tree
