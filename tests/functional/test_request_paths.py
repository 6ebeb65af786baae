"""Every path built from a request stays inside the data dir (issue 13, point 4's last item).

Each route that takes a name into a path gets ``..``, ``..%2F`` and friends: the Lambda API's
(and Flare's own ``/flare/v1/functions/{name}/logs``) answer 400 in AWS's shape before anything
is opened; CloudWatch Logs, whose names may hold ``/`` and ``.`` (as AWS's do), stores events
under digests of the names, so nothing is written beside the data dir either way.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import FlareServer
from tests.fuzz.raw_http import RawRequest, exchange, signed_bytes

TRAVERSALS = [
    "..%2F..%2F..%2Fescape",
    "..",
    "%2E%2E",
    "..%2f",
    "%2E%2E%2F%2E%2E%2Fescape",
    "a%00b",
    "..%5C..%5Cescape",
]
JSON = (("Content-Type", "application/json"),)
ROUTES = [
    ("GET", "/flare/v1/functions/{}/logs", b""),
    ("GET", "/2015-03-31/functions/{}", b""),
    ("GET", "/2015-03-31/functions/{}/configuration", b""),
    ("PUT", "/2015-03-31/functions/{}/code", b'{"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}'),
    ("POST", "/2015-03-31/functions/{}/invocations", b"{}"),
    (
        "POST",
        "/2018-10-31/layers/{}/versions",
        b'{"Content": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}}',
    ),
    ("GET", "/2018-10-31/layers/{}/versions/1", b""),
    ("GET", "/2015-03-31/functions/{}/policy", b""),
    ("GET", "/2019-09-30/functions/{}/concurrency", b""),
]


def beside(data_dir: Path) -> list[str]:
    """What is in the data dir's parent besides the data dir."""
    return sorted(path.name for path in data_dir.parent.iterdir() if path != data_dir)


@pytest.mark.parametrize(("method", "template", "body"), ROUTES, ids=[route[1] for route in ROUTES])
def test_a_traversing_name_is_a_400_in_aws_shape(
    flare: FlareServer, method: str, template: str, body: bytes
) -> None:
    before = beside(flare.data_dir)
    for name in TRAVERSALS:
        request = RawRequest(method, template.format(name), JSON if body else (), body)
        reply = exchange(flare.url, signed_bytes(flare.url, request))
        answer = json.loads(reply.body)
        assert reply.status == 400, (name, reply.status, answer)
        assert reply.headers["x-amzn-errortype"] == "ValidationException", (name, answer)
        assert "message" in answer
    assert beside(flare.data_dir) == before


def test_log_group_and_stream_names_stay_inside_the_data_dir(flare: FlareServer) -> None:
    logs = flare.client("logs")
    before = beside(flare.data_dir)
    group, stream = "../../escape-group", "../../../escape-stream"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now, "message": "m"}]
    )
    events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    assert [event["message"] for event in events] == ["m"]
    assert beside(flare.data_dir) == before
    assert not list(flare.data_dir.parent.rglob("escape-*"))
