"""Event source benchmark: end-to-end throughput SQS → function and Kinesis → function.

One ``flare serve``, its embedded queue and stream services, one function whose handler returns
at once (``{"ok": True}``), and for each source one event source mapping:

- **SQS → function**: BatchSize 10. ``N`` messages (default 2000) are sent with
  SendMessageBatch (10 a call, one client thread) to the queue; the clock runs from the first
  send until ApproximateNumberOfMessages + ApproximateNumberOfMessagesNotVisible is 0, i.e.
  every message was invoked and deleted.
- **Kinesis → function**: 2 shards, BatchSize 100, StartingPosition TRIM_HORIZON. ``N`` records
  (random partition keys) are put with PutRecords (500 a call); the clock runs from the first
  put until the mapping's ``succeeded`` counter at ``GET /flare/v1/event-sources`` reaches
  ``N`` more than before.

Before each timed run a small warm-up batch goes through the same mapping, so the function's
first environment (its cold start) and the pollers' start-up are not in the figure.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import harness, measure

FUNCTION = "bench-events"
WARMUP = 20
POLL_S = 0.01
TIMEOUT_S = 180.0
SQS_BATCH_SIZE = 10
KINESIS_BATCH_SIZE = 100
KINESIS_SHARDS = 2
PUT_RECORDS_MAX = 500


@dataclass
class Run:
    """One source's timed run: ``count`` items, ``send_s`` to hand them all over, ``total_s`` to
    see them all handled; the mapping's counters afterwards."""

    source: str
    count: int = 0
    send_s: float = 0.0
    total_s: float = 0.0
    counters: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.total_s if self.total_s else 0.0


@dataclass
class EventsResult:
    runs: list[Run] = field(default_factory=list)
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error) or any(r.error for r in self.runs)


def _client(service: str, url: str) -> Any:
    import boto3
    from botocore.config import Config

    make: Callable[..., Any] = boto3.client  # the service is a name, not a literal
    return make(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )


def _wait(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout:.0f} s")
        time.sleep(POLL_S)


def mapping_counters(url: str, mapping_id: str) -> dict[str, Any]:
    """The counters of mapping ``mapping_id`` from ``GET /flare/v1/event-sources``."""
    from flare.cli.client import signed  # Flare's routes take signed requests only

    call = signed(urllib.request.Request(f"{url}/flare/v1/event-sources"))
    with urllib.request.urlopen(call, timeout=10) as response:
        document = json.loads(response.read())
    for item in document["Mappings"]:
        if item["UUID"] == mapping_id:
            return dict(item)
    raise KeyError(f"mapping {mapping_id} not in /flare/v1/event-sources")


def _enabled(lam: Any, mapping_id: str) -> None:
    _wait(lambda: lam.get_event_source_mapping(UUID=mapping_id)["State"] == "Enabled", "mapping Enabled", 30)


def _queue_empty(sqs: Any, queue_url: str) -> bool:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(found[name]) for name in names) == 0


def _send(sqs: Any, queue_url: str, first: int, count: int) -> None:
    for start in range(first, first + count, 10):
        entries = [
            {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, min(start + 10, first + count))
        ]
        reply = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if reply.get("Failed"):
            raise RuntimeError(f"SendMessageBatch failed: {reply['Failed'][:1]}")


def measure_sqs(url: str, lam: Any, count: int) -> Run:
    """SQS → function: see the module docstring."""
    run = Run("SQS → function")
    sqs = _client("sqs", url)
    queue_url = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping_id = lam.create_event_source_mapping(
        FunctionName=FUNCTION, EventSourceArn=arn, BatchSize=SQS_BATCH_SIZE
    )["UUID"]
    _enabled(lam, mapping_id)
    _send(sqs, queue_url, 0, WARMUP)
    _wait(lambda: _queue_empty(sqs, queue_url), "SQS warm-up")
    started = time.perf_counter()
    _send(sqs, queue_url, WARMUP, count)
    run.send_s = time.perf_counter() - started
    _wait(lambda: _queue_empty(sqs, queue_url), f"SQS: {count} messages")
    run.total_s = time.perf_counter() - started
    run.count = count
    run.counters = mapping_counters(url, mapping_id)
    lam.delete_event_source_mapping(UUID=mapping_id)
    return run


def _put(kinesis: Any, stream_arn: str, first: int, count: int) -> None:
    for start in range(first, first + count, PUT_RECORDS_MAX):
        records = [
            {"Data": f"r{i}".encode(), "PartitionKey": uuid.uuid4().hex}
            for i in range(start, min(start + PUT_RECORDS_MAX, first + count))
        ]
        reply = kinesis.put_records(StreamARN=stream_arn, Records=records)
        if reply.get("FailedRecordCount"):
            raise RuntimeError(f"PutRecords: {reply['FailedRecordCount']} records failed")


def measure_kinesis(url: str, lam: Any, count: int) -> Run:
    """Kinesis → function: see the module docstring."""
    run = Run("Kinesis → function")
    kinesis = _client("kinesis", url)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=KINESIS_SHARDS)

    def active() -> bool:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return bool(summary["StreamStatus"] == "ACTIVE")

    _wait(active, "stream ACTIVE", 30)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    mapping_id = lam.create_event_source_mapping(
        FunctionName=FUNCTION,
        EventSourceArn=arn,
        BatchSize=KINESIS_BATCH_SIZE,
        StartingPosition="TRIM_HORIZON",
    )["UUID"]
    _enabled(lam, mapping_id)

    def succeeded() -> int:
        return int(mapping_counters(url, mapping_id)["succeeded"])

    _put(kinesis, arn, 0, WARMUP)
    _wait(lambda: succeeded() >= WARMUP, "Kinesis warm-up")
    before = succeeded()
    started = time.perf_counter()
    _put(kinesis, arn, WARMUP, count)
    run.send_s = time.perf_counter() - started
    _wait(lambda: succeeded() >= before + count, f"Kinesis: {count} records")
    run.total_s = time.perf_counter() - started
    run.count = count
    run.counters = mapping_counters(url, mapping_id)
    lam.delete_event_source_mapping(UUID=mapping_id)
    return run


def run(quick: bool, progress: Callable[[str], None]) -> EventsResult:
    """Start one server, deploy the function, time SQS → function then Kinesis → function."""
    count = 500 if quick else 2000
    result = EventsResult()
    with tempfile.TemporaryDirectory(prefix="flare-bench-events-") as tmp:
        try:
            with harness.flare_server(Path(tmp) / "data", Path(tmp) / "flare.log") as server:
                lam = harness.lambda_client(server.url)
                harness.deploy(lam, FUNCTION)
                for label, measure_one in (("sqs", measure_sqs), ("kinesis", measure_kinesis)):
                    progress(f"events: {label} → function ({count} items)")
                    try:
                        result.runs.append(measure_one(server.url, lam, count))
                    except Exception as error:
                        result.runs.append(Run(label, error=f"{type(error).__name__}: {error}"))
                        progress(f"events: {label} not measured: {error}\n{server.log_tail()}")
        except (harness.ServerError, OSError, measure.InvokeError) as error:
            result.error = repr(error)
    return result


def render(result: EventsResult) -> str:
    lines = [
        "",
        "### Event sources: end-to-end throughput (embedded SQS and Kinesis → function)",
        "",
        "| source | items | send time (s) | end-to-end (s) | items/s | received | succeeded "
        "| failed | retried |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result.runs:
        if r.error:
            lines.append(f"| {r.source} | not measured: {r.error[:160]} ||||||||")
            continue
        c = r.counters
        lines.append(
            f"| {r.source} | {r.count} | {r.send_s:.2f} | {r.total_s:.2f} | {r.rate:.0f} "
            f"| {c.get('received', '-')} | {c.get('succeeded', '-')} | {c.get('failed', '-')} "
            f"| {c.get('retried', '-')} |"
        )
    if result.error:
        lines.append(f"\nnot measured: {result.error}")
    lines.append(
        f"\nSQS: SendMessageBatch (10 a call, one thread), mapping BatchSize {SQS_BATCH_SIZE}; end = "
        "queue empty (visible + in flight = 0). Kinesis: PutRecords (500 a call, random partition "
        f"keys) over {KINESIS_SHARDS} shards, BatchSize {KINESIS_BATCH_SIZE}, TRIM_HORIZON; end = the "
        "mapping's `succeeded` counter at `/flare/v1/event-sources` up by the item count. Both "
        f"clocks start at the first send and include it; {WARMUP} warm-up items went through each "
        'mapping first (counted in received/succeeded). Handler: returns `{"ok": true}`, 128 MB.'
    )
    return "\n".join(lines) + "\n"
