"""The stream service with a ManualClock: hash-range routing, per-shard order, iterator types,
retention and iterator expiry by the injected clock, and records surviving a reopen."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flare.clock import ManualClock
from flare.scope import Scope
from flare.services import shard as shards
from flare.services.errors import ExpiredIterator, InvalidArgument, StreamInUse, StreamNotFound
from flare.services.stream import StreamService
from flare.store.database import Database
from flare.store.services import ServiceStore

SCOPE = Scope("000000000000", "us-east-1")

HOUR = 3600.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ServiceStore]:
    db = ServiceStore(Database(tmp_path / "services.db", SCOPE), SCOPE)
    yield db
    db.close()


@pytest.fixture
def streams(store: ServiceStore, clock: ManualClock) -> StreamService:
    return StreamService(store, clock, "us-east-1", "000000000000")


def read_all(
    streams: StreamService, name: str, shard_id: str, iterator_type: str = "TRIM_HORIZON"
) -> list[bytes]:
    batch = streams.get_records(streams.shard_iterator(name, shard_id, iterator_type))
    return [record.data for record in batch.records]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_hash_ranges_cover_the_key_space_without_gaps(count: int) -> None:
    ranges = shards.hash_ranges(count)
    assert ranges[0].start_hash == 0
    assert ranges[-1].end_hash == 2**128 - 1
    for before, after in itertools.pairwise(ranges):
        assert after.start_hash == before.end_hash + 1
    sizes = {r.end_hash - r.start_hash for r in ranges[:-1]}
    assert len(sizes) <= 1


def test_two_shards_split_at_half_the_space() -> None:
    low, high = shards.hash_ranges(2)
    assert low.end_hash == 170141183460469231731687303715884105727
    assert high.start_hash == 170141183460469231731687303715884105728


@pytest.mark.parametrize(
    ("key", "index"),
    [(0, 0), (2**127 - 1, 0), (2**127, 1), (2**128 - 1, 1)],
)
def test_shard_for_picks_the_range_holding_the_key(key: int, index: int) -> None:
    assert shards.shard_for(key, shards.hash_ranges(2)).index == index


def test_partition_key_hashes_by_md5_as_a_big_endian_integer() -> None:
    expected = int(hashlib.md5(b"user-7").hexdigest(), 16)
    assert shards.hash_key("user-7") == expected
    assert shards.hash_key("ignored", "42") == 42
    with pytest.raises(InvalidArgument):
        shards.hash_key("k", str(2**128))


def test_sequence_numbers_round_trip_and_sort_in_write_order() -> None:
    numbers = [shards.sequence_number(3, 1, position) for position in (1, 2, 10, 11, 100)]
    assert [shards.parse_sequence_number(n) for n in numbers][2] == (3, 1, 10)
    assert numbers == sorted(numbers) == sorted(numbers, key=int)
    assert all(len(n) == 56 for n in numbers)


def test_records_of_each_shard_come_back_in_put_order(streams: StreamService) -> None:
    streams.create_stream("s", 3)
    sent: dict[str, list[bytes]] = {}
    for i in range(60):
        data = f"{i}".encode()
        result = streams.put_record("s", f"key-{i % 9}", data)
        sent.setdefault(result.shard_id, []).append(data)
    assert len(sent) == 3
    for shard_id, expected in sent.items():
        assert read_all(streams, "s", shard_id) == expected


def test_sequence_numbers_increase_per_shard(streams: StreamService) -> None:
    streams.create_stream("s", 1)
    numbers = [streams.put_record("s", "k", b"x").sequence_number for _ in range(5)]
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    assert len(set(numbers)) == 5


def test_explicit_hash_key_chooses_the_shard(streams: StreamService) -> None:
    streams.create_stream("s", 2)
    assert streams.put_record("s", "k", b"x", explicit_hash_key="0").shard_id == "shardId-000000000000"
    assert (
        streams.put_record("s", "k", b"x", explicit_hash_key=str(2**128 - 1)).shard_id
        == "shardId-000000000001"
    )


def test_iterator_types_start_where_they_say(streams: StreamService, clock: ManualClock) -> None:
    streams.create_stream("s", 1)
    shard = "shardId-000000000000"
    numbers = []
    for data in (b"a", b"b", b"c"):
        numbers.append(streams.put_record("s", "k", data).sequence_number)
        clock.advance(10)

    def read(kind: str, **kwargs: Any) -> list[bytes]:
        iterator = streams.shard_iterator("s", shard, kind, **kwargs)
        return [record.data for record in streams.get_records(iterator).records]

    assert read("TRIM_HORIZON") == [b"a", b"b", b"c"]
    assert read("LATEST") == []
    assert read("AT_SEQUENCE_NUMBER", sequence_number=numbers[1]) == [b"b", b"c"]
    assert read("AFTER_SEQUENCE_NUMBER", sequence_number=numbers[1]) == [b"c"]
    assert read("AT_TIMESTAMP", timestamp=clock.wall() - 25) == [b"b", b"c"]
    assert read("AT_TIMESTAMP", timestamp=clock.wall()) == []


def test_latest_iterator_sees_only_later_records(streams: StreamService) -> None:
    streams.create_stream("s", 1)
    streams.put_record("s", "k", b"before")
    iterator = streams.shard_iterator("s", "shardId-000000000000", "LATEST")
    streams.put_record("s", "k", b"after")
    batch = streams.get_records(iterator)
    assert [r.data for r in batch.records] == [b"after"]
    assert streams.get_records(batch.next_iterator).records == []


def test_limit_pages_through_a_shard_with_next_iterator_and_millis_behind(
    streams: StreamService, clock: ManualClock
) -> None:
    streams.create_stream("s", 1)
    for i in range(5):
        streams.put_record("s", "k", bytes([i]))
        clock.advance(1)
    batch = streams.get_records(streams.shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON"), limit=2)
    assert [r.data for r in batch.records] == [b"\x00", b"\x01"]
    assert batch.millis_behind_latest == 4000
    rest = streams.get_records(batch.next_iterator)
    assert [r.data for r in rest.records] == [b"\x02", b"\x03", b"\x04"]
    assert rest.millis_behind_latest == 0


def test_records_past_retention_are_not_returned(streams: StreamService, clock: ManualClock) -> None:
    streams.create_stream("s", 1)
    streams.put_record("s", "k", b"old")
    clock.advance(23 * HOUR)
    streams.put_record("s", "k", b"new")
    clock.advance(1 * HOUR)
    assert read_all(streams, "s", "shardId-000000000000") == [b"new"]
    streams.set_retention("s", 48, increase=True)
    clock.advance(23 * HOUR)
    assert read_all(streams, "s", "shardId-000000000000") == [b"new"]


def test_iterators_expire_after_five_minutes(streams: StreamService, clock: ManualClock) -> None:
    streams.create_stream("s", 1)
    iterator = streams.shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON")
    clock.advance(300)
    next_iterator = streams.get_records(iterator).next_iterator
    clock.advance(300.1)
    with pytest.raises(ExpiredIterator):
        streams.get_records(next_iterator)


def test_a_sequence_number_of_another_shard_is_refused(streams: StreamService) -> None:
    streams.create_stream("s", 2)
    number = streams.put_record("s", "k", b"x", explicit_hash_key="0").sequence_number
    with pytest.raises(InvalidArgument):
        streams.shard_iterator("s", "shardId-000000000001", "AT_SEQUENCE_NUMBER", sequence_number=number)
    with pytest.raises(InvalidArgument):
        streams.shard_iterator("s", "shardId-000000000000", "AT_SEQUENCE_NUMBER", sequence_number="12")


def test_iterators_of_a_deleted_and_recreated_stream_stop_working(streams: StreamService) -> None:
    streams.create_stream("s", 1)
    streams.put_record("s", "k", b"x")
    iterator = streams.shard_iterator("s", "shardId-000000000000", "TRIM_HORIZON")
    streams.delete_stream("s")
    streams.create_stream("s", 1)
    with pytest.raises(StreamNotFound):
        streams.get_records(iterator)
    assert read_all(streams, "s", "shardId-000000000000") == []


def test_records_and_sequence_survive_reopening_the_store(tmp_path: Path, clock: ManualClock) -> None:
    first_store = ServiceStore(Database(tmp_path / "s.db", SCOPE), SCOPE)
    first = StreamService(first_store, clock, "us-east-1", "000000000000")
    first.create_stream("s", 2)
    before = [first.put_record("s", f"k{i}", bytes([i])) for i in range(10)]
    first_store.close()

    second_store = ServiceStore(Database(tmp_path / "s.db", SCOPE), SCOPE)
    second = StreamService(second_store, clock, "us-east-1", "000000000000")
    after = second.put_record("s", "k0", b"more")
    same_shard = [r.sequence_number for r in before if r.shard_id == after.shard_id]
    assert int(after.sequence_number) > int(max(same_shard, key=int))
    total = sum(len(read_all(second, "s", shard.shard_id)) for shard in second.shards("s"))
    assert total == 11
    second_store.close()


@pytest.mark.parametrize(
    ("name", "count", "error"),
    [("bad name!", 1, InvalidArgument), ("ok", 0, InvalidArgument), ("ok", 501, Exception)],
)
def test_bad_create_stream_arguments_are_refused(
    streams: StreamService, name: str, count: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        streams.create_stream(name, count)


def test_creating_an_existing_stream_is_in_use(streams: StreamService) -> None:
    streams.create_stream("s", 1)
    with pytest.raises(StreamInUse):
        streams.create_stream("s", 1)


def test_on_demand_streams_get_four_shards(streams: StreamService) -> None:
    streams.create_stream("s", None, "ON_DEMAND")
    assert [s.shard_id for s in streams.shards("s")][-1] == "shardId-000000000003"


def test_retention_changes_must_go_the_way_they_say(streams: StreamService) -> None:
    streams.create_stream("s", 1)
    with pytest.raises(InvalidArgument):
        streams.set_retention("s", 12, increase=False)
    with pytest.raises(InvalidArgument):
        streams.set_retention("s", 48, increase=False)
    streams.set_retention("s", 48, increase=True)
    assert streams.stream("s").retention_hours == 48


def test_stream_arns_resolve_to_names(streams: StreamService) -> None:
    streams.create_stream("s", 1)
    assert streams.name_of(streams.arn("s")) == "s"
    with pytest.raises(StreamNotFound):
        streams.name_of("arn:aws:kinesis:us-east-1:000000000000:stream/other")


@pytest.mark.parametrize(
    "arn",
    ["arn:aws:kinesis:eu-west-1:000000000000:stream/s", "arn:aws:kinesis:us-east-1:111122223333:stream/s"],
)
def test_a_stream_arn_of_another_account_or_region_is_not_this_services(
    streams: StreamService, arn: str
) -> None:
    streams.create_stream("s", 1)
    with pytest.raises(StreamNotFound):
        streams.name_of(arn)
