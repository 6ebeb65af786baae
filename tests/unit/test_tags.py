"""Tag limits and the dispatch of tag operations by ARN kind."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from flare.control import tags
from flare.control.tags import ResourceArn, Tagging
from flare.errors import InvalidParameterValue, ResourceNotFound

FN = "arn:aws:lambda:us-east-1:111111111111:function:f"
CSC = "arn:aws:lambda:us-east-1:111111111111:code-signing-config:csc-0123456789abcdef0"


@pytest.mark.parametrize(
    ("arn", "parsed"),
    [
        (FN, ResourceArn(FN, "function", "f")),
        (FN + ":live", ResourceArn(FN + ":live", "function", "f", "live")),
        (CSC, ResourceArn(CSC, "code-signing-config", "csc-0123456789abcdef0")),
        (
            "arn:aws:lambda:us-east-1:1:event-source-mapping:abc",
            ResourceArn("arn:aws:lambda:us-east-1:1:event-source-mapping:abc", "event-source-mapping", "abc"),
        ),
    ],
)
def test_parse_resource(arn: str, parsed: ResourceArn) -> None:
    assert tags.parse_resource(arn) == parsed


@pytest.mark.parametrize(
    "arn",
    ["arn:aws:something", "arn:aws:s3:::bucket:x:y", CSC + ":1", FN + ":1:2", "arn:aws:lambda:r:1:function:"],
)
def test_parse_resource_refuses_what_is_no_lambda_resource(arn: str) -> None:
    with pytest.raises(InvalidParameterValue):
        tags.parse_resource(arn)


def test_check_new_merges_within_the_limits() -> None:
    assert tags.check_new({"a": "1"}, {"a": "2", "b": ""}) == {"a": "2", "b": ""}
    assert len(tags.check_new({f"k{n}": "v" for n in range(49)}, {"k0": "x", "new": "v"})) == 50
    with pytest.raises(InvalidParameterValue, match=r"Number of tags exceeds resource tag limit\."):
        tags.check_new({f"k{n}": "v" for n in range(49)}, {"x": "1", "y": "2"})
    for reserved in ("aws:x", "AWS:x", "Aws:cost"):
        with pytest.raises(InvalidParameterValue, match="aws:"):
            tags.check_new({}, {reserved: "v"})
    assert tags.check_new({}, {"awsome": "v"}) == {"awsome": "v"}
    with pytest.raises(InvalidParameterValue):
        tags.check_new({}, {"a": 1})
    with pytest.raises(InvalidParameterValue):
        tags.check_new({}, ["a"])


def test_without_ignores_missing_keys() -> None:
    assert tags.without({"a": "1", "b": "2"}, ["b", "c"]) == {"a": "1"}


class FakeBackend:
    """Tags by resource id; ``kind`` names it in not-found messages."""

    def __init__(self, stored: dict[str, dict[str, str]]) -> None:
        self.stored = stored
        self.writes = 0

    def tags(self, resource: ResourceArn) -> dict[str, str]:
        if resource.resource_id not in self.stored:
            raise ResourceNotFound(f"not found: {resource.arn}")
        return dict(self.stored[resource.resource_id])

    def replace_tags(self, resource: ResourceArn, new_tags: Mapping[str, str]) -> None:
        self.stored[resource.resource_id] = dict(new_tags)
        self.writes += 1


def test_tagging_dispatches_by_kind_and_refuses_qualified_functions() -> None:
    functions = FakeBackend({"f": {"a": "1"}})
    configs = FakeBackend({"csc-0123456789abcdef0": {}})
    tagging = Tagging({tags.FUNCTION: functions, tags.CODE_SIGNING_CONFIG: configs})
    tagging.tag(FN, {"Tags": {"b": "2"}})
    tagging.tag(CSC, {"Tags": {"c": "3"}})
    assert tagging.list_tags(FN) == {"Tags": {"a": "1", "b": "2"}}
    assert tagging.list_tags(CSC) == {"Tags": {"c": "3"}}
    tagging.untag(FN, ["a", "zzz"])
    assert functions.stored["f"] == {"b": "2"}
    writes = functions.writes
    tagging.untag(FN, ["zzz"])
    assert functions.writes == writes
    with pytest.raises(
        InvalidParameterValue, match="Tags on function aliases and versions are not supported"
    ):
        tagging.list_tags(FN + ":1")
    with pytest.raises(
        InvalidParameterValue, match=r"An error occurred and the request cannot be processed\."
    ):
        tagging.tag(FN, {"Tags": {}})
    with pytest.raises(
        ResourceNotFound, match="Capacity provider not found: arn:aws:lambda:r:1:capacity-provider:c"
    ):
        tagging.list_tags("arn:aws:lambda:r:1:capacity-provider:c")
    with pytest.raises(ResourceNotFound, match="not found"):
        tagging.tag("arn:aws:lambda:r:1:function:other", {"Tags": {"a": "b"}})
