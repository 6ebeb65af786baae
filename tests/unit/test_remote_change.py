"""What another node's change to a function means here (``control/remote_change.py``)."""

from __future__ import annotations

import pytest

from flare.control.remote_change import Kind, Notice, notices

CASES = [
    ({}, {}, []),
    ({}, {"$LATEST": "a"}, [Notice(Kind.CREATED, "$LATEST")]),
    ({}, {"$LATEST": "a", "1": "b"}, [Notice(Kind.CREATED, "$LATEST"), Notice(Kind.PUBLISHED, "1")]),
    ({"$LATEST": "a", "1": "b"}, {}, [Notice(Kind.CHANGED, None)]),
    ({"$LATEST": "a", "1": "b"}, {"$LATEST": "a"}, [Notice(Kind.CHANGED, "1")]),
    ({"$LATEST": "a"}, {"$LATEST": "c"}, [Notice(Kind.CHANGED, "$LATEST")]),
    ({"$LATEST": "a"}, {"$LATEST": "a", "2": "d"}, [Notice(Kind.PUBLISHED, "2")]),
    ({"$LATEST": "a", "1": "b"}, {"$LATEST": "a", "1": "b"}, []),  # a state settled: same revisions
    (
        {"$LATEST": "a", "1": "b"},
        {"$LATEST": "c", "2": "d"},
        [Notice(Kind.CHANGED, "1"), Notice(Kind.CHANGED, "$LATEST"), Notice(Kind.PUBLISHED, "2")],
    ),
]


@pytest.mark.parametrize(("before", "after", "expected"), CASES)
def test_notices_turn_the_cached_revisions_into_the_stored_ones(
    before: dict[str, str], after: dict[str, str], expected: list[Notice]
) -> None:
    assert notices(before, after) == expected
