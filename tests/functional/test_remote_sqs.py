"""Event source mappings reading a queue that is not Flare's own: SQS through boto3, against
moto's server (``flare serve --sqs-endpoint URL``)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from click.testing import CliRunner

from flare.cli.main import main
from tests.conftest import FlareServer, free_port, launch
from tests.functional.test_event_sources import counts, drain, new_queue, reporter, unique, wait_state
from tests.signing import signed_urlopen

MOTO_SERVER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "moto_server"


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not MOTO_SERVER.exists():
        pytest.skip("moto_server not installed (pip install 'moto[server]')")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {log.read_text()}") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[FlareServer]:
    server = launch(tmp_path_factory.mktemp("remote-sqs"), "--sqs-endpoint", moto_url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remote(moto_url: str) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def remote_queue(remote: Any, **attributes: str) -> tuple[str, str]:
    url = remote.create_queue(QueueName=unique("remote"), Attributes=attributes)["QueueUrl"]
    arn = remote.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)


def mapping_counters(server: FlareServer, mapping_id: str) -> dict[str, Any]:
    with signed_urlopen(f"{server.url}/flare/v1/event-sources", timeout=5) as response:
        document = json.loads(response.read())
    return next(m for m in document["Mappings"] if m["UUID"] == mapping_id)


def wait_empty(remote: Any, url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while counts(remote, url) != (0, 0):
        assert time.monotonic() < deadline, f"remote queue not drained: {counts(remote, url)}"
        time.sleep(0.1)


def test_mapping_reads_a_remote_queue_invokes_with_sqs_records_and_deletes(
    server: FlareServer, remote: Any
) -> None:
    lam, sqs = server.client(), server.client("sqs")
    sink, _ = new_queue(sqs)
    source_url, source_arn = remote_queue(remote)
    assert ":123456789012:" in source_arn  # moto's account, not Flare's: not an embedded queue
    name = reporter(lam, sink)
    created = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn, BatchSize=10)
    wait_state(lam, created["UUID"], "Enabled")
    remote.send_message(
        QueueUrl=source_url,
        MessageBody="with-attributes",
        MessageAttributes={"colour": {"DataType": "String", "StringValue": "blue"}},
    )
    for start in range(0, 20, 10):
        entries = [{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)]
        assert not remote.send_message_batch(QueueUrl=source_url, Entries=entries).get("Failed")

    found = drain(sqs, sink, 1)
    while sum(len(f["bodies"]) for f in found) < 21:
        found += drain(sqs, sink, 1)
    bodies = [body for f in found for body in f["bodies"]]
    assert sorted(bodies) == sorted(["with-attributes", *(f"m{i}" for i in range(20))])
    records = [r for f in found for r in f["event"]["Records"]]
    assert all(len(f["event"]["Records"]) <= 10 for f in found)
    assert {r["eventSourceARN"] for r in records} == {source_arn}
    assert {r["eventSource"] for r in records} == {"aws:sqs"}
    tagged = next(r for r in records if r["body"] == "with-attributes")
    assert tagged["messageAttributes"]["colour"]["stringValue"] == "blue"
    assert tagged["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(tagged["attributes"]["SentTimestamp"]) > 0
    wait_empty(remote, source_url)
    counters = mapping_counters(server, created["UUID"])
    assert (counters["received"], counters["succeeded"], counters["failed"]) == (21, 21, 0)
    table = CliRunner().invoke(main, ["sources", "--endpoint-url", server.url])
    assert table.exit_code == 0, table.output
    row = next(line for line in table.output.splitlines() if source_arn.rsplit(":", 1)[1] in line)
    assert row.split()[:8] == ["sqs", source_arn.rsplit(":", 1)[1], name, "Enabled", "21", "21", "0", "0"]
    lam.delete_event_source_mapping(UUID=created["UUID"])


def test_failed_batch_on_a_remote_queue_comes_back_after_its_visibility_timeout(
    server: FlareServer, remote: Any
) -> None:
    lam, sqs = server.client(), server.client("sqs")
    sink, _ = new_queue(sqs)
    source_url, source_arn = remote_queue(remote, VisibilityTimeout="1")
    name = reporter(lam, sink)
    created = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn, BatchSize=1)
    wait_state(lam, created["UUID"], "Enabled")
    remote.send_message(QueueUrl=source_url, MessageBody="fail")

    found = drain(sqs, sink, 2)
    receives = [f["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"] for f in found[:2]]
    assert receives == ["1", "2"]
    counters = mapping_counters(server, created["UUID"])
    assert counters["failed"] >= 2 and counters["succeeded"] == 0
    assert counts(remote, source_url)[0] + counts(remote, source_url)[1] == 1  # still there, not deleted
    lam.delete_event_source_mapping(UUID=created["UUID"])
