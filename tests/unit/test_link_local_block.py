"""The nftables text that makes link-local addresses unreachable, and which tables a start sweeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from flare.cluster.link import redis_addresses
from flare.sandbox.link_local_block import removal, ruleset, stale_tables, table_name

OWN = "flare_aaaaaaaaaaaa_100"


def test_table_name_is_the_data_dirs_digest_and_the_pid(tmp_path: Path) -> None:
    name = table_name(tmp_path, 4242)
    assert name.startswith("flare_") and name.endswith("_4242")
    assert name == table_name(tmp_path / "." / "", 4242) != table_name(tmp_path / "other", 4242)


def test_ruleset_rejects_the_blocked_addresses_for_the_uid_ranges_only() -> None:
    text = ruleset("flare_t", (range(19_999, 30_000), range(100_000, 1_100_000)))
    assert text.startswith("table inet flare_t {\n")
    assert "type filter hook output priority filter; policy accept;" in text
    who = "meta skuid { 19999-29999, 100000-1099999 } "
    rules = [line.strip().removeprefix(who) for line in text.splitlines() if "skuid" in line]
    assert rules == [
        "ip daddr { 169.254.0.0/16 } meta l4proto tcp reject with tcp reset",
        "ip daddr { 169.254.0.0/16 } reject with icmpx admin-prohibited",
        "ip6 daddr { fe80::/10, fd00:ec2::254 } meta l4proto tcp reject with tcp reset",
        "ip6 daddr { fe80::/10, fd00:ec2::254 } reject with icmpx admin-prohibited",
    ]


@pytest.mark.parametrize(
    ("tables", "alive", "stale"),
    [
        ([], {}, []),
        ([OWN], {100: True}, [OWN]),  # rewritten whole
        (["flare_aaaaaaaaaaaa_7"], {7: False}, ["flare_aaaaaaaaaaaa_7"]),  # same data dir, killed
        (["flare_aaaaaaaaaaaa_7"], {7: True}, ["flare_aaaaaaaaaaaa_7"]),  # same data dir, still there
        (["flare_bbbbbbbbbbbb_8"], {8: True}, []),  # another live engine's
        (["flare_bbbbbbbbbbbb_8"], {8: False}, ["flare_bbbbbbbbbbbb_8"]),  # another, dead engine's
        (["flare_bbbbbbbbbbbb_8"], {}, []),  # unknown: kept
        (["filter", "flare", "flare_x_1", "docker_aaaaaaaaaaaa_1"], {1: False}, []),  # not ours
    ],
)
def test_a_start_sweeps_its_data_dirs_tables_and_dead_engines(
    tables: list[str], alive: dict[int, bool], stale: list[str]
) -> None:
    assert stale_tables(tables, OWN, alive) == stale


def test_ruleset_also_refuses_tcp_to_each_service_address_and_port() -> None:
    text = ruleset("flare_t", (range(10, 20),), (("10.0.0.7", 6379), ("fd00::7", 6380)))
    rules = [line.strip().removeprefix("meta skuid { 10-19 } ") for line in text.splitlines()]
    assert rules[-4:] == [
        "ip daddr 10.0.0.7 tcp dport 6379 reject with tcp reset",
        "ip6 daddr fd00::7 tcp dport 6380 reject with tcp reset",
        "}",
        "}",
    ]


def test_a_redis_url_names_the_addresses_its_host_resolves_to() -> None:
    assert redis_addresses("redis://127.0.0.1:7001/0") == (("127.0.0.1", 7001),)
    assert ("127.0.0.1", 6379) in redis_addresses("rediss://:secret@localhost/2")  # default port
    assert redis_addresses("unix:///run/redis.sock") == ()
    assert redis_addresses("redis://no-such-host.invalid:6379") == ()


def test_removal_declares_before_deleting_so_a_missing_table_is_no_error() -> None:
    assert removal(["a", "b"]) == "table inet a\ndelete table inet a\ntable inet b\ndelete table inet b\n"
    assert removal([]) == ""
