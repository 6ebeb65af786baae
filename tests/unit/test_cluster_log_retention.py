"""A node takes the retention the cluster recorded for the log groups it holds
(``cluster/log_retention.py``)."""

from __future__ import annotations

from pathlib import Path

from flare.cluster.log_retention import apply, parse
from flare.scope import Scope
from flare.store.database import Database
from flare.store.log_index import LogIndex

SCOPE = Scope("000000000000", "us-east-1")


def test_the_recorded_hash_reads_as_days_or_cleared() -> None:
    raw: dict[bytes | str, bytes | str] = {b"/a": b"7", b"/b": b"", "/c": "14", b"/d": b"nonsense"}
    assert parse(raw) == {"/a": 7, "/b": None, "/c": 14}


def test_a_node_sets_the_recorded_retention_on_the_groups_it_holds_only(tmp_path: Path) -> None:
    index = LogIndex(Database(tmp_path / "flare.db", SCOPE), SCOPE)
    index.create_group("/held-none", 1)
    index.create_group("/held-seven", 1)
    index.set_retention("/held-seven", 7)
    index.create_group("/held-same", 1)
    index.set_retention("/held-same", 30)
    changed = apply(index, {"/held-none": 14, "/held-seven": None, "/held-same": 30, "/not-held": 1})
    assert changed == ["/held-none", "/held-seven"]
    assert [(row.name, row.retention_days) for row in index.groups()] == [
        ("/held-none", 14),
        ("/held-same", 30),
        ("/held-seven", None),
    ]
    assert index.group("/not-held") is None
