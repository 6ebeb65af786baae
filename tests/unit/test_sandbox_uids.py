"""On-demand environments' uids (``Isolation.allocate_uid``): each live environment has its own,
the lowest free one is handed out, and a uid given back is handed out again."""

from __future__ import annotations

from pathlib import Path

import pytest

from flare.runtimes.lambda_python.uids import ENV_UID_BASE, ENV_UID_SLOTS
from flare.sandbox.isolation import Isolation


def isolation() -> Isolation:
    return Isolation(True, None, Path("/mnt"), Path("/sdk"), 2)


def test_the_lowest_free_uid_is_handed_out_and_none_twice() -> None:
    sandbox = isolation()
    uids = [sandbox.allocate_uid() for _ in range(1000)]
    assert uids == list(range(ENV_UID_BASE, ENV_UID_BASE + 1000))
    for uid in (uids[500], uids[7], uids[7], uids[900]):  # 7 given back twice
        sandbox.release_uid(uid)
    again = [sandbox.allocate_uid() for _ in range(4)]
    assert again == [uids[7], uids[500], uids[900], ENV_UID_BASE + 1000]


def test_a_uid_a_restore_holds_is_skipped() -> None:
    sandbox = isolation()
    first = sandbox.allocate_uid()
    sandbox.release_uid(first)
    assert sandbox.allocate_uid(range(first, first + 1)) == first  # taken by another way
    assert sandbox.allocate_uid() == first + 1


def test_the_range_runs_out() -> None:
    sandbox = isolation()
    for _ in range(ENV_UID_SLOTS):
        sandbox.allocate_uid()
    with pytest.raises(OSError, match="no free sandbox uid"):
        sandbox.allocate_uid()
