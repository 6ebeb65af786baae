"""Shards, sequence numbers and shard iterators of the stream service, as pure functions.

* A stream of N shards splits the 128-bit hash key space 0..2^128-1 evenly; a record goes to the
  shard whose range holds the MD5 of its partition key (read as a big-endian integer), or its
  ExplicitHashKey.
* A record's *position* counts 1, 2, 3... within its shard. Its sequence number is the 56-digit
  decimal ``49`` + stream incarnation (14 digits) + shard index (6) + position (34): numbers of
  one shard sort, as integers or as strings, in write order, and a number from a deleted and
  re-created stream is recognisably foreign.
* A shard iterator is opaque to clients: URL-safe base64 of JSON naming the stream, its
  incarnation, the shard, the next position to read and when the iterator expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from bisect import bisect_left
from dataclasses import dataclass

from flare.services.errors import InvalidArgument

HASH_SPACE = 2**128
_PREFIX = "49"
_WIDTHS = (14, 6, 34)


@dataclass(frozen=True)
class Shard:
    index: int
    start_hash: int
    end_hash: int

    @property
    def shard_id(self) -> str:
        return shard_id(self.index)


@dataclass(frozen=True)
class Position:
    """Where an iterator points: the next record it reads is ``position`` of ``shard``."""

    stream: str
    incarnation: int
    shard: int
    position: int
    expires: float


def hash_ranges(shard_count: int) -> list[Shard]:
    """``shard_count`` shards covering the hash key space evenly, the last taking the rest."""
    size = HASH_SPACE // shard_count
    return [
        Shard(i, i * size, HASH_SPACE - 1 if i == shard_count - 1 else (i + 1) * size - 1)
        for i in range(shard_count)
    ]


def hash_key(partition_key: str, explicit_hash_key: str | None = None) -> int:
    """The 128-bit hash key of a record; raises InvalidArgument for a bad ExplicitHashKey."""
    if explicit_hash_key is not None:
        if not explicit_hash_key.isdigit() or int(explicit_hash_key) >= HASH_SPACE:
            raise InvalidArgument(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                f"Specified value was {explicit_hash_key}"
            )
        return int(explicit_hash_key)
    return int.from_bytes(hashlib.md5(partition_key.encode(), usedforsecurity=False).digest(), "big")


def shard_for(key: int, shards: list[Shard]) -> Shard:
    """The shard whose hash range holds ``key`` (``shards`` in index order, covering the space)."""
    return shards[bisect_left([shard.end_hash for shard in shards], key)]


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def shard_index(value: str, shard_count: int) -> int | None:
    """The index of a ShardId of a stream with ``shard_count`` shards, or None."""
    prefix, _, digits = value.partition("-")
    if prefix != "shardId" or not digits.isdigit() or int(digits) >= shard_count:
        return None
    return int(digits)


def sequence_number(incarnation: int, shard: int, position: int) -> str:
    return f"{_PREFIX}{incarnation:0{_WIDTHS[0]}d}{shard:0{_WIDTHS[1]}d}{position:0{_WIDTHS[2]}d}"


def parse_sequence_number(value: str) -> tuple[int, int, int]:
    """(incarnation, shard, position) of a sequence number; raises InvalidArgument."""
    if len(value) != len(_PREFIX) + sum(_WIDTHS) or not value.isdigit() or not value.startswith(_PREFIX):
        raise InvalidArgument(f"StartingSequenceNumber {value} used in GetShardIterator is invalid.")
    digits = value[len(_PREFIX) :]
    incarnation, shard = int(digits[: _WIDTHS[0]]), int(digits[_WIDTHS[0] : _WIDTHS[0] + _WIDTHS[1]])
    return incarnation, shard, int(digits[_WIDTHS[0] + _WIDTHS[1] :])


def encode_iterator(position: Position) -> str:
    raw = json.dumps(
        [position.stream, position.incarnation, position.shard, position.position, position.expires],
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_iterator(value: str) -> Position:
    """The position an iterator encodes; raises InvalidArgument when it is not an iterator."""
    try:
        stream, incarnation, shard, position, expires = json.loads(base64.urlsafe_b64decode(value.encode()))
        return Position(str(stream), int(incarnation), int(shard), int(position), float(expires))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidArgument(f"Invalid ShardIterator: {value[:64]}") from None
